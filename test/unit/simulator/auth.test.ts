import assert from "node:assert/strict";
import {
  createHash,
  constants as cryptoConstants,
  generateKeyPairSync,
  sign,
  X509Certificate,
} from "node:crypto";
import { before, test } from "node:test";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { type ClientCertificate, generateClientCertificate } from "../../../tools/simulator/index.js";
import {
  call,
  graphGet,
  harness,
  networkModule,
  postForm,
  pstnUrl,
  SECRET,
  token,
  tokenUrl,
} from "./support.js";

const DATA = {
  dataStart: new Date("2024-03-01T00:00:00Z"),
  dataEnd: new Date("2024-03-02T00:00:00Z"),
  callsPerHour: 5,
};
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

let client: ClientCertificate;
before(async () => {
  client = await generateClientCertificate();
});

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function thumbprint(certificatePem: string, algorithm: "sha1" | "sha256"): Buffer {
  return createHash(algorithm).update(new X509Certificate(certificatePem).raw).digest();
}

/** A client assertion as msal or @azure/identity would sign it. */
function assertion(
  claims: Record<string, unknown>,
  options: { keyPem?: string; alg?: "RS256" | "PS256"; header?: "x5t" | "x5t#S256" } = {},
): string {
  const alg = options.alg ?? "RS256";
  const headerName = options.header ?? "x5t#S256";
  const header = {
    alg,
    typ: "JWT",
    [headerName]: thumbprint(client.certificatePem, headerName === "x5t" ? "sha1" : "sha256").toString(
      "base64url",
    ),
  };
  const data = `${b64url(header)}.${b64url(claims)}`;
  const key = options.keyPem ?? client.privateKeyPem;
  const signature =
    alg === "RS256"
      ? sign("sha256", Buffer.from(data), key)
      : sign("sha256", Buffer.from(data), {
          key,
          padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
          saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST,
        });
  return `${data}.${signature.toString("base64url")}`;
}

function claims(
  aud: string,
  clientId: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { aud, iss: clientId, sub: clientId, jti: "a1", nbf: now, exp: now + 600, ...overrides };
}

test("OIDC metadata names the token endpoint, issuer and keys under the simulator's own URL", async (t) => {
  const h = await harness(t, DATA);
  const reply = await call(h, `${h.sim.url}/${h.sim.tenantId}/v2.0/.well-known/openid-configuration`);
  assert.equal(reply.status, 200);
  const meta = reply.json();
  assert.equal(meta.token_endpoint, `${h.sim.url}/${h.sim.tenantId}/oauth2/v2.0/token`);
  assert.equal(meta.issuer, `${h.sim.url}/${h.sim.tenantId}/v2.0`);
  assert.equal(meta.authorization_endpoint, `${h.sim.url}/${h.sim.tenantId}/oauth2/v2.0/authorize`);
  assert.match(String(meta.jwks_uri), /^https:\/\/127\.0\.0\.1:\d+\//);
  const keys = await call(h, String(meta.jwks_uri));
  assert.deepEqual(keys.json(), { keys: [] });

  const discovery = await call(
    h,
    `${h.sim.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=x`,
  );
  assert.equal(discovery.status, 200);
  assert.equal(
    discovery.json().tenant_discovery_endpoint,
    `${h.sim.url}/${h.sim.tenantId}/v2.0/.well-known/openid-configuration`,
  );

  const unknown = await call(h, `${h.sim.url}/not-a-tenant/v2.0/.well-known/openid-configuration`);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json().error, "invalid_request");
});

test("client secret: the right one gets a bearer token, a wrong one 401 invalid_client", async (t) => {
  const h = await harness(t, DATA);
  const good = await postForm(h, `${tokenUrl(h.sim)}?client-request-id=3f2c`, {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_secret: SECRET,
    scope: `${h.sim.url}/.default`,
  });
  assert.equal(good.status, 200);
  const body = good.json();
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 3600);
  assert.equal(body.ext_expires_in, 3600);
  assert.ok(typeof body.access_token === "string" && body.access_token.length >= 32);

  const bad = await postForm(h, tokenUrl(h.sim), {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_secret: "not-the-secret",
    scope: `${h.sim.url}/.default`,
  });
  assert.equal(bad.status, 401);
  const error = bad.json();
  assert.equal(error.error, "invalid_client");
  assert.match(String(error.error_description), /^AADSTS7000215: Invalid client secret provided/);
  assert.deepEqual(error.error_codes, [7000215]);
  assert.doesNotMatch(bad.text, /not-the-secret/);

  const graphScope = await postForm(h, tokenUrl(h.sim), {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_secret: SECRET,
    scope: "https://graph.microsoft.com/.default",
  });
  assert.equal(graphScope.status, 200, "Graph's own resource scope is accepted too");

  const stats = h.sim.stats();
  assert.equal(stats.tokensIssued, 2);
});

