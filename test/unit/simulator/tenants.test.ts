/**
 * One simulator, many tenants (option `tenants`): each its own rows, token endpoint, budget,
 * faults and stats, Graph requests attributed by their token's tenant; an admin revoking consent,
 * a tenant deleted, and the main tenant's API as it was.
 */
import assert from "node:assert/strict";
import { createHash, sign, X509Certificate } from "node:crypto";
import { before, test } from "node:test";
import { ConfidentialClientApplication } from "@azure/msal-node";
import {
  type ClientCertificate,
  DEFAULT_TENANT_ID,
  generateClientCertificate,
  startGraphSimulator,
  tenantSeed,
} from "../../../tools/simulator/index.js";
import {
  call,
  functionUrl,
  graphGet,
  type Harness,
  harness,
  manualClock,
  networkModule,
  postForm,
  pstnUrl,
  type Reply,
  readAll,
  SECRET,
  token,
} from "./support.js";

const DATA = {
  seed: 7,
  dataStart: new Date("2024-03-01T00:00:00Z"),
  dataEnd: new Date("2024-03-02T00:00:00Z"),
  callsPerHour: 20,
};
const B = "tenant-b.example.com";
const C = "7d3c1f0e-91aa-4b2c-8e55-3f0d6a1b2c4d";
const T0 = Date.parse("2024-03-05T08:00:00Z");
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let client: ClientCertificate;
before(async () => {
  client = await generateClientCertificate();
});

function tokenUrlOf(h: Harness, tenant: string): string {
  return `${h.sim.url}/${tenant}/oauth2/v2.0/token`;
}

function requestToken(
  h: Harness,
  tenant: string,
  credentials: { clientId?: string; secret?: string } = {},
): Promise<Reply> {
  return postForm(h, tokenUrlOf(h, tenant), {
    grant_type: "client_credentials",
    client_id: credentials.clientId ?? h.sim.clientId,
    client_secret: credentials.secret ?? SECRET,
    scope: `${h.sim.url}/.default`,
  });
}

/** A token for `tenant` (the app's shared credentials unless given). */
async function tokenFor(
  h: Harness,
  tenant: string,
  credentials: { clientId?: string; secret?: string } = {},
): Promise<string> {
  const reply = await requestToken(h, tenant, credentials);
  assert.equal(reply.status, 200, `token for ${tenant}: ${reply.text}`);
  return reply.json().access_token as string;
}

function errorOf(body: Record<string, unknown>): {
  code: string;
  message: string;
  innerError: Record<string, string>;
} {
  return body.error as { code: string; message: string; innerError: Record<string, string> };
}

const ids = (rows: readonly { id?: unknown }[]): string[] => rows.map((row) => String(row.id));

test("two tenants get rows of their own, each a pure function of the top-level seed and the tenant id", async (t) => {
  const h = await harness(t, { ...DATA, tenants: [{ tenantId: B }, { tenantId: C, seed: DATA.seed }] });
  const main = h.sim.visibleRows();
  const b = h.sim.tenant(B).visibleRows();
  assert.ok(main.length > 300 && b.length > 300, `${main.length} and ${b.length} rows`);
  const mainIds = new Set(ids(main));
  assert.equal(ids(b).filter((id) => mainIds.has(id)).length, 0, "no row id in common");
  assert.notDeepEqual(
    main.slice(0, 5).map((row) => row.startDateTime),
    b.slice(0, 5).map((row) => row.startDateTime),
  );
  assert.notEqual(b[0]?.userPrincipalName, undefined);
  for (const stream of ["directRouting", "sms"] as const) {
    const own = new Set(ids(h.sim.streams[stream].visibleRows()));
    const other = ids(h.sim.tenant(B).streams[stream].visibleRows());
    assert.ok(other.length > 0, stream);
    assert.equal(other.filter((id) => own.has(id)).length, 0, `${stream}: no row id in common`);
  }
  assert.equal(h.sim.tenant(B).seed, tenantSeed(DATA.seed, B));
  assert.equal(h.sim.tenant(B.toUpperCase()).seed, h.sim.tenant(B).seed, "tenant ids are case-insensitive");
  assert.deepEqual(h.sim.tenant(C).visibleRows(), main, "the same seed gives the same rows");

  // The same options again give the same rows; another top-level seed gives the tenant others.
  const again = await startGraphSimulator({ ...DATA, tenants: [{ tenantId: B }] });
  const reseeded = await startGraphSimulator({ ...DATA, seed: 8, tenants: [{ tenantId: B }] });
  t.after(() => Promise.all([again.close(), reseeded.close()]));
  assert.deepEqual(again.tenant(B).visibleRows(), b);
  assert.notDeepEqual(ids(reseeded.tenant(B).visibleRows()).slice(0, 10), ids(b).slice(0, 10));
});

