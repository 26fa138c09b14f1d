import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, type JsonWebKey, verify } from "node:crypto";
import { test } from "node:test";
import { call, harness, postForm, SECRET, tokenUrl } from "./support.js";

const DATA = { dataStart: new Date("2024-03-01T00:00:00Z"), callsPerHour: 0 };
const KEY = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const KAFKA = {
  audience: "api://kafka-test",
  issuer: "https://issuer.test/",
  signingKeyPem: KEY,
  kid: "kid-1",
  client: { clientId: "kafka-own", clientSecret: "kafka-own-secret" },
  lifetimeSeconds: 120,
};

function claimsOf(jwt: string, jwk: JsonWebKey): Record<string, unknown> {
  const [header, payload, signature] = jwt.split(".");
  const key = createPublicKey({ key: jwk, format: "jwk" });
  assert.ok(
    verify("sha256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature ?? "", "base64url")),
    "signed by the key the JWKS serves",
  );
  assert.deepEqual(JSON.parse(Buffer.from(header ?? "", "base64url").toString()), {
    alg: "RS256",
    typ: "JWT",
    kid: "kid-1",
  });
  return JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as Record<string, unknown>;
}

test("the Kafka scope gets an RS256 JWT that the tenant's jwks_uri verifies", async (t) => {
  const h = await harness(t, { ...DATA, kafkaTokens: KAFKA });
  const metadata = (
    await call(h, `${h.sim.url}/${h.sim.tenantId}/v2.0/.well-known/openid-configuration`)
  ).json();
  const jwks = (await call(h, metadata.jwks_uri as string)).json() as { keys: JsonWebKey[] };
  assert.equal(jwks.keys.length, 1);
  const reply = await postForm(h, tokenUrl(h.sim), {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_secret: SECRET,
    scope: "api://kafka-test/.default",
  });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(reply.json().expires_in, 120);
  const claims = claimsOf(reply.json().access_token as string, jwks.keys[0] as JsonWebKey);
  assert.equal(claims.aud, "api://kafka-test");
  assert.equal(claims.iss, "https://issuer.test/");
  assert.equal(claims.sub, h.sim.clientId);
  assert.equal(claims.scope, "kafka");
  assert.equal((claims.exp as number) - (claims.iat as number), 120);
});

test("a Kafka client of its own, by client_secret_basic, for the Kafka scope only", async (t) => {
  const h = await harness(t, { ...DATA, kafkaTokens: KAFKA });
  const basic = (id: string, secret: string, scope: string) =>
    call(h, tokenUrl(h.sim), {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
    });
  const ok = await basic("kafka-own", "kafka-own-secret", "api://kafka-test/.default");
  assert.equal(ok.status, 200, ok.text);
  const jwks = (await call(h, `${h.sim.url}/${h.sim.tenantId}/discovery/v2.0/keys`)).json() as {
    keys: JsonWebKey[];
  };
  assert.equal(claimsOf(ok.json().access_token as string, jwks.keys[0] as JsonWebKey).sub, "kafka-own");
  assert.equal((await basic("kafka-own", "wrong", "api://kafka-test/.default")).status, 401);
  assert.equal(
    (await basic("kafka-own", "kafka-own-secret", `${h.sim.url}/.default`)).status,
    400,
    "not for Graph",
  );
  assert.equal((await basic(h.sim.clientId, SECRET, "api://other/.default")).status, 400, "an unknown scope");
});

test("without the option, the Kafka scope is unknown and the JWKS is empty", async (t) => {
  const h = await harness(t, DATA);
  const reply = await postForm(h, tokenUrl(h.sim), {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_secret: SECRET,
    scope: "api://kafka-test/.default",
  });
  assert.equal(reply.status, 400);
  assert.deepEqual((await call(h, `${h.sim.url}/${h.sim.tenantId}/discovery/v2.0/keys`)).json(), {
    keys: [],
  });
});