test("token requests that Entra refuses: unknown tenant, unknown client, wrong scope, no credential", async (t) => {
  const h = await harness(t, DATA);
  const form = {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_secret: SECRET,
    scope: `${h.sim.url}/.default`,
  };
  const tenant = await postForm(h, `${h.sim.url}/other-tenant/oauth2/v2.0/token`, form);
  assert.equal(tenant.status, 400);
  assert.equal(tenant.json().error, "invalid_request");
  const unknownClient = await postForm(h, tokenUrl(h.sim), {
    ...form,
    client_id: "00000000-0000-0000-0000-000000000001",
  });
  assert.equal(unknownClient.status, 400);
  assert.equal(unknownClient.json().error, "unauthorized_client");
  const scope = await postForm(h, tokenUrl(h.sim), { ...form, scope: "User.Read" });
  assert.equal(scope.status, 400);
  assert.equal(scope.json().error, "invalid_scope");
  const { client_secret: _omitted, ...noCredential } = form;
  const none = await postForm(h, tokenUrl(h.sim), noCredential);
  assert.equal(none.status, 401);
  assert.equal(none.json().error, "invalid_client");
  assert.equal(h.sim.stats().tokensIssued, 0);
});

test("certificate: an assertion signed by the registered key is accepted (RS256/x5t, PS256/x5t#S256)", async (t) => {
  const h = await harness(t, {
    ...DATA,
    clientSecret: undefined,
    clientCertificatePem: client.certificatePem,
  });
  const endpoint = tokenUrl(h.sim);
  for (const [alg, header] of [
    ["RS256", "x5t"],
    ["PS256", "x5t#S256"],
  ] as const) {
    const reply = await postForm(h, `${endpoint}?client-request-id=abc`, {
      grant_type: "client_credentials",
      client_id: h.sim.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion(claims(endpoint, h.sim.clientId), { alg, header }),
      scope: `${h.sim.url}/.default`,
    });
    assert.equal(reply.status, 200, `${alg}/${header}: ${reply.text}`);
    const bearer = reply.json().access_token as string;
    const graph = await graphGet(h, pstnUrl(h.sim, "2024-03-01", "2024-03-02"), bearer);
    assert.equal(graph.status, 200);
  }
});

test("certificate: a wrong key, a wrong audience, another client, an expired assertion are refused", async (t) => {
  const h = await harness(t, {
    ...DATA,
    clientSecret: undefined,
    clientCertificatePem: client.certificatePem,
  });
  const endpoint = tokenUrl(h.sim);
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
    type: "pkcs8",
    format: "pem",
  }) as string;
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, string, RegExp][] = [
    ["wrong key", assertion(claims(endpoint, h.sim.clientId), { keyPem: other }), /^AADSTS700027:/],
    [
      "wrong audience",
      assertion(claims("https://login.microsoftonline.com/x/oauth2/v2.0/token", h.sim.clientId)),
      /^AADSTS700212:/,
    ],
    ["other issuer", assertion(claims(endpoint, "11111111-2222-3333-4444-555555555555")), /^AADSTS700021:/],
    ["expired", assertion(claims(endpoint, h.sim.clientId, { exp: now - 10 })), /^AADSTS700024:/],
    ["not a JWT", "not.a-jwt", /^AADSTS50027:/],
  ];
  for (const [name, jwt, expected] of cases) {
    const reply = await postForm(h, endpoint, {
      grant_type: "client_credentials",
      client_id: h.sim.clientId,
      client_assertion_type: JWT_BEARER,
      client_assertion: jwt,
      scope: `${h.sim.url}/.default`,
    });
    assert.equal(reply.status, 401, name);
    assert.equal(reply.json().error, "invalid_client", name);
    assert.match(String(reply.json().error_description), expected, name);
  }
  assert.equal(h.sim.stats().tokensIssued, 0);
});

test("msal-node gets tokens from the simulator with a secret and with a certificate", async (t) => {
  const h = await harness(t, { ...DATA, clientCertificatePem: client.certificatePem });
  const auth = {
    clientId: h.sim.clientId,
    authority: `${h.sim.url}/${h.sim.tenantId}`,
    knownAuthorities: [new URL(h.sim.url).host],
  };
  const system = { networkClient: networkModule(h.agent) };
  const bySecret = new ConfidentialClientApplication({ auth: { ...auth, clientSecret: SECRET }, system });
  const byCertificate = new ConfidentialClientApplication({
    auth: {
      ...auth,
      clientCertificate: {
        thumbprintSha256: thumbprint(client.certificatePem, "sha256").toString("hex"),
        privateKey: client.privateKeyPem,
      },
    },
    system,
  });
  for (const app of [bySecret, byCertificate]) {
    const result = await app.acquireTokenByClientCredential({ scopes: [`${h.sim.url}/.default`] });
    assert.ok(result?.accessToken);
    const graph = await graphGet(h, pstnUrl(h.sim, "2024-03-01", "2024-03-01T12:00:00Z"), result.accessToken);
    assert.equal(graph.status, 200, graph.text);
  }
  assert.equal(h.sim.stats().tokensIssued, 2);
});

test("a token is accepted by Graph only until it expires", async (t) => {
  let now = Date.parse("2024-03-05T00:00:00Z");
  const h = await harness(t, { ...DATA, now: () => now, tokenLifetimeSeconds: 60 });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2024-03-01", "2024-03-02");
  assert.equal((await graphGet(h, url, bearer)).status, 200);
  now += 60_000;
  const expired = await graphGet(h, url, bearer);
  assert.equal(expired.status, 401);
  assert.equal((expired.json().error as Record<string, unknown>).code, "InvalidAuthenticationToken");
  assert.match(String((expired.json().error as Record<string, unknown>).message), /expired/);
});
