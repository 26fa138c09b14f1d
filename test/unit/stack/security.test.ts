import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, verify, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { signJwt } from "../../../tools/simulator/tokens.js";
import { type KafkaClusterSpec, kafkaJvmArgs, kafkaNodeProperties } from "../../../tools/stack/kafka.js";
import {
  createStackSecurity,
  jwksUrl,
  type StackSecurity,
  scramFormatArgs,
} from "../../../tools/stack/security.js";

let dir: string;
let security: StackSecurity;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "stack-security-"));
  security = await createStackSecurity(dir, { saslSslPort: 19094, mtlsPort: 19095 });
});
after(() => rm(dir, { recursive: true, force: true }));

function pemBlocks(text: string, label: string): string[] {
  return [...text.matchAll(new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, "g"))].map(
    (m) => m[0],
  );
}

test("the broker's and the client's certificates are signed by the stack's CA and match their keys", async () => {
  const ca = new X509Certificate(await readFile(security.caFile));
  assert.equal(ca.ca, true);
  const keystore = await readFile(join(dir, "security", "broker-keystore.pem"), "utf8");
  const [brokerPem] = pemBlocks(keystore, "CERTIFICATE");
  const [brokerKey] = pemBlocks(keystore, "PRIVATE KEY");
  assert.ok(brokerPem && brokerKey, "Kafka's PEM keystore holds a PKCS#8 key and the chain");
  const broker = new X509Certificate(brokerPem);
  assert.ok(broker.verify(ca.publicKey), "the broker's certificate is the CA's");
  assert.ok(broker.checkPrivateKey(createPrivateKey(brokerKey)));
  assert.equal(broker.checkIP("127.0.0.1"), "127.0.0.1");
  const client = new X509Certificate(await readFile(security.clientCertFile));
  assert.ok(client.verify(ca.publicKey), "the client's certificate is the CA's");
  assert.ok(client.checkPrivateKey(createPrivateKey(await readFile(security.clientKeyFile))));
  for (const file of [security.clientKeyFile, security.oauth.signingKeyFile, join(dir, "security.json")]) {
    assert.equal((await stat(file)).mode & 0o077, 0, `${file} is the owner's alone`);
  }
});

test("the JWKS holds the public half of the signing key under its kid", async () => {
  const jwks = JSON.parse(await readFile(security.oauth.jwksFile, "utf8")) as {
    keys: Array<Record<string, string>>;
  };
  assert.equal(jwks.keys.length, 1);
  const [jwk] = jwks.keys;
  assert.equal(jwk?.kid, security.oauth.kid);
  assert.equal(jwk?.alg, "RS256");
  assert.equal(jwk?.d, undefined, "no private part");
  const token = signJwt(
    { sub: "x" },
    await readFile(security.oauth.signingKeyFile, "utf8"),
    security.oauth.kid,
  );
  const [header, payload, signature] = token.split(".");
  const key = createPublicKey({ key: jwk as never, format: "jwk" });
  assert.ok(
    verify("sha256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature ?? "", "base64url")),
  );
  assert.equal(fileURLToPath(jwksUrl(security)), security.oauth.jwksFile);
  assert.equal(security.oauth.scope, `${security.oauth.audience}/.default`);
});

test("server.properties of a node with secure listeners: SASL_SSL and SSL with a required client certificate", () => {
  const node = {
    nodeId: 1,
    port: 19092,
    controllerPort: 19093,
    dataDir: "/data",
    configFile: "/conf",
    logFile: "/log",
    secure: { saslSslPort: 19094, mtlsPort: 19095 },
  };
  const spec: KafkaClusterSpec = {
    nodes: [node],
    replicationFactor: 1,
    minInsyncReplicas: 1,
    heapMb: 384,
    security,
    runDir: dir,
  };
  const properties = new Map(
    kafkaNodeProperties(spec, node)
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
  );
  assert.equal(
    properties.get("listeners"),
    "PLAINTEXT://127.0.0.1:19092,SASL_SSL://127.0.0.1:19094,MTLS://127.0.0.1:19095,CONTROLLER://127.0.0.1:19093",
  );
  assert.equal(
    properties.get("advertised.listeners"),
    "PLAINTEXT://127.0.0.1:19092,SASL_SSL://127.0.0.1:19094,MTLS://127.0.0.1:19095",
  );
  assert.equal(
    properties.get("listener.security.protocol.map"),
    "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL",
  );
  assert.equal(properties.get("inter.broker.listener.name"), "PLAINTEXT");
  assert.equal(properties.get("listener.name.mtls.ssl.client.auth"), "required");
  assert.equal(
    properties.get("listener.name.sasl_ssl.sasl.enabled.mechanisms"),
    "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER",
  );
  assert.equal(
    properties.get("listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.jwks.endpoint.url"),
    jwksUrl(security),
  );
  assert.equal(
    properties.get("listener.name.sasl_ssl.oauthbearer.sasl.oauthbearer.expected.audience"),
    security.oauth.audience,
  );
  assert.equal(properties.get("ssl.keystore.type"), "PEM");
  const jvm = kafkaJvmArgs({ classpath: "cp", log4jFile: "l", heapMb: 256, marker: "-Dm", security });
  assert.ok(jvm.includes(`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${jwksUrl(security)}`));
  assert.ok(
    !kafkaJvmArgs({ classpath: "cp", log4jFile: "l", heapMb: 256, marker: "-Dm" }).some((a) =>
      a.includes("allowed.urls"),
    ),
  );

  const plain = kafkaNodeProperties({ ...spec, security: undefined }, { ...node, secure: undefined });
  assert.doesNotMatch(plain, /SASL_SSL|MTLS|ssl\./, "without security: the plaintext listener alone");
});

test("SCRAM credentials for both SCRAM mechanisms go to kafka-storage format", () => {
  const { username, password } = security.sasl;
  assert.match(
    password,
    /^[0-9a-f]{36}$/,
    "no character the StorageTool's [name=...,password=...] parser splits on",
  );
  assert.deepEqual(scramFormatArgs(security), [
    "--add-scram",
    `SCRAM-SHA-512=[name=${username},password=${password}]`,
    "--add-scram",
    `SCRAM-SHA-256=[name=${username},password=${password}]`,
  ]);
});