test("a tenant's own rates and data range; the knobs it leaves out are the top-level ones", async (t) => {
  const h = await harness(t, {
    ...DATA,
    tenants: [
      {
        tenantId: B,
        callsPerHour: 2,
        smsPerHour: 0,
        dataStart: new Date("2024-03-01T12:00:00Z"),
      },
      { tenantId: C },
    ],
  });
  const b = h.sim.tenant(B);
  const rows = b.visibleRows();
  assert.ok(rows.length > 5 && rows.length < 60, `${rows.length} rows at 2 an hour for 12 h`);
  assert.ok(rows.every((row) => row.startDateTime >= "2024-03-01T12:00:00"));
  assert.equal(b.streams.sms.visibleRows().length, 0);
  assert.ok(b.streams.directRouting.visibleRows().length < 30, "Direct Routing at a quarter of 2 an hour");
  const c = h.sim.tenant(C).visibleRows();
  assert.ok(c.length > 300, `${c.length}: the top-level rate`);
  assert.ok(
    c.every((row) => row.startDateTime < "2024-03-02T00:00:00.0000001"),
    "and its dataEnd",
  );
});

test("a token of tenant A reads A's rows only, on every function; the requests count in A's stats", async (t) => {
  const h = await harness(t, { ...DATA, tenants: [{ tenantId: B }] });
  const mainBearer = await token(h);
  const bBearer = await tokenFor(h, B);
  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-02");
  const fromMain = await readAll(h, url, mainBearer);
  const fromB = await readAll(h, url, bBearer);
  assert.deepEqual(ids(fromMain.rows), ids(h.sim.visibleRows()));
  assert.deepEqual(ids(fromB.rows), ids(h.sim.tenant(B).visibleRows()));
  assert.notDeepEqual(ids(fromB.rows), ids(fromMain.rows));
  for (const [name, stream] of [
    ["getDirectRoutingCalls", "directRouting"],
    ["getSmsLog", "sms"],
  ] as const) {
    const pass = await readAll(h, functionUrl(h.sim, name, "2024-03-01", "2024-03-02"), bBearer);
    assert.deepEqual(ids(pass.rows), ids(h.sim.tenant(B).streams[stream].visibleRows()), name);
  }
  const mainStats = h.sim.stats();
  const bStats = h.sim.tenant(B).stats();
  assert.equal(mainStats.graphRequests, fromMain.pages.length);
  assert.equal(mainStats.rowsServed, fromMain.rows.length);
  assert.equal(bStats.graphRequests, fromB.pages.length + 2);
  assert.equal(mainStats.tokensIssued, 1);
  assert.equal(bStats.tokensIssued, 1);
  assert.equal(bStats.tokenRequests, 1);
  const total = h.sim.totalStats();
  assert.equal(total.graphRequests, mainStats.graphRequests + bStats.graphRequests);
  assert.equal(total.byStatus["200"], total.graphRequests);
  assert.equal(total.rowsServed, mainStats.rowsServed + bStats.rowsServed);

  // The ground-truth endpoints take ?tenant=.
  const visible = await call(h, `${h.sim.url}/_sim/visible?tenant=${B}`);
  assert.deepEqual(ids(visible.json() as unknown as { id: string }[]), ids(h.sim.tenant(B).visibleRows()));
  const stats = await call(h, `${h.sim.url}/_sim/stats?tenant=${B}`);
  assert.equal(stats.json().graphRequests, bStats.graphRequests);
  assert.equal((await call(h, `${h.sim.url}/_sim/stats`)).json().graphRequests, mainStats.graphRequests);
  assert.equal((await call(h, `${h.sim.url}/_sim/stats?tenant=nowhere`)).status, 404);
});

