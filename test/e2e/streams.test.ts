/**
 * The three call logs in one process (CONNECTOR_STREAMS=pstn,directRouting,sms), against the
 * simulator and the real stack: a backfill over more than 90 days, then live polling with late
 * rows, throttling and 503s. Each stream's topic is checked row by row against the simulator's
 * truth: read back by Kafka's Java consumer (read_committed) and decoded with the schema the
 * registry holds.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { normaliseGraphRow, rowSchema } from "../../src/avro/index.js";
import type { StreamName } from "../../src/streams/index.js";
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

  test("three streams in one process: a 100-day backfill, then live polling with late rows; each stream's rows once, field by field", async (t) => {
    const now = Date.now();
    // The live phase begins once the backfill is done (about 30 requests of Graph's 1,000 rows).
    const liveFrom = now + 15_000;
    const liveForMs = 10_000;
    const maxDelayMs = 4000;
    const from = new Date(now - 100 * DAY);
    const sim = await startGraphSimulator({
      seed: 23,
      clientSecret: "simulator-secret",
      dataStart: from,
      dataEnd: new Date(liveFrom + liveForMs),
      callsPerHour: 1,
      directRoutingCallsPerHour: 3,
      smsPerHour: 2,
      // Each stream's live phase is as much faster as pstn's: 2 a second for pstn.
      live: { since: new Date(liveFrom), callsPerHour: 7200 },
      visibilityDelayMs: { min: 0, max: maxDelayMs },
      faults: { throttleRate: 0.05, retryAfterSeconds: 1, unavailableRate: 0.03 },
    });
    t.after(() => sim.close());
    // GRAPH_API_VERSION stays v1.0: the SMS stream reads beta all the same.
    const env = connectorEnv(sim, stack, {
      CONNECTOR_STREAMS: "pstn,directRouting,sms",
      KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("direct-routing-calls"),
      KAFKA_TOPIC_SMS: uniqueName("sms-log"),
      CONNECTOR_START: from.toISOString(),
      GRAPH_API_VERSION: "v1.0",
      WINDOW_SLICE: "1d",
      POLL_INTERVAL: "1s",
      LOOKBACK: "20s",
    });
    const app = createTestApp(sim, env);
    t.after(() => app.close());
    const versions: Record<StreamName, "v1.0" | "beta"> = {
      pstn: "v1.0",
      directRouting: "v1.0",
      sms: "beta",
    };
    assert.deepEqual(
      app.sources.map((source) => [source.unit.stream.name, source.graph.apiVersion]),
      Object.entries(versions),
    );

    // Run until every row that will ever exist is visible and a full poll of each stream passed it.
    const settledAt = liveFrom + liveForMs + maxDelayMs;
    let caughtUpAt: number | undefined;
    const stop = new AbortController();
    const running = Promise.all(app.sources.map((source) => source.run(stop.signal)));
    const deadline = Date.now() + 240_000;
    while (!app.sources.every((source) => (source.stats.watermark?.getTime() ?? 0) > settledAt + 1500)) {
      assert.ok(Date.now() < deadline, "every stream's watermark passes the last row's visibility");
      if (
        caughtUpAt === undefined &&
        app.sources.every((source) => (source.stats.watermark?.getTime() ?? 0) > now)
      )
        caughtUpAt = Date.now();
      await sleep(200);
    }
    t.diagnostic(`the backfill was done ${((caughtUpAt ?? Number.NaN) - now) / 1000} s after the start`);
    assert.ok(
      caughtUpAt !== undefined && caughtUpAt < liveFrom,
      "the streams polled live before the live rows came: they were read by polls, late ones too",
    );
    stop.abort();
    await running;

    for (const source of app.sources) {
      const stream = source.unit.stream;
      const name = stream.name as StreamName;
      const version = versions[name];
      const truth = sim.streams[name].visibleRows(undefined, undefined, version) as Array<
        Record<string, unknown>
      >;
      assert.ok(truth.length > 2000, `${name}: ${truth.length} rows in the simulator`);
      const live = truth.filter((row) => Date.parse(String(row[stream.startField])) >= liveFrom);
      assert.ok(live.length > 5, `${name}: ${live.length} live rows`);
      const messages = await assertEachIdOnce(
        stack.brokers,
        source.unit.topics.outputs[0] as string,
        truth.map((row) => String(row.id)),
      );
      const schema = rowSchema(stream.schemaFile).schema;
      const byId = new Map(truth.map((row) => [String(row.id), row]));
      for (const message of messages) {
        const decoded = await decodeFromRegistry(stack.registryUrl, message.value as Buffer);
        const expected = normaliseGraphRow(byId.get(message.key?.toString() ?? "") ?? {}, schema);
        assert.deepEqual(decoded, expected, `${name} row ${message.key}`);
      }
      t.diagnostic(
        `${name}: rows ${messages.length} (${live.length} live), fetched ${source.stats.fetched}, duplicates dropped ${source.stats.duplicates}`,
      );
      if (name === "directRouting") {
        const failed = messages.filter((m) => byId.get(m.key?.toString() ?? "")?.endDateTime === undefined);
        assert.ok(failed.length > 0, "failed calls (without endDateTime) are carried");
      }
      if (name === "sms") {
        assert.ok(truth.some((row) => /\*{3,4}$/.test(String(row.destinationNumber ?? row.sourceNumber))));
      }
    }
    const stats = sim.stats();
    t.diagnostic(`graph requests ${stats.graphRequests}, by status ${JSON.stringify(stats.byStatus)}`);
    assert.ok(stats.throttled > 0, "the run met throttling");
    assert.equal(stats.retryAfterViolations, 0);
  });
});
