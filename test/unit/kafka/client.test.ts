import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generate } from "selfsigned";
import type { TokenSource } from "../../../src/auth/token-provider.js";
import { type ConnectorConfig, loadConfig } from "../../../src/config/index.js";
import { type ClientOptions, kafkaClientOptions } from "../../../src/kafka/client.js";
import { Kafka } from "../../../src/kafka/index.js";
import type { Logger } from "../../../src/log.js";
import { Metrics } from "../../../src/metrics/index.js";
import { validEnv } from "../config/helpers.js";

function kafkaOf(extra: Record<string, string>): ConnectorConfig["kafka"] {
  return loadConfig({ env: validEnv(extra) }).kafka;
}

test("plaintext, TLS with system trust, SASL with a password", () => {
  const plain = kafkaClientOptions(kafkaOf({}));
  assert.equal(plain.tls, undefined);
  assert.equal(plain.sasl, undefined);
  const scram = kafkaClientOptions(
    kafkaOf({
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: "scram-sha-256",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: "pw-1",
    }),
  );
  assert.deepEqual(scram.tls, {}, "system trust");
  assert.deepEqual(scram.sasl, { mechanism: "SCRAM-SHA-256", username: "u", password: "pw-1" });
});

/** The token provider the client calls for OAUTHBEARER. */
function provider(options: ClientOptions): () => unknown {
  const token = options.sasl?.token;
  assert.ok(typeof token === "function");
  return token;
}

test("TLS files become one secure context (not per-connection options)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "kafka-client-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await generate([{ name: "commonName", value: "ca" }], { keyType: "ec", algorithm: "sha256" });
  await writeFile(join(dir, "ca.pem"), ca.cert);
  const config = kafkaClientOptions({ ...kafkaOf({ KAFKA_SSL_CA_FILE: join(dir, "ca.pem") }) });
  assert.ok(typeof config.tls === "object" && config.tls !== null);
  assert.deepEqual(Object.keys(config.tls), ["secureContext"]);
  assert.ok(config.tls.secureContext?.context, "a built context");
  await rm(join(dir, "ca.pem"));
  assert.throws(
    () => kafkaClientOptions({ ...kafkaOf({}), ssl: true, tls: { caFile: join(dir, "ca.pem") } }),
    /KAFKA_SSL_CA_FILE: .* cannot be read \(ENOENT\)/,
  );
});

test("OAUTHBEARER: each authentication gets the source's token and the extensions; outcomes are counted", async () => {
  const kafka = kafkaOf({
    KAFKA_SSL: "true",
    KAFKA_SASL_MECHANISM: "oauthbearer",
    KAFKA_SASL_OAUTHBEARER_SCOPE: "https://ns.servicebus.windows.net/.default",
    KAFKA_SASL_OAUTHBEARER_EXTENSIONS: "logicalCluster=lkc-1",
  });
  let calls = 0;
  let fail = false;
  const tokens: TokenSource = {
    getToken: async () => {
      calls++;
      if (fail) throw new Error("token endpoint down");
      return `token-${calls}`;
    },
    invalidate: () => undefined,
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const config = kafkaClientOptions(kafka, { tokens, metrics });
  const next = provider(config);
  assert.deepEqual(config.sasl?.oauthBearerExtensions, { logicalCluster: "lkc-1" });
  assert.equal(await next(), "token-1");
  assert.equal(await next(), "token-2");
  fail = true;
  await assert.rejects(Promise.resolve(next()), /token endpoint down/);
  const values = (await metrics.kafkaOAuthTokens.get()).values;
  assert.equal(values.find((v) => v.labels.outcome === "ok")?.value, 2);
  assert.equal(values.find((v) => v.labels.outcome === "error")?.value, 1);
  assert.throws(() => kafkaClientOptions(kafka), /needs a token source/);
  const noExtensions = kafkaClientOptions(
    kafkaOf({
      KAFKA_SSL: "true",
      KAFKA_SASL_MECHANISM: "oauthbearer",
      KAFKA_SASL_OAUTHBEARER_SCOPE: "https://ns.servicebus.windows.net/.default",
    }),
    { tokens: { getToken: async () => "t", invalidate: () => undefined } },
  );
  assert.equal(await provider(noExtensions)(), "t");
  assert.equal(noExtensions.sasl?.oauthBearerExtensions, undefined);
});

test("a client of the cluster logs a broker connection that fails, naming the broker and nothing secret", async () => {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const logger = {
    child: () => logger,
    warn: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: "warn", fields, message }),
    debug: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: "debug", fields, message }),
  } as unknown as Logger;
  const options = kafkaClientOptions(
    kafkaOf({
      KAFKA_BROKERS: "127.0.0.1:1",
      KAFKA_SASL_MECHANISM: "plain",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: "pw-secret",
      CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS: "true",
    }),
  );
  const admin = new Kafka({ ...options, retries: 0 }, logger).admin();
  await assert.rejects(admin.metadata({ topics: [] }));
  await admin.close();
  const failed = lines.find((line) => line.level === "warn");
  assert.deepEqual(failed, {
    level: "warn",
    fields: { broker: "127.0.0.1:1" },
    message: "a connection to a Kafka broker failed",
  });
  assert.ok(!JSON.stringify(lines).includes("pw-secret"));
});
