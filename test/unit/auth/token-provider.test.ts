/**
 * Where msal-node (used for real) sends the credentials: only to the authority. A hostile authority
 * (the simulator naming another token endpoint in its OpenID metadata) is refused before anything
 * is sent; Microsoft's clouds are never asked for metadata at all.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, type TestContext, test } from "node:test";
import { Agent, buildConnector, type Dispatcher } from "undici";
import { MsalTokenSource } from "../../../src/auth/token-provider.js";
import { MICROSOFT_AUTHORITY_HOSTS } from "../../../src/config/clouds.js";
import { ErrorCode, isFinal, isPstnError } from "../../../src/errors.js";
import { Metrics } from "../../../src/metrics/index.js";
import {
  type ClientCertificate,
  type GraphSimulator,
  generateClientCertificate,
  type SimulatorOptions,
  startGraphSimulator,
} from "../../../tools/simulator/index.js";

const SECRET = "Xy7Q~planted-client-secret-4711";
const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
const DATA = { dataStart: new Date("2024-03-01T00:00:00Z"), callsPerHour: 1 };

let client: ClientCertificate;
let clientPemPath: string;
before(async () => {
  client = await generateClientCertificate();
  const dir = mkdtempSync(join(tmpdir(), "pstn-auth-"));
  clientPemPath = join(dir, "client.pem");
  writeFileSync(clientPemPath, `${client.certificatePem}\n${client.privateKeyPem}`);
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
});

interface Received {
  method: string;
  url: string;
  body: string;
}

/** An http server that answers 200 to everything and keeps every request it gets, body included. */
async function recorder(t: TestContext): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ method: req.method ?? "", url: req.url ?? "", body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"token_type":"Bearer","expires_in":3600,"access_token":"stolen"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

async function simulator(t: TestContext, options: Partial<SimulatorOptions> = {}): Promise<GraphSimulator> {
  const sim = await startGraphSimulator({ ...DATA, clientSecret: SECRET, ...options });
  t.after(() => sim.close());
  return sim;
}

function agentFor(t: TestContext, sim: GraphSimulator): Agent {
  const agent = new Agent({ connect: { ca: sim.caCertificatePem } });
  t.after(() => agent.close());
  return agent;
}

function source(
  sim: GraphSimulator,
  dispatcher: Dispatcher,
  metrics: Metrics,
  credential: { clientSecret: string } | { clientCertificatePath: string } = { clientSecret: SECRET },
  authorityHost = sim.url,
): MsalTokenSource {
  return new MsalTokenSource({
    tenantId: sim.tenantId,
    clientId: sim.clientId,
    ...credential,
    authorityHost,
    scope: GRAPH_SCOPE,
    dispatcher,
    timeoutMs: 5_000,
    metrics,
  });
}

async function outcomes(metrics: Metrics): Promise<Record<string, number>> {
  const values = (await metrics.tokenRequests.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => assert.fail("expected the token request to be refused"),
    (e: unknown) => e,
  );
  assert.ok(isPstnError(error, ErrorCode.AUTH_ENDPOINT_REFUSED), `got ${String(error)}`);
  assert.equal(error.retriable, false);
  assert.ok(!error.message.includes(SECRET), "the message never holds the secret");
  assert.ok(isFinal(error), "the connector stops instead of asking again");
  return error;
}

test("the simulator as the authority: the secret goes to its token endpoint (control)", async (t) => {
  const sim = await simulator(t);
  const metrics = new Metrics({ defaultMetrics: false });
  const token = await source(sim, agentFor(t, sim), metrics).getToken();
  assert.ok(token.length > 20);
  assert.equal(sim.stats().tokenRequests, 1);
  assert.deepEqual(await outcomes(metrics), { issued: 1 });
});

test("a tenant the authority does not know (AADSTS90002 at discovery): final, saying so, the secret never in it", async (t) => {
  const sim = await simulator(t);
  const metrics = new Metrics({ defaultMetrics: false });
  const tokens = new MsalTokenSource({
    tenantId: "gone.example.com",
    clientId: sim.clientId,
    clientSecret: SECRET,
    authorityHost: sim.url,
    scope: GRAPH_SCOPE,
    dispatcher: agentFor(t, sim),
    timeoutMs: 5_000,
    metrics,
    metricsTenant: "gone.example.com",
  });
  const error = await tokens.getToken().then(
    () => assert.fail("expected the token request to fail"),
    (e: unknown) => e,
  );
  assert.ok(isPstnError(error, ErrorCode.AUTH_FAILED), `got ${String(error)}`);
  assert.ok(isFinal(error), "a tenant that does not exist is not asked again");
  assert.match(error.message, /does not know the tenant: AADSTS90002: Tenant 'gone\.example\.com' not found/);
  assert.ok(!error.message.includes(SECRET));
  const values = (await metrics.tokenRequests.get()).values;
  assert.deepEqual(
    values.map((v) => [v.labels.tenant, v.labels.outcome, v.value]),
    [["gone.example.com", "error", 1]],
  );
});

