/** The authority's network module on its own, against real HTTPS servers on port 0. */
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { before, type TestContext, test } from "node:test";
import { Agent } from "undici";
import { AuthorityNetworkModule } from "../../../src/auth/network.js";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import { generateServerCertificate, type ServerCertificate } from "../../../tools/simulator/certificates.js";

const SECRET = "client_secret=Xy7Q~planted-secret-0815";
let tls: ServerCertificate;
before(async () => {
  tls = await generateServerCertificate();
});

interface Served {
  origin: string;
  requests: string[];
}

/** An https (or http) server on 127.0.0.1 answering each request with `reply`. */
async function serve(
  t: TestContext,
  reply: (res: import("node:http").ServerResponse) => void,
  secure = true,
): Promise<Served> {
  const requests: string[] = [];
  const handler = (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      reply(res);
    });
  };
  const server: Server | import("node:http").Server = secure
    ? createServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { origin: `${secure ? "https" : "http"}://127.0.0.1:${port}`, requests };
}

function module(
  t: TestContext,
  origin: string,
  extra: { tokenEndpoint?: string; maxResponseBytes?: number } = {},
) {
  const dispatcher = new Agent({ connect: { ca: tls.certificatePem } });
  t.after(() => dispatcher.close());
  return new AuthorityNetworkModule({ dispatcher, timeoutMs: 5_000, origin, ...extra });
}

const json = (res: import("node:http").ServerResponse) =>
  res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<string> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(isPstnError(error, code), `got ${String(error)}`);
  assert.equal(error.retriable, false);
  assert.ok(!error.message.includes("planted-secret"), "no request body in the message");
  return error.message;
}

test("only https on exactly the authority's host and port is sent to", async (t) => {
  const authority = await serve(t, json);
  const otherPort = await serve(t, json);
  const plain = await serve(t, json, false);
  const network = module(t, authority.origin);
  const port = new URL(authority.origin).port;

  const ok = await network.sendPostRequestAsync<{ ok: boolean }>(
    `${authority.origin}/t/oauth2/v2.0/token?x=1`,
    {
      body: SECRET,
    },
  );
  assert.deepEqual(ok.body, { ok: true });
  assert.equal(network.takeFailure(), undefined);

  for (const url of [
    `${plain.origin}/steal`,
    `http://127.0.0.1:${port}/t/oauth2/v2.0/token`,
    `${otherPort.origin}/t/oauth2/v2.0/token`,
    `https://localhost:${port}/t/oauth2/v2.0/token`,
    `https://user:pw@127.0.0.1:${port}/t/oauth2/v2.0/token`,
    "not a url",
  ]) {
    const message = await expectCode(
      network.sendPostRequestAsync(url, { body: SECRET }),
      ErrorCode.AUTH_ENDPOINT_REFUSED,
    );
    assert.doesNotMatch(message, /pw@|\?/, "the URL is shown without user info or query");
    assert.ok(
      isPstnError(network.takeFailure(), ErrorCode.AUTH_ENDPOINT_REFUSED),
      "kept for the token source",
    );
  }
  await expectCode(network.sendGetRequestAsync(`${plain.origin}/x`), ErrorCode.AUTH_ENDPOINT_REFUSED);
  assert.deepEqual(otherPort.requests, []);
  assert.deepEqual(plain.requests, []);
  assert.equal(authority.requests.length, 1);
});

test("a pinned cloud: the POST to its token endpoint and nothing else", async (t) => {
  const authority = await serve(t, json);
  const tokenEndpoint = `${authority.origin}/tenant/oauth2/v2.0/token`;
  const network = module(t, authority.origin, { tokenEndpoint });
  await network.sendPostRequestAsync(`${tokenEndpoint}?client-request-id=1`, { body: SECRET });
  await expectCode(network.sendGetRequestAsync(tokenEndpoint), ErrorCode.AUTH_ENDPOINT_REFUSED);
  await expectCode(
    network.sendGetRequestAsync(`${authority.origin}/tenant/v2.0/.well-known/openid-configuration`),
    ErrorCode.AUTH_ENDPOINT_REFUSED,
  );
  await expectCode(
    network.sendPostRequestAsync(`${authority.origin}/other/oauth2/v2.0/token`, { body: SECRET }),
    ErrorCode.AUTH_ENDPOINT_REFUSED,
  );
  assert.equal(authority.requests.length, 1, "only the token POST arrived");
});

test("answers larger than the bound are cut off, announced or streamed", async (t) => {
  const big = Buffer.alloc(2 * 1024 * 1024, "a");
  const announced = await serve(t, (res) => res.writeHead(200, { "content-length": big.length }).end(big));
  const streamed = await serve(t, (res) => {
    res.writeHead(200, { "content-type": "application/json" });
    let sent = 0;
    const more = () => {
      while (sent < 64 && res.write(Buffer.alloc(64 * 1024, "b"))) sent++;
      if (sent < 64) res.once("drain", more);
      else res.end();
    };
    more();
  });
  const small = await serve(t, json);
  for (const origin of [announced.origin, streamed.origin]) {
    const network = module(t, origin);
    const message = await expectCode(
      network.sendPostRequestAsync(`${origin}/t/oauth2/v2.0/token`, { body: SECRET }),
      ErrorCode.AUTH_RESPONSE_TOO_LARGE,
    );
    assert.match(message, /larger than 1048576 bytes/);
    assert.ok(isPstnError(network.takeFailure(), ErrorCode.AUTH_RESPONSE_TOO_LARGE));
  }
  const bounded = module(t, small.origin, { maxResponseBytes: 4 });
  await expectCode(bounded.sendGetRequestAsync(`${small.origin}/meta`), ErrorCode.AUTH_RESPONSE_TOO_LARGE);
  const roomy = module(t, small.origin, { maxResponseBytes: 11 });
  assert.deepEqual(
    (await roomy.sendGetRequestAsync(`${small.origin}/meta`)).body,
    { ok: true },
    "at the bound: read",
  );
});
