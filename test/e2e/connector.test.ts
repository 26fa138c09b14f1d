import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { normaliseGraphRow } from "../../src/avro/index.js";
import { type GraphSimulator, startGraphSimulator } from "../../tools/simulator/index.js";
import {
  assertEachIdOnce,
  connectorEnv,
  createTestApp,
  decodeFromRegistry,
  runUntil,
  waitFor,
} from "../support/connector.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;

/** Reads the topic as a read_committed consumer and checks it against the simulator's ground truth. */
async function assertExactlyOnce(
  stack: TestStack,
  sim: GraphSimulator,
  env: Record<string, string>,
): Promise<number> {
  const topic = env.KAFKA_TOPIC!;
  const truth = sim.visibleRows(undefined, undefined, env.GRAPH_API_VERSION === "beta" ? "beta" : "v1.0");
  const messages = await assertEachIdOnce(
    stack.brokers,
    topic,
    truth.map((row) => row.id as string),
  );
  const byId = new Map(truth.map((row) => [row.id as string, row]));
  for (const message of messages) {
    const decoded = await decodeFromRegistry(stack.registryUrl, message.value!);
    const expected = normaliseGraphRow(byId.get(message.key!.toString())!);
    assert.deepEqual(decoded, expected, `row ${message.key}`);
  }
  return messages.length;
}

describe("the connector end to end: simulator → Kafka → registry", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test("a >90-day backfill then live polling with late rows, throttling, 503s and token revocation: every visible row once, field by field", async (t) => {
    const now = Date.now();
    const liveForMs = 12_000;
    const maxDelayMs = 4000;
    const sim = await startGraphSimulator({
      seed: 7,
      clientSecret: "simulator-secret",
      dataStart: new Date(now - 100 * DAY),
      dataEnd: new Date(now + liveForMs),
      callsPerHour: 4,
      live: { since: new Date(now), callsPerHour: 18_000 },
      visibilityDelayMs: { min: 0, max: maxDelayMs },
      pageSize: 250,
      faults: {
        throttleRate: 0.08,
        retryAfterSeconds: 1,
        unavailableRate: 0.05,
        revokeTokensEveryRequests: 15,
        extraPropertyRate: 0.05,
      },
    });
    t.after(() => sim.close());
    const env = connectorEnv(sim, stack, {
      CONNECTOR_START: new Date(now - 100 * DAY).toISOString(),
      WINDOW_SLICE: "60d",
      POLL_INTERVAL: "1s",
      LOOKBACK: "20s",
      GRAPH_API_VERSION: "beta",
    });
    const app = createTestApp(sim, env);
    t.after(() => app.close());
    const started = Date.now();
    // Live phase: run until every row that will ever exist is visible and a full poll has passed it.
    const settledAt = now + liveForMs + maxDelayMs;
    await runUntil(
      app,
      "the watermark to pass the last row's visibility",
      () => (app.source.stats.watermark?.getTime() ?? 0) > settledAt + 1500,
      120_000,
    );
    const elapsed = Date.now() - started;

    const rows = await assertExactlyOnce(stack, sim, env);
    const stats = sim.stats();
    const progress = app.source.stats;
    t.diagnostic(
      `rows ${rows}, fetched ${progress.fetched}, duplicates dropped ${progress.duplicates}, ` +
        `graph requests ${stats.graphRequests}, throttled ${stats.throttled}, by status ${JSON.stringify(stats.byStatus)}, ` +
        `tokens issued ${stats.tokensIssued}, ${elapsed} ms`,
    );
    assert.ok(rows > 9000, `a 100-day tenant at 4 calls/hour holds ~9,600 rows, got ${rows}`);
    assert.ok(progress.duplicates > 0, "overlapping windows must have produced duplicates to drop");
    assert.ok(stats.throttled > 0, "the run must have met throttling");
    assert.ok((stats.byStatus["503"] ?? 0) > 0, "the run must have met 503s");
    assert.ok(stats.tokensIssued > 1, "revocation must have forced a fresh token");
    assert.equal(stats.retryAfterViolations, 0, "Retry-After must never be violated");
  });

  test("stopped mid-backfill and started again: nothing lost, nothing republished", async (t) => {
    const now = Date.now();
    const sim = await startGraphSimulator({
      seed: 11,
      clientSecret: "simulator-secret",
      dataStart: new Date(now - 30 * DAY),
      dataEnd: new Date(now - 60_000),
      callsPerHour: 20,
      pageSize: 200,
      faults: { pageLatencyMs: { min: 5, max: 20 } },
    });
    t.after(() => sim.close());
    const env = connectorEnv(sim, stack, {
      CONNECTOR_START: new Date(now - 30 * DAY).toISOString(),
      WINDOW_SLICE: "2d",
      POLL_INTERVAL: "1s",
      LOOKBACK: "2d",
    });

    const first = createTestApp(sim, env, { maxBatchRows: 400 });
    const stopFirst = new AbortController();
    const firstRun = first.source.run(stopFirst.signal);
    await waitFor(
      "the first instance to publish part of the range",
      () => first.source.stats.published > 3000,
      60_000,
    );
    stopFirst.abort();
    await firstRun;
    await first.close();
    const publishedByFirst = first.source.stats.published;

    const second = createTestApp(sim, env);
    t.after(() => second.close());
    const stopSecond = new AbortController();
    const secondRun = second.source.run(stopSecond.signal);
    await waitFor(
      "the second instance to reach the present",
      () => (second.source.stats.watermark?.getTime() ?? 0) > now,
      60_000,
    );
    stopSecond.abort();
    await secondRun;

    const rows = await assertExactlyOnce(stack, sim, env);
    t.diagnostic(
      `first instance published ${publishedByFirst}, second ${second.source.stats.published}, total ${rows}`,
    );
    assert.ok(publishedByFirst < rows, "the first instance must have stopped before the end");
    assert.equal(
      publishedByFirst + second.source.stats.published,
      rows,
      "the second must publish exactly the rest",
    );
  });

  test("a start given as a duration ago is fixed by the first run, not moved by a restart", async (t) => {
    const sim = await startGraphSimulator({
      clientSecret: "simulator-secret",
      dataStart: new Date(Date.now() - 12 * DAY),
      dataEnd: new Date(Date.now() - 60_000),
      callsPerHour: 2,
    });
    t.after(() => sim.close());
    const env = connectorEnv(sim, stack, { CONNECTOR_START: "10d", POLL_INTERVAL: "1s" });
    const first = createTestApp(sim, env);
    const stopFirst = new AbortController();
    const firstRun = first.source.run(stopFirst.signal);
    await waitFor("the first session", () => first.source.stats.start !== undefined, 30_000);
    stopFirst.abort();
    await firstRun;
    await first.close();

    // Two hours later "10d" resolves to a later instant; the identity keeps its first start.
    const later = Date.now() + 2 * 3_600_000;
    const second = createTestApp(sim, env, { now: () => Date.now() + 2 * 3_600_000 });
    t.after(() => second.close());
    const stopSecond = new AbortController();
    const secondRun = second.source.run(stopSecond.signal);
    await waitFor("the second session", () => second.source.stats.start !== undefined, 30_000);
    stopSecond.abort();
    await secondRun;
    assert.equal(second.source.stats.start?.getTime(), first.source.stats.start?.getTime());
    assert.ok((first.source.stats.start?.getTime() ?? 0) < later - 10 * DAY - 3_600_000);
  });
});
