import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generate } from "selfsigned";
import { loadConfig, redactedConfig } from "../../../src/config/index.js";
import { CLIENT_ID, problemsOf, SECRET, TENANT, validEnv } from "./helpers.js";

let dir: string;
const files = {
  ca: "",
  cert: "",
  key: "",
  otherKey: "",
  encryptedKey: "",
  notPem: "",
  missing: "",
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kafka-tls-"));
  const ca = await generate([{ name: "commonName", value: "test-ca" }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [{ name: "basicConstraints", cA: true }],
  });
  const client = await generate([{ name: "commonName", value: "client" }], {
    keyType: "ec",
    algorithm: "sha256",
    ca: { key: ca.private, cert: ca.cert },
  });
  const write = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  files.ca = await write("ca.pem", ca.cert);
  files.cert = await write("client.pem", client.cert);
  files.key = await write("client-key.pem", client.private);
  files.otherKey = await write(
    "other-key.pem",
    generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString(),
  );
  files.encryptedKey = await write(
    "encrypted-key.pem",
    createPrivateKey(client.private)
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "key-pass-123" })
      .toString(),
  );
  files.notPem = await write("not.pem", "hello\n");
  files.missing = join(dir, "missing.pem");
});
after(() => rm(dir, { recursive: true, force: true }));