test("credentials: a multi-tenant app is accepted in every tenant that leaves them out; a tenant's own app only in it", async (t) => {
  const h = await harness(t, {
    ...DATA,
    tenants: [{ tenantId: B }, { tenantId: C, clientId: "c-app-0001", clientSecret: "c-secret" }],
  });
  assert.equal((await requestToken(h, B)).status, 200, "the shared app in B");
  assert.equal((await requestToken(h, B.toUpperCase())).status, 200, "any case");
  const shared = await requestToken(h, C);
  assert.equal(shared.status, 400, "the main app is not registered in C");
  assert.equal(shared.json().error, "unauthorized_client");
  assert.match(String(shared.json().error_description), new RegExp(`^AADSTS700016: .*'${C}'`));
  const own = await requestToken(h, C, { clientId: "c-app-0001", secret: "c-secret" });
  assert.equal(own.status, 200, own.text);
  const wrongSecret = await requestToken(h, C, { clientId: "c-app-0001", secret: SECRET });
  assert.equal(wrongSecret.status, 401);
  assert.equal(wrongSecret.json().error, "invalid_client");
  const elsewhere = await requestToken(h, h.sim.tenantId, { clientId: "c-app-0001", secret: "c-secret" });
  assert.equal(elsewhere.status, 400, "C's app is not registered in the main tenant");
  assert.equal(h.sim.tenant(C).clientId, "c-app-0001");
  assert.equal(h.sim.tenant(B).clientId, h.sim.clientId);
  const bearer = own.json().access_token as string;
  const page = await graphGet(h, pstnUrl(h.sim, "2024-03-01", "2024-03-01T06:00:00Z"), bearer);
  assert.equal(page.status, 200);
  assert.deepEqual(
    ids(page.json().value as { id: string }[]),
    ids(h.sim.tenant(C).visibleRows(undefined, new Date("2024-03-01T06:00:00Z"))),
  );
});

test("the budget is per tenant (and app): A exhausting it leaves B unthrottled", async (t) => {
  const clock = manualClock(T0);
  const h = await harness(t, {
    ...DATA,
    now: clock.now,
    faults: { budget: { requests: 3, perMs: 60_000 } },
    tenants: [{ tenantId: B }, { tenantId: C, faults: { budget: { requests: 1, perMs: 60_000 } } }],
  });
  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-01T01:00:00Z");
  const main = await token(h);
  const b = await tokenFor(h, B);
  const c = await tokenFor(h, C);
  const statuses = async (bearer: string, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await graphGet(h, url, bearer)).status);
    return out;
  };
  assert.deepEqual(await statuses(main, 4), [200, 200, 200, 429], "the main tenant exhausts its budget");
  const over = await graphGet(h, url, main);
  assert.equal(over.status, 429);
  assert.equal(over.headers["retry-after"], "60");
  assert.deepEqual(await statuses(b, 4), [200, 200, 200, 429], "B, the same app, has a budget of its own");
  assert.deepEqual(await statuses(c, 2), [200, 429], "C's own budget");
  assert.equal(h.sim.stats().throttled, 2);
  assert.equal(h.sim.tenant(B).stats().throttled, 1);
  assert.equal(h.sim.tenant(C).stats().throttled, 1);
  assert.equal(h.sim.totalStats().throttled, 4);
  clock.advance(60_000);
  assert.deepEqual(await statuses(main, 1), [200], "a window later");

  // Top-level setFaults: the main tenant and the tenants without faults of their own.
  h.sim.setFaults({});
  assert.deepEqual(await statuses(b, 5), [200, 200, 200, 200, 200], "B followed the top-level faults");
  assert.deepEqual(await statuses(c, 2), [200, 429], "C kept its own budget (of one, its window past)");
  h.sim.tenant(C).setFaults({ serverErrorRate: 1 });
  const storm = await graphGet(h, url, c);
  assert.equal(storm.status, 500);
  assert.equal(errorOf(storm.json()).code, "InternalServerError");
  assert.equal((await graphGet(h, url, main)).status, 200, "a storm in C only");
});

