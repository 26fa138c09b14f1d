import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { rootCertificates } from "node:tls";
import { Agent } from "undici";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import { type ClientCredentialsOptions, ClientCredentialsTokenSource } from "../../../src/kafka/oauth.js";
import { generateServerCertificate, type ServerCertificate } from "../../../tools/simulator/certificates.js";

interface Seen {
  path: string;
  authorization: string | undefined;
  form: URLSearchParams;
}

type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

let tls: ServerCertificate;
let dispatcher: Agent;
before(async () => {
  tls = await generateServerCertificate();
  dispatcher = new Agent({ connect: { ca: [...rootCertificates, tls.certificatePem] } });
});
after(() => dispatcher.close());

/** A real HTTPS token endpoint on port 0 that records each request. */
async function endpoint(handler: Handler): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = {
        path: req.url ?? "",
        authorization: req.headers.authorization,
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
      };
      seen.push(request);
      handler(req, res, request);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/token`;
  return { url, seen, server };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function source(url: string, extra: Partial<ClientCredentialsOptions> = {}): ClientCredentialsTokenSource {
  return new ClientCredentialsTokenSource({
    url,
    clientId: "kafka client/1",
    clientSecret: "s3cr:et+&=",
    scope: "kafka.produce kafka.read",
    authMethod: "client_secret_basic",
    dispatcher,
    timeoutMs: 5000,
    ...extra,
  });
}

async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isPstnError(error, ErrorCode.KAFKA_AUTH_FAILED), String(error));
    return error;
  }
  assert.fail("expected a failure");
}

test("client_secret_basic: the form-encoded id and secret in the header, never in the body", async (t) => {
  const server = await endpoint((_req, res) =>
    json(res, 200, { access_token: "tok-1", token_type: "Bearer", expires_in: 3600 }),
  );
  t.after(() => server.server.close());
  assert.equal(await source(server.url).getToken(), "tok-1");
  const [request] = server.seen;
  assert.equal(request?.form.get("grant_type"), "client_credentials");
  assert.equal(request?.form.get("scope"), "kafka.produce kafka.read");
  assert.equal(request?.form.get("client_secret"), null);
  const decoded = Buffer.from((request?.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
  assert.equal(decoded, "kafka+client%2F1:s3cr%3Aet%2B%26%3D");
});

test("client_secret_post: id and secret in the form", async (t) => {
  const server = await endpoint((_req, res) => json(res, 200, { access_token: "tok-2", expires_in: 60 }));
  t.after(() => server.server.close());
  await source(server.url, { authMethod: "client_secret_post" }).getToken();
  const [request] = server.seen;
  assert.equal(request?.authorization, undefined);
  assert.equal(request?.form.get("client_id"), "kafka client/1");
  assert.equal(request?.form.get("client_secret"), "s3cr:et+&=");
});

test("a token is reused until 80% of its life (at most 5 min before expiry), then fetched again; concurrent calls share one request", async (t) => {
  let n = 0;
  const server = await endpoint((_req, res) =>
    json(res, 200, { access_token: `tok-${++n}`, expires_in: 100 }),
  );
  t.after(() => server.server.close());
  let now = 1_000_000;
  const tokens = source(server.url, { now: () => now });
  const [a, b] = await Promise.all([tokens.getToken(), tokens.getToken()]);
  assert.equal(a, "tok-1");
  assert.equal(b, "tok-1");
  assert.equal(server.seen.length, 1);
  now += 79_000;
  assert.equal(await tokens.getToken(), "tok-1");
  now += 2_000;
  assert.equal(await tokens.getToken(), "tok-2");
  tokens.invalidate("tok-2");
  assert.equal(await tokens.getToken(), "tok-3");
  assert.equal(server.seen.length, 3);
});

test("a redirect is not followed: the secret goes to the configured URL only", async (t) => {
  const elsewhere = await endpoint((_req, res) => json(res, 200, { access_token: "stolen" }));
  t.after(() => elsewhere.server.close());
  const server = await endpoint((_req, res) => {
    res.writeHead(307, { location: elsewhere.url });
    res.end();
  });
  t.after(() => server.server.close());
  const error = await failure(source(server.url).getToken());
  assert.match((error as Error).message, /307.*redirects are not followed/);
  assert.equal(elsewhere.seen.length, 0);
});

test("an answer larger than the bound is refused, declared or streamed", async (t) => {
  const big = `{"access_token":"${"a".repeat(2 * 1024 * 1024)}"}`;
  const declared = await endpoint((_req, res) => json(res, 200, JSON.parse(big)));
  t.after(() => declared.server.close());
  assert.match(
    ((await failure(source(declared.url).getToken())) as Error).message,
    /more than 1048576 bytes/,
  );
  const streamed = await endpoint((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    const chunk = "a".repeat(64 * 1024);
    let sent = 0;
    const more = () => {
      while (sent < 40 && res.write(chunk)) sent++;
      if (sent < 40) res.once("drain", more);
      else res.end();
    };
    more();
  });
  t.after(() => streamed.server.close());
  assert.match(
    ((await failure(source(streamed.url, { maxResponseBytes: 100_000 }).getToken())) as Error).message,
    /more than 100000 bytes/,
  );
});

test("refusals: 401 invalid_client is final, 503 is retried, a token unfit for SASL or not Bearer is refused", async (t) => {
  const answers: Array<[number, unknown]> = [
    [401, { error: "invalid_client", error_description: "bad\nsecret" }],
    [503, { error: "temporarily_unavailable" }],
    [200, { access_token: "has space\u0001", token_type: "Bearer" }],
    [200, { access_token: "tok", token_type: "mac" }],
  ];
  const server = await endpoint((_req, res) => {
    const [status, body] = answers[server.seen.length - 1] ?? [500, {}];
    json(res, status, body);
  });
  t.after(() => server.server.close());
  const tokens = source(server.url);
  const refused = (await failure(tokens.getToken())) as Error & { retriable: boolean };
  assert.equal(refused.retriable, false);
  assert.match(refused.message, /HTTP 401 invalid_client\): bad secret/);
  assert.doesNotMatch(refused.message, /s3cr/, "never the secret");
  assert.equal(((await failure(tokens.getToken())) as { retriable: boolean }).retriable, true);
  assert.match(((await failure(tokens.getToken())) as Error).message, /without a usable access_token/);
  assert.match(((await failure(tokens.getToken())) as Error).message, /not Bearer/);
});

test("an http token endpoint is refused before anything is sent", () => {
  assert.throws(
    () => source("http://127.0.0.1:1/token"),
    (error: unknown) => isPstnError(error, ErrorCode.CONFIG_INVALID),
  );
});
