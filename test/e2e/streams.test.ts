/**
 * The engine on each call log: a Source of the Direct Routing and of the SMS stream, on the app's
 * Graph client, Sink and registry, against the simulator and the real stack. A backfill over more
 * than 90 days, checked row by row against the simulator's truth: read back by Kafka's Java
 * consumer (read_committed) and decoded with the schema the registry holds.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { normaliseGraphRow, rowSchema } from "../../src/avro/index.js";
import { Source } from "../../src/pipeline/source.js";
import { registrarOf } from "../../src/registry.js";
import { STREAMS, type StreamDefinition } from "../../src/streams/index.js";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, decodeFromRegistry } from "../support/connector.js";
import { uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;

describe("each call log end to end: simulator → Kafka → registry", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  for (const [stream, version] of [
    [STREAMS.directRouting, "v1.0"],
    [STREAMS.sms, "beta"],
  ] as [StreamDefinition, "v1.0" | "beta"][]) {
    test(`${stream.name}: a 100-day backfill, every row once, field by field, from ${stream.function} on ${version}`, async (t) => {
      const now = Date.now();
      const from = new Date(now - 100 * DAY);
      const to = new Date(now - 60_000);
      const sim = await startGraphSimulator({
        seed: 23,
        clientSecret: "simulator-secret",
        dataStart: from,
        dataEnd: to,
        callsPerHour: 1,
        directRoutingCallsPerHour: 3,
        smsPerHour: 2,
        pageSize: 100,
        faults: { throttleRate: 0.05, retryAfterSeconds: 1, unavailableRate: 0.03 },
      });
      t.after(() => sim.close());
      // GRAPH_API_VERSION stays v1.0: the SMS stream reads beta all the same.
      const env = connectorEnv(sim, stack, { GRAPH_API_VERSION: "v1.0", WINDOW_SLICE: "1d" });
      const app = createTestApp(sim, env);
      t.after(() => app.close());
      const data = uniqueName(stream.name);
      const source = new Source({
        unit: {
          tenantId: app.config.azure.tenantId,
          stream,
          name: "e2e",
          topics: { data, dlq: `${data}.dlq`, state: `${data}.state` },
          start: from,
        },
        pollIntervalMs: 1000,
        lookbackMs: 0,
        sliceMs: app.config.connector.windowSliceMs,
        graph: app.graph,
        sink: app.sink,
        registry: registrarOf(app.registry),
        metrics: app.metrics,
        logger: app.logger,
        firstRestartBackoffMs: 50,
      });
      t.after(() => source.close());
      assert.equal(source.graph.apiVersion, version);
      assert.equal(await source.backfill(from, to, new AbortController().signal), true);

      const truth = sim.streams[stream.name as "directRouting" | "sms"].visibleRows(from, to, version);
      assert.ok(truth.length > 2000, `${truth.length} rows in the simulator`);
      const messages = await assertEachIdOnce(
        stack.brokers,
        data,
        truth.map((row) => String(row.id)),
      );
      const schema = rowSchema(stream.schemaFile).schema;
      const byId = new Map(truth.map((row) => [String(row.id), row as Record<string, unknown>]));
      for (const message of messages) {
        const decoded = await decodeFromRegistry(stack.registryUrl, message.value as Buffer);
        const expected = normaliseGraphRow(byId.get(message.key?.toString() ?? "") ?? {}, schema);
        assert.deepEqual(decoded, expected, `row ${message.key}`);
      }
      const stats = sim.stats();
      t.diagnostic(
        `${stream.name}: rows ${messages.length}, graph requests ${stats.graphRequests}, by status ${JSON.stringify(stats.byStatus)}`,
      );
      assert.equal(stats.retryAfterViolations, 0);
      if (stream.name === "directRouting") {
        const failed = messages.filter((m) => byId.get(m.key?.toString() ?? "")?.endDateTime === undefined);
        assert.ok(failed.length > 0, "failed calls (without endDateTime) are carried");
      }
      if (stream.name === "sms") {
        assert.ok(truth.some((row) => /\*{3,4}$/.test(String(row.destinationNumber ?? row.sourceNumber))));
      }
    });
  }
});