test("revokeConsent: Graph answers that tenant 403 Forbidden, Entra still issues tokens; others unaffected", async (t) => {
  const h = await harness(t, { ...DATA, tenants: [{ tenantId: B }] });
  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-01T06:00:00Z");
  const main = await token(h);
  const before = await tokenFor(h, B);
  assert.equal((await graphGet(h, url, before)).status, 200);
  h.sim.tenant(B).revokeConsent();
  assert.equal(h.sim.tenant(B).consentRevoked, true);
  const refused = await graphGet(h, url, before);
  assert.equal(refused.status, 403);
  const error = errorOf(refused.json());
  assert.equal(error.code, "Forbidden");
  assert.match(error.message, /^Missing application roles\. API required roles: CallRecords\.Read\.All\./);
  assert.doesNotMatch(error.message, /Application roles: CallRecords/);
  assert.ok(error.innerError["request-id"] && error.innerError["client-request-id"] && error.innerError.date);
  const after = await tokenFor(h, B);
  assert.equal((await graphGet(h, url, after)).status, 403, "a token issued after the revocation too");
  assert.equal(
    (await graphGet(h, functionUrl(h.sim, "getSmsLog", "2024-03-01", "2024-03-02"), after)).status,
    403,
  );
  assert.equal((await graphGet(h, url, main)).status, 200, "the main tenant is still read");
  assert.deepEqual(h.sim.tenant(B).stats().byStatus, { "200": 1, "403": 3 });
  assert.deepEqual(h.sim.stats().byStatus, { "200": 1 });
  h.sim.tenant(B).restoreConsent();
  assert.equal((await graphGet(h, url, before)).status, 200, "consent granted again");
});