test("metadata naming an http token endpoint on another port: refused, nothing reaches it", async (t) => {
  const steal = await recorder(t);
  const sim = await simulator(t, { metadataTokenEndpoint: `${steal.url}/steal?x=1` });
  const metrics = new Metrics({ defaultMetrics: false });
  const error = await refusal(source(sim, agentFor(t, sim), metrics).getToken());
  assert.match(error.message, new RegExp(`POST request to ${steal.url}/steal: it is not https`));
  assert.deepEqual(steal.received, [], "the foreign endpoint received no request at all");
  assert.equal(sim.stats().tokenRequests, 0);
  assert.deepEqual(await outcomes(metrics), { refused: 1 });
});

test("metadata naming an https endpoint on another port or another host name: refused", async (t) => {
  const sim = await simulator(t);
  // Another simulator plays the other https host: its stats count the token requests it gets.
  const thief = await simulator(t);
  for (const endpoint of [
    `${thief.url}/${thief.tenantId}/oauth2/v2.0/token`,
    `${sim.url.replace("127.0.0.1", "localhost")}/${sim.tenantId}/oauth2/v2.0/token`,
  ]) {
    const hostile = await simulator(t, { metadataTokenEndpoint: endpoint });
    const metrics = new Metrics({ defaultMetrics: false });
    await refusal(source(hostile, agentFor(t, hostile), metrics).getToken());
    assert.deepEqual(await outcomes(metrics), { refused: 1 }, endpoint);
  }
  assert.equal(thief.stats().tokenRequests, 0, "the other https host got no token request");
  assert.equal(sim.stats().tokenRequests, 0, "nor did the same port under another name");
});

test("a certificate credential follows the same rule: its assertion is not sent off the host", async (t) => {
  const steal = await recorder(t);
  const sim = await simulator(t, {
    clientSecret: undefined,
    clientCertificatePem: client.certificatePem,
    metadataTokenEndpoint: `${steal.url}/steal`,
  });
  const metrics = new Metrics({ defaultMetrics: false });
  await refusal(source(sim, agentFor(t, sim), metrics, { clientCertificatePath: clientPemPath }).getToken());
  assert.deepEqual(steal.received, []);
  assert.deepEqual(await outcomes(metrics), { refused: 1 });

  const honest = await simulator(t, { clientSecret: undefined, clientCertificatePem: client.certificatePem });
  const ok = new Metrics({ defaultMetrics: false });
  await source(honest, agentFor(t, honest), ok, { clientCertificatePath: clientPemPath }).getToken();
  assert.deepEqual(await outcomes(ok), { issued: 1 }, "control: the same certificate works on its host");
});

/**
 * A dispatcher that records every request (method and URL as msal addressed it) and connects
 * whatever host was asked for to the local simulator, which holds a certificate for that host.
 */
function recordingDispatcher(
  t: TestContext,
  sim: GraphSimulator,
  host: string,
): { dispatcher: Dispatcher; seen: string[] } {
  const connect = buildConnector({ ca: sim.caCertificatePem });
  const agent = new Agent({
    connect: (options, callback) =>
      connect(
        {
          ...options,
          hostname: "127.0.0.1",
          host: `127.0.0.1:${sim.port}`,
          port: String(sim.port),
          servername: host,
        },
        callback,
      ),
  });
  t.after(() => agent.close());
  const seen: string[] = [];
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    seen.push(`${options.method} ${String(options.origin)}${options.path}`);
    return dispatch(options, handler);
  });
  return { dispatcher, seen };
}

for (const host of MICROSOFT_AUTHORITY_HOSTS) {
  test(`${host}: no discovery, one POST to https://${host}/<tenant>/oauth2/v2.0/token`, async (t) => {
    const sim = await startGraphSimulator({
      ...DATA,
      clientSecret: SECRET,
      publicUrl: `https://${host}`,
    });
    t.after(() => sim.close());
    const { dispatcher, seen } = recordingDispatcher(t, sim, host);
    const metrics = new Metrics({ defaultMetrics: false });
    const tokens = source(sim, dispatcher, metrics, { clientSecret: SECRET }, `https://${host}`);
    assert.ok((await tokens.getToken()).length > 20);
    assert.equal(seen.length, 1, seen.join("\n"));
    assert.match(
      seen[0] ?? "",
      new RegExp(`^POST https://${host.replace(/\./g, "\\.")}/${sim.tenantId}/oauth2/v2\\.0/token(\\?|$)`),
    );
    assert.deepEqual(await outcomes(metrics), { issued: 1 }, "nothing refused: msal asked for nothing else");
  });
}

test("a pinned cloud with a certificate: the assertion goes to the fixed token endpoint only", async (t) => {
  const host = "login.microsoftonline.com";
  const sim = await startGraphSimulator({
    ...DATA,
    clientCertificatePem: client.certificatePem,
    publicUrl: `https://${host}`,
  });
  t.after(() => sim.close());
  const { dispatcher, seen } = recordingDispatcher(t, sim, host);
  const metrics = new Metrics({ defaultMetrics: false });
  const tokens = source(
    sim,
    dispatcher,
    metrics,
    { clientCertificatePath: clientPemPath },
    `https://${host}`,
  );
  assert.ok((await tokens.getToken()).length > 20);
  assert.deepEqual(
    seen.map((line) => line.split("?")[0]),
    [`POST https://${host}/${sim.tenantId}/oauth2/v2.0/token`],
  );
});
