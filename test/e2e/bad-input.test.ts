import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRowCodec } from "../../src/avro/index.js";
import { ErrorCode, isPstnError } from "../../src/errors.js";
import { generateClientCertificate, startGraphSimulator } from "../../tools/simulator/index.js";
import { connectorEnv, createTestApp, keysOf, runUntil } from "../support/connector.js";
import { consumeAll, createTopic, testKafka } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;

describe("bad input: lost nowhere, explained everywhere", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test("malformed rows and charges too large for decimal(38,12) go to the DLQ with their reason, and are counted", async (t) => {
    const now = Date.now();
    const sim = await startGraphSimulator({
      seed: 23,
      clientSecret: "simulator-secret",
      dataStart: new Date(now - 5 * DAY),
      dataEnd: new Date(now - 60_000),
      callsPerHour: 20,
      faults: { malformedRowRate: 0.03, oversizedChargeRate: 0.03, extraPropertyRate: 0.1 },
    });
    t.after(() => sim.close());
    const env = connectorEnv(sim, stack, {
      CONNECTOR_START: new Date(now - 5 * DAY).toISOString(),
      POLL_INTERVAL: "1s",
      LOOKBACK: "1h",
    });
    const app = createTestApp(sim, env);
    t.after(() => app.close());
    await runUntil(app, "the present", () => (app.source.stats.watermark?.getTime() ?? 0) > now, 60_000);

    // What cannot be encoded, by the codec's own verdict on the simulator's ground truth.
    const truth = sim.visibleRows(undefined, undefined, "v1.0");
    const codec = createRowCodec();
    const bad = truth.filter((row) => !codec.encode(row as Record<string, unknown>).ok);
    const good = truth.filter((row) => codec.encode(row as Record<string, unknown>).ok);
    assert.ok(bad.length > 50, `the simulator should have made bad rows, got ${bad.length}`);

    const published = await consumeAll(stack.brokers, env.KAFKA_TOPIC!, {
      expected: good.length,
      settleMs: 1500,
    });
    assert.equal(published.length, good.length);
    assert.deepEqual(new Set(keysOf(published)), new Set(good.map((row) => row.id as string)));

    const dlq = await consumeAll(stack.brokers, `${env.KAFKA_TOPIC}.dlq`, {
      expected: bad.length,
      settleMs: 1500,
    });
    assert.equal(dlq.length, bad.length, "each bad row once in the DLQ");
    const letters = dlq.map(
      (m) => JSON.parse(m.value!.toString()) as { reason: string; row: Record<string, unknown> },
    );
    const reasons = letters.map((letter) => letter.reason);
    assert.ok(
      reasons.some((r) => /^charge: .*not rounded|^charge: .*(digits|precision)/.test(r)),
      reasons.slice(0, 5).join("; "),
    );
    assert.ok(
      reasons.some((r) => /^(id|startDateTime):/.test(r)),
      reasons.slice(0, 5).join("; "),
    );
    for (const letter of letters)
      assert.equal(typeof letter.row, "object", "the raw row travels with its reason");
    for (const message of dlq) {
      assert.ok(message.headers.find(([name]) => name === "pstn.reason")?.[1], "the reason is also a header");
    }

    const metric = await app.metrics.rowsDeadLettered.get();
    assert.equal(
      metric.values.reduce((sum, v) => sum + v.value, 0),
      bad.length,
    );
    assert.ok(
      ((await app.metrics.rowsUnknownProperties.get()).values[0]?.value ?? 0) > 0,
      "unknown properties counted",
    );
  });

  test("dead letters beyond the DLQ topic's max.message.bytes in one batch: sent in record batches the broker takes, none lost", async (t) => {
    const now = Date.now();
    const sim = await startGraphSimulator({
      seed: 29,
      clientSecret: "simulator-secret",
      dataStart: new Date(now - 2 * DAY),
      dataEnd: new Date(now - 60_000),
      callsPerHour: 60,
      faults: { malformedRowRate: 1 },
    });
    t.after(() => sim.close());
    const env = connectorEnv(sim, stack, {
      CONNECTOR_START: new Date(now - 2 * DAY).toISOString(),
      POLL_INTERVAL: "1s",
      LOOKBACK: "1h",
    });
    // A day's dead letters (~1,400, over 1 MB of JSON) go in one transaction; gzipped in one record
    // batch they would be several times this topic's limit, and the broker would refuse every retry.
    const dlqTopic = `${env.KAFKA_TOPIC}.dlq`;
    await createTopic(testKafka(stack.brokers, "bad-input-test"), dlqTopic, {
      configs: { "max.message.bytes": "65536" },
    });
    const app = createTestApp(sim, env);
    t.after(() => app.close());
    await runUntil(app, "the present", () => (app.source.stats.watermark?.getTime() ?? 0) > now, 60_000);

    const codec = createRowCodec();
    const truth = sim.visibleRows(undefined, undefined, "v1.0");
    const bad = truth.filter((row) => !codec.encode(row as Record<string, unknown>).ok);
    assert.ok(bad.length > 2_000, `every row should be bad, got ${bad.length} of ${truth.length}`);
    const dlq = await consumeAll(stack.brokers, dlqTopic, { expected: bad.length, settleMs: 1500 });
    assert.equal(dlq.length, bad.length, "each bad row once in the DLQ");
    const bytes = dlq.reduce((sum, m) => sum + (m.value?.length ?? 0), 0);
    assert.ok(
      bytes > 2 * 1024 * 1024,
      `the dead letters should outweigh the limit many times: ${bytes} bytes`,
    );
  });

  test("an app without CallRecords.Read.All: the connector stops with one clear error naming the permission", async (t) => {
    const sim = await startGraphSimulator({
      clientSecret: "simulator-secret",
      dataStart: new Date(Date.now() - DAY),
      callsPerHour: 10,
      grantedPermissions: [],
    });
    t.after(() => sim.close());
    const app = createTestApp(sim, connectorEnv(sim, stack, { CONNECTOR_START: "1d" }));
    t.after(() => app.close());
    await assert.rejects(app.source.run(new AbortController().signal), (error) => {
      assert.ok(isPstnError(error, ErrorCode.GRAPH_FORBIDDEN));
      assert.match(
        error.message,
        /needs the application permission CallRecords\.Read\.All with admin consent/,
      );
      return true;
    });
    assert.equal(sim.stats().byStatus["403"], 1, "a 403 is not retried");
  });

  test("certificate credentials: msal signs an assertion the simulator verifies, and rows flow", async (t) => {
    const certificate = await generateClientCertificate();
    const dir = await mkdtemp(join(tmpdir(), "pstn-cert-"));
    const pemPath = join(dir, "app.pem");
    await writeFile(pemPath, certificate.combinedPem);
    const now = Date.now();
    const sim = await startGraphSimulator({
      clientCertificatePem: certificate.certificatePem,
      dataStart: new Date(now - DAY),
      dataEnd: new Date(now - 60_000),
      callsPerHour: 30,
    });
    t.after(() => sim.close());
    const env = connectorEnv(sim, stack, {
      CONNECTOR_START: new Date(now - DAY).toISOString(),
      POLL_INTERVAL: "1s",
    });
    delete env.AZURE_CLIENT_SECRET;
    env.AZURE_CLIENT_CERTIFICATE_PATH = pemPath;
    const app = createTestApp(sim, env);
    t.after(() => app.close());
    await runUntil(app, "the present", () => (app.source.stats.watermark?.getTime() ?? 0) > now, 60_000);
    assert.equal(app.source.stats.published, sim.visibleRows().length);
    assert.ok(sim.stats().tokensIssued >= 1);
  });
});