test("an unknown tenant, and a deleted one: the token endpoint and metadata answer as Entra does for a tenant that does not exist", async (t) => {
  const h = await harness(t, { ...DATA, tenants: [{ tenantId: B }, { tenantId: C }] });
  const assertNotFound = (reply: Reply, tenant: string) => {
    assert.equal(reply.status, 400, reply.text);
    const body = reply.json();
    assert.equal(body.error, "invalid_request");
    assert.deepEqual(body.error_codes, [90002]);
    assert.match(String(body.error_description), new RegExp(`^AADSTS90002: Tenant '${tenant}' not found\\.`));
    assert.ok(body.trace_id && body.correlation_id && body.timestamp);
  };
  assertNotFound(await requestToken(h, "nowhere.example.com"), "nowhere.example.com");
  assert.equal(h.sim.stats().tokenRequests, 1, "counted in the main tenant's stats");

  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-01T06:00:00Z");
  const bBearer = await tokenFor(h, B);
  const cBearer = await tokenFor(h, C);
  const mainBearer = await token(h);
  assert.equal((await graphGet(h, url, bBearer)).status, 200);
  assert.deepEqual(h.sim.tenants(), [DEFAULT_TENANT_ID, B, C]);

  h.sim.tenant(B).remove();
  assert.equal(h.sim.tenant(B).removed, true);
  assertNotFound(await requestToken(h, B), B);
  assertNotFound(await call(h, `${h.sim.url}/${B}/v2.0/.well-known/openid-configuration`), B);
  const gone = await graphGet(h, url, bBearer);
  assert.equal(gone.status, 401, "its tokens are no longer valid");
  assert.equal(errorOf(gone.json()).code, "InvalidAuthenticationToken");
  assert.match(String(gone.headers["www-authenticate"]), /^Bearer /);
  assert.deepEqual(h.sim.tenants(), [DEFAULT_TENANT_ID, C]);
  assert.equal((await graphGet(h, url, cBearer)).status, 200, "the other tenants go on");
  assert.equal((await graphGet(h, url, mainBearer)).status, 200);
  assert.deepEqual(h.sim.tenant(B).stats().byStatus, { "200": 1, "401": 1 });
  assert.ok(h.sim.tenant(B).visibleRows().length > 0, "its ground truth stays readable");
  assert.throws(() => h.sim.tenant("nowhere.example.com"), RangeError);

  // Onboarded again: a tenant of its own, the old tokens still invalid.
  const again = h.sim.addTenant({ tenantId: B });
  assert.deepEqual(h.sim.tenants(), [DEFAULT_TENANT_ID, C, B]);
  assert.equal((await graphGet(h, url, bBearer)).status, 401);
  assert.equal((await graphGet(h, url, await tokenFor(h, B))).status, 200);
  assert.deepEqual(again.stats().byStatus, { "200": 1, "401": 1 }, "requests are told by tenant id");
  assert.throws(() => h.sim.addTenant({ tenantId: C }), /served already/);
});

test("revoking tokens: per tenant (its own and by revokeTokensEveryRequests), or all of them", async (t) => {
  const h = await harness(t, {
    ...DATA,
    tenants: [{ tenantId: B }, { tenantId: C, faults: { revokeTokensEveryRequests: 2 } }],
  });
  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-01T06:00:00Z");
  const main = await token(h);
  const b = await tokenFor(h, B);
  const c = await tokenFor(h, C);
  h.sim.tenant(B).revokeTokens();
  assert.equal((await graphGet(h, url, b)).status, 401);
  assert.equal((await graphGet(h, url, main)).status, 200, "the main tenant's token stays valid");
  assert.equal((await graphGet(h, url, c)).status, 200, "C's first request");
  assert.equal((await graphGet(h, url, c)).status, 401, "C's second: its tokens revoked");
  assert.equal((await graphGet(h, url, main)).status, 200, "but not the main tenant's");
  const b2 = await tokenFor(h, B);
  assert.equal((await graphGet(h, url, b2)).status, 200);
  h.sim.revokeTokens();
  assert.equal((await graphGet(h, url, main)).status, 401);
  assert.equal((await graphGet(h, url, b2)).status, 401);
});