describe("KAFKA_SSL_* files", () => {
  test("a CA file implies TLS and is kept as an absolute path; KAFKA_SSL stays off without files", () => {
    const config = loadConfig({ env: validEnv({ KAFKA_SSL_CA_FILE: files.ca }) });
    assert.equal(config.kafka.ssl, true);
    assert.deepEqual(config.kafka.tls, { caFile: files.ca });
    assert.equal(loadConfig({ env: validEnv() }).kafka.ssl, false);
    assert.equal(loadConfig({ env: validEnv() }).kafka.tls, undefined);
  });

  test("a client certificate and its key, the key encrypted with its passphrase", () => {
    const config = loadConfig({
      env: validEnv({ KAFKA_SSL_CERT_FILE: files.cert, KAFKA_SSL_KEY_FILE: files.key }),
    });
    assert.equal(config.kafka.ssl, true);
    assert.deepEqual(config.kafka.tls, { certFile: files.cert, keyFile: files.key });
    const encrypted = loadConfig({
      env: validEnv({
        KAFKA_SSL_CERT_FILE: files.cert,
        KAFKA_SSL_KEY_FILE: files.encryptedKey,
        KAFKA_SSL_KEY_PASSWORD: "key-pass-123",
      }),
    });
    assert.equal(encrypted.kafka.tls?.keyPassword, "key-pass-123");
    assert.equal(
      (redactedConfig(encrypted).kafka as { tls: { keyPassword: string } }).tls.keyPassword,
      "[redacted]",
    );
  });

  test("each problem is one line naming its variable, and never the passphrase", () => {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SSL: "false", KAFKA_SSL_CA_FILE: files.ca }) })),
      [
        "KAFKA_SSL: is false, but KAFKA_SSL_CA_FILE is set, which TLS uses; remove KAFKA_SSL=false (the files imply TLS) or those files",
      ],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SSL_CA_FILE: files.missing }) })),
      [`KAFKA_SSL_CA_FILE: ${JSON.stringify(files.missing)} does not exist`],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SSL_CA_FILE: files.notPem }) })),
      [
        `KAFKA_SSL_CA_FILE: ${JSON.stringify(files.notPem)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      ],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SSL_CERT_FILE: files.cert }) })),
      ["KAFKA_SSL_KEY_FILE: required when KAFKA_SSL_CERT_FILE is set (the certificate's private key)"],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SSL_KEY_FILE: files.key }) })),
      ["KAFKA_SSL_CERT_FILE: required when KAFKA_SSL_KEY_FILE is set (the key's certificate)"],
    );
    assert.deepEqual(
      problemsOf(() =>
        loadConfig({
          env: validEnv({ KAFKA_SSL_CERT_FILE: files.cert, KAFKA_SSL_KEY_FILE: files.otherKey }),
        }),
      ),
      [
        `KAFKA_SSL_KEY_FILE: ${JSON.stringify(files.otherKey)} does not hold the private key of KAFKA_SSL_CERT_FILE's certificate (its first one)`,
      ],
    );
    assert.deepEqual(
      problemsOf(() =>
        loadConfig({ env: validEnv({ KAFKA_SSL_CERT_FILE: files.key, KAFKA_SSL_KEY_FILE: files.cert }) }),
      ),
      [
        `KAFKA_SSL_CERT_FILE: ${JSON.stringify(files.key)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
        `KAFKA_SSL_KEY_FILE: ${JSON.stringify(files.cert)} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`,
      ],
    );
    assert.deepEqual(
      problemsOf(() =>
        loadConfig({
          env: validEnv({ KAFKA_SSL_CERT_FILE: files.cert, KAFKA_SSL_KEY_FILE: files.encryptedKey }),
        }),
      ),
      [
        `KAFKA_SSL_KEY_FILE: ${JSON.stringify(files.encryptedKey)} holds an encrypted private key; set KAFKA_SSL_KEY_PASSWORD to its passphrase`,
      ],
    );
    const wrong = problemsOf(() =>
      loadConfig({
        env: validEnv({
          KAFKA_SSL_CERT_FILE: files.cert,
          KAFKA_SSL_KEY_FILE: files.encryptedKey,
          KAFKA_SSL_KEY_PASSWORD: "wrong-pass-456",
        }),
      }),
    );
    assert.deepEqual(wrong, [
      "KAFKA_SSL_KEY_PASSWORD: does not decrypt KAFKA_SSL_KEY_FILE (wrong passphrase)",
    ]);
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SSL_KEY_PASSWORD: "x-pass-789" }) })),
      ["KAFKA_SSL_KEY_PASSWORD: is set without KAFKA_SSL_KEY_FILE; unset it"],
    );
  });
});

describe("SASL OAUTHBEARER", () => {
  const EVENT_HUBS = "https://contoso-events.servicebus.windows.net/.default";

  test("the default: Entra ID of AZURE_AUTHORITY_HOST and the tenant, Graph's identity and secret", () => {
    const config = loadConfig({
      env: validEnv({
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: "OAUTHBEARER",
        KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS,
      }),
    });
    assert.deepEqual(config.kafka.sasl, {
      mechanism: "oauthbearer",
      oauthBearer: {
        tokenEndpoint: {
          kind: "entra",
          authorityHost: "https://login.microsoftonline.com",
          tenantId: TENANT,
        },
        clientId: CLIENT_ID,
        clientSecret: SECRET,
        scope: EVENT_HUBS,
        extensions: {},
        clientAuthMethod: "client_secret_basic",
      },
    });
    const redacted = JSON.stringify(redactedConfig(config));
    assert.ok(!redacted.includes(SECRET), "the secret is redacted");
  });

  test("Entra ID with an identity of its own", () => {
    const own = "99999999-8888-7777-6666-555555555555";
    const config = loadConfig({
      env: validEnv({
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: "oauthbearer",
        KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS,
        KAFKA_SASL_OAUTHBEARER_CLIENT_ID: own,
        KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: "kafka-only-secret-1",
      }),
    });
    assert.ok(config.kafka.sasl?.mechanism === "oauthbearer");
    assert.equal(config.kafka.sasl.oauthBearer.clientId, own);
    assert.equal(config.kafka.sasl.oauthBearer.clientSecret, "kafka-only-secret-1");
    assert.ok(!JSON.stringify(redactedConfig(config)).includes("kafka-only-secret-1"));
  });

  test("an OIDC token endpoint, with extensions (Confluent Cloud) and client_secret_post", () => {
    const config = loadConfig({
      env: validEnv({
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: "oauthbearer",
        KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: "https://idp.example.com/oauth2/default/v1/token",
        KAFKA_SASL_OAUTHBEARER_CLIENT_ID: "0oa1b2c3d4",
        KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: "idp-secret-2",
        KAFKA_SASL_OAUTHBEARER_SCOPE: "kafka  produce",
        KAFKA_SASL_OAUTHBEARER_EXTENSIONS: "logicalCluster=lkc-abc123, identityPoolId=pool-XyZ9",
        KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD: "client_secret_post",
      }),
    });
    assert.deepEqual(config.kafka.sasl, {
      mechanism: "oauthbearer",
      oauthBearer: {
        tokenEndpoint: { kind: "oidc", url: "https://idp.example.com/oauth2/default/v1/token" },
        clientId: "0oa1b2c3d4",
        clientSecret: "idp-secret-2",
        scope: "kafka produce",
        extensions: { logicalCluster: "lkc-abc123", identityPoolId: "pool-XyZ9" },
        clientAuthMethod: "client_secret_post",
      },
    });
  });

  test("Graph's credentials never go to another token endpoint", () => {
    assert.deepEqual(
      problemsOf(() =>
        loadConfig({
          env: validEnv({
            KAFKA_SASL_MECHANISM: "oauthbearer",
            KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: "https://idp.example.com/token",
            KAFKA_SASL_OAUTHBEARER_SCOPE: "kafka",
          }),
        }),
      ),
      [
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID: required with KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, with KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: Graph's credentials go to Entra ID only",
      ],
    );
  });

  test("problems: scope, endpoint, identity, extensions, and settings of the other mechanisms", () => {
    const oauth = (extra: Record<string, string>) =>
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SASL_MECHANISM: "oauthbearer", ...extra }) }));
    assert.deepEqual(oauth({}), [
      "KAFKA_SASL_OAUTHBEARER_SCOPE: required with KAFKA_SASL_MECHANISM=oauthbearer (e.g. https://<namespace>.servicebus.windows.net/.default for Azure Event Hubs)",
    ]);
    assert.deepEqual(oauth({ KAFKA_SASL_OAUTHBEARER_SCOPE: "https://contoso.servicebus.windows.net" }), [
      'KAFKA_SASL_OAUTHBEARER_SCOPE: "https://contoso.servicebus.windows.net" is not an Entra ID client-credentials scope; use one <resource>/.default, e.g. https://<namespace>.servicebus.windows.net/.default',
    ]);
    assert.deepEqual(
      oauth({
        KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS,
        KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: "http://idp.example.com/token",
        KAFKA_SASL_OAUTHBEARER_CLIENT_ID: "c",
        KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: "idp-secret-3",
      }),
      [
        'KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: "http://idp.example.com/token" must be an https URL: the client secret travels to it',
      ],
    );
    assert.deepEqual(
      oauth({
        KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS,
        KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: "own-secret-4",
      }),
      [
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID: required when KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET is set (Graph's identity takes AZURE_CLIENT_SECRET)",
      ],
    );
    assert.deepEqual(
      oauth({ KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS, KAFKA_SASL_OAUTHBEARER_CLIENT_ID: "not-a-guid" }),
      [
        'KAFKA_SASL_OAUTHBEARER_CLIENT_ID: "not-a-guid" is not an Entra ID application (client) id; expected a GUID like 00000000-0000-0000-0000-000000000000',
        "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: required when KAFKA_SASL_OAUTHBEARER_CLIENT_ID is set (that identity's client secret)",
      ],
    );
    for (const [extensions, message] of [
      ["logicalCluster", "is not key=value pairs, comma-separated, with keys of letters only"],
      ["logical-cluster=x", "is not key=value pairs, comma-separated, with keys of letters only"],
      ["auth=x", 'uses the key "auth", which SASL reserves for the token'],
      ["a=1,a=2", "names a twice"],
      ["a=", "has an empty or non-printable value for a"],
    ] as const) {
      assert.deepEqual(
        oauth({ KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS, KAFKA_SASL_OAUTHBEARER_EXTENSIONS: extensions }),
        [`KAFKA_SASL_OAUTHBEARER_EXTENSIONS: ${JSON.stringify(extensions)} ${message}`],
      );
    }
    assert.deepEqual(
      oauth({
        KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS,
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "pw-5678",
      }),
      [
        "KAFKA_SASL_USERNAME: is not used with KAFKA_SASL_MECHANISM=oauthbearer (a token is sent instead); unset it",
        "KAFKA_SASL_PASSWORD: is not used with KAFKA_SASL_MECHANISM=oauthbearer (a token is sent instead); unset it",
      ],
    );
    assert.deepEqual(
      problemsOf(() =>
        loadConfig({
          env: validEnv({
            KAFKA_SASL_MECHANISM: "scram-sha-512",
            KAFKA_SASL_USERNAME: "u",
            KAFKA_SASL_PASSWORD: "pw-5678",
            KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS,
          }),
        }),
      ),
      [
        "KAFKA_SASL_OAUTHBEARER_SCOPE: is used only with KAFKA_SASL_MECHANISM=oauthbearer, not scram-sha-512; unset it",
      ],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SASL_OAUTHBEARER_SCOPE: EVENT_HUBS }) })),
      [
        "KAFKA_SASL_MECHANISM: required when KAFKA_SASL_OAUTHBEARER_SCOPE is set (plain, scram-sha-256, scram-sha-512 or oauthbearer)",
      ],
    );
  });

  test("no problem line quotes a client secret", () => {
    const secret = "Very$ecretKafka-9";
    const problems = problemsOf(() =>
      loadConfig({
        env: validEnv({
          KAFKA_SASL_MECHANISM: "oauthbearer",
          KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: `https://idp.example.com/${secret}?x=1#frag`,
          KAFKA_SASL_OAUTHBEARER_CLIENT_ID: secret,
          KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: secret,
          KAFKA_SASL_OAUTHBEARER_SCOPE: `bad"${secret}`,
        }),
      }),
    );
    assert.ok(problems.length >= 2, problems.join("\n"));
    for (const problem of problems) assert.ok(!problem.includes(secret), problem);
  });
});