test("the main tenant's API is as without tenants: its id, rows, stats and faults", async (t) => {
  const alone = await harness(t, DATA);
  const h = await harness(t, {
    ...DATA,
    faults: { budget: { requests: 2, perMs: 60_000 } },
    tenants: [{ tenantId: B }],
  });
  assert.equal(h.sim.tenantId, DEFAULT_TENANT_ID);
  assert.equal(h.sim.tenant(DEFAULT_TENANT_ID).tenantId, h.sim.tenantId);
  assert.equal(h.sim.tenant(DEFAULT_TENANT_ID).seed, DATA.seed);
  assert.deepEqual(h.sim.visibleRows(), alone.sim.visibleRows());
  assert.deepEqual(h.sim.streams.sms.visibleRows(), alone.sim.streams.sms.visibleRows());
  assert.deepEqual(h.sim.tenant(h.sim.tenantId).visibleRows(), h.sim.visibleRows());
  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-01T06:00:00Z");
  const b = await tokenFor(h, B);
  for (let i = 0; i < 3; i++) await graphGet(h, url, b);
  const main = await token(h);
  const page = await graphGet(h, url, main);
  assert.equal(page.status, 200, "B's requests took none of the main tenant's budget");
  const alonePage = await graphGet(
    alone,
    pstnUrl(alone.sim, "2024-03-01", "2024-03-01T06:00:00Z"),
    await token(alone),
  );
  assert.equal(alonePage.status, 200);
  assert.deepEqual(page.json().value, alonePage.json().value, "the same page as without tenants");
  assert.equal((await call(h, url)).status, 401, "no token: counted in the main tenant's stats");
  const stats = h.sim.stats();
  assert.equal(stats.graphRequests, 2);
  assert.deepEqual(stats.byStatus, { "200": 1, "401": 1 });
  assert.equal(stats.tokensIssued, 1);
  assert.equal(h.sim.totalStats().graphRequests, 5);
  const log = h.sim.requestLog();
  assert.deepEqual(log, [], "recordRequests off");
});

test("the request log names each request's tenant", async (t) => {
  const h = await harness(t, { ...DATA, recordRequests: true, tenants: [{ tenantId: B }] });
  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-01T06:00:00Z");
  await graphGet(h, url, await tokenFor(h, B));
  await graphGet(h, url, await token(h));
  assert.deepEqual(
    h.sim.requestLog().map((entry) => [entry.tenantId, entry.status]),
    [
      [B, 200],
      [DEFAULT_TENANT_ID, 200],
    ],
  );
});

test("msal-node gets a token of another tenant (secret and inherited certificate), and Graph serves that tenant", async (t) => {
  const h = await harness(t, {
    ...DATA,
    clientCertificatePem: client.certificatePem,
    tenants: [{ tenantId: B }],
  });
  const auth = {
    clientId: h.sim.clientId,
    authority: `${h.sim.url}/${B}`,
    knownAuthorities: [new URL(h.sim.url).host],
  };
  const system = { networkClient: networkModule(h.agent) };
  const thumbprint = createHash("sha256")
    .update(new X509Certificate(client.certificatePem).raw)
    .digest("hex");
  const apps = [
    new ConfidentialClientApplication({ auth: { ...auth, clientSecret: SECRET }, system }),
    new ConfidentialClientApplication({
      auth: {
        ...auth,
        clientCertificate: { thumbprintSha256: thumbprint, privateKey: client.privateKeyPem },
      },
      system,
    }),
  ];
  const to = "2024-03-01T06:00:00Z";
  for (const app of apps) {
    const result = await app.acquireTokenByClientCredential({ scopes: [`${h.sim.url}/.default`] });
    assert.ok(result?.accessToken);
    const page = await graphGet(h, pstnUrl(h.sim, "2024-03-01", to), result.accessToken);
    assert.equal(page.status, 200, page.text);
    assert.deepEqual(
      ids(page.json().value as { id: string }[]),
      ids(h.sim.tenant(B).visibleRows(undefined, new Date(to))),
    );
  }
  assert.equal(h.sim.tenant(B).stats().tokensIssued, 2);
  assert.equal(h.sim.stats().tokensIssued, 0);

  // An assertion aimed at the main tenant's endpoint is not one for B's.
  const now = Math.floor(Date.now() / 1000);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = {
    alg: "RS256",
    typ: "JWT",
    "x5t#S256": createHash("sha256")
      .update(new X509Certificate(client.certificatePem).raw)
      .digest("base64url"),
  };
  const claims = {
    aud: `${h.sim.url}/${h.sim.tenantId}/oauth2/v2.0/token`,
    iss: h.sim.clientId,
    sub: h.sim.clientId,
    nbf: now,
    exp: now + 600,
  };
  const data = `${b64(header)}.${b64(claims)}`;
  const signed = `${data}.${sign("sha256", Buffer.from(data), client.privateKeyPem).toString("base64url")}`;
  const refused = await postForm(h, tokenUrlOf(h, B), {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_assertion_type: JWT_BEARER,
    client_assertion: signed,
    scope: `${h.sim.url}/.default`,
  });
  assert.equal(refused.status, 401);
  assert.deepEqual(refused.json().error_codes, [700212]);
});

test("instance discovery names the metadata of the tenant asked about", async (t) => {
  const h = await harness(t, { ...DATA, tenants: [{ tenantId: B }] });
  const discovery = async (tenant: string) =>
    (
      await call(
        h,
        `${h.sim.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${h.sim.url}/${tenant}/oauth2/v2.0/authorize`)}`,
      )
    ).json().tenant_discovery_endpoint;
  assert.equal(await discovery(B), `${h.sim.url}/${B}/v2.0/.well-known/openid-configuration`);
  assert.equal(
    await discovery("nowhere.example.com"),
    `${h.sim.url}/${h.sim.tenantId}/v2.0/.well-known/openid-configuration`,
  );
  const meta = (await call(h, `${h.sim.url}/${B}/v2.0/.well-known/openid-configuration`)).json();
  assert.equal(meta.token_endpoint, `${h.sim.url}/${B}/oauth2/v2.0/token`);
  assert.equal(meta.issuer, `${h.sim.url}/${B}/v2.0`);
});

test("a thousand sparse tenants start cheaply; each is read on demand", async (t) => {
  const tenants = Array.from({ length: 999 }, (_, i) => ({ tenantId: `tenant-${i + 2}.example.com` }));
  const started = performance.now();
  const h = await harness(t, {
    ...DATA,
    dataStart: new Date("2020-01-01T00:00:00Z"),
    dataEnd: new Date("2024-03-02T00:00:00Z"),
    callsPerHour: 0.5,
    tenants,
  });
  const startMs = performance.now() - started;
  assert.equal(h.sim.tenants().length, 1000);
  assert.ok(startMs < 5000, `started in ${Math.round(startMs)} ms`);
  const url = pstnUrl(h.sim, "2024-02-01", "2024-03-01");
  for (const tenant of ["tenant-2.example.com", "tenant-1000.example.com"]) {
    const pass = await readAll(h, url, await tokenFor(h, tenant));
    const truth = h.sim
      .tenant(tenant)
      .visibleRows(new Date("2024-02-01T00:00:00Z"), new Date("2024-03-01T00:00:00Z"));
    assert.ok(truth.length > 100, `${tenant}: ${truth.length} rows`);
    assert.deepEqual(ids(pass.rows), ids(truth));
  }
  assert.equal(h.sim.tenant("tenant-500.example.com").stats().graphRequests, 0);
});

test("tenants are validated: ids Entra could name, no duplicates, valid knobs", async () => {
  await assert.rejects(startGraphSimulator({ ...DATA, tenants: [{ tenantId: "a/b" }] }), /tenantId/);
  await assert.rejects(startGraphSimulator({ ...DATA, tenants: [{ tenantId: "" }] }), /tenantId/);
  await assert.rejects(
    startGraphSimulator({ ...DATA, tenants: [{ tenantId: B }, { tenantId: B.toUpperCase() }] }),
    /served already/,
  );
  await assert.rejects(
    startGraphSimulator({ ...DATA, tenants: [{ tenantId: DEFAULT_TENANT_ID.toUpperCase() }] }),
    /served already/,
  );
  await assert.rejects(
    startGraphSimulator({ ...DATA, tenants: [{ tenantId: B, callsPerHour: -1 }] }),
    /callsPerHour/,
  );
  await assert.rejects(
    startGraphSimulator({ ...DATA, tenants: [{ tenantId: B, faults: { throttleRate: 2 } }] }),
    /throttleRate/,
  );
});
