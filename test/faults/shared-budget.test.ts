/**
 * One Graph budget per tenant, shared by the streams: a tenant whose pstn stream is live gets two
 * more streams (directRouting and sms) that start with a month of history to catch up. Graph's
 * budget (here 50 requests per 10 s, Graph's 200 a minute at a faster clock) is never exceeded:
 * no budget 429 and no request before a Retry-After. The live stream is not starved by the two
 * backfills: its watermark stays within POLL_INTERVAL + 30 s of now throughout. Restarting with
 * two more streams leaves the first one's progress as it was: every row of each stream once.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Metrics } from "../../src/metrics/index.js";
import type { StreamName } from "../../src/streams/index.js";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, waitFor } from "../support/connector.js";
import { uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
/** Graph's budget at a faster clock: requests per window. */
const BUDGET = { requests: 50, perMs: 10_000 };
/** The connector's pace: 40 per 10 s plus a burst of 10 fits 50 in any 10 s, as 190 + 10 fit 200 a minute. */
const REQUESTS_PER_MINUTE = 240;
const POLL_INTERVAL_MS = 2000;

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

test("two streams catching up a month beside a live one: within the budget, no Retry-After broken, the live one stays fresh, each row once", async (t) => {
  const now = Date.now();
  const start = new Date(now - 30 * DAY);
  const sim = await startGraphSimulator({
    seed: 31,
    clientSecret: "simulator-secret",
    dataStart: start,
    // A finished history: what the topics must hold is known, however long the streams run on.
    dataEnd: new Date(now - 60_000),
    callsPerHour: 5,
    directRoutingCallsPerHour: 12,
    smsPerHour: 6,
    pageSize: 100,
    recordRequests: true,
    faults: { budget: BUDGET, pageLatencyMs: { min: 10, max: 40 } },
  });
  t.after(() => sim.close());
  const base = connectorEnv(sim, stack, {
    CONNECTOR_START: start.toISOString(),
    POLL_INTERVAL: `${POLL_INTERVAL_MS}ms`,
    LOOKBACK: "1m",
    GRAPH_MAX_REQUESTS_PER_MINUTE: String(REQUESTS_PER_MINUTE),
    KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("direct-routing-calls"),
    KAFKA_TOPIC_SMS: uniqueName("sms-log"),
  });

  // The pstn stream alone first, until it is live.
  const first = createTestApp(sim, { ...base, CONNECTOR_STREAMS: "pstn" });
  const stopFirst = new AbortController();
  const firstRun = first.source.run(stopFirst.signal);
  await waitFor(
    "the pstn stream to be live",
    () => (first.source.stats.watermark?.getTime() ?? 0) > Date.now() - 10_000,
    120_000,
  );
  stopFirst.abort();
  await firstRun;
  await first.close();
  // A new process starts with a full burst: come back once the budget's window has passed, as a
  // restart that takes a while would.
  await sleep(BUDGET.perMs);
  const requestsBefore = sim.requestLog().length;

  // Then all three: directRouting and sms catch up a month while pstn polls on.
  const app = createTestApp(sim, { ...base, CONNECTOR_STREAMS: "pstn,directRouting,sms" });
  t.after(() => app.close());
  const [pstn, directRouting, sms] = app.sources;
  assert.deepEqual(
    app.sources.map((source) => source.unit.stream.name),
    ["pstn", "directRouting", "sms"],
  );
  const stop = new AbortController();
  const running = Promise.all(app.sources.map((source) => source.run(stop.signal)));
  const restartedAt = Date.now();
  let worstLagMs = 0;
  const caughtUp = () =>
    [directRouting, sms].every((source) => (source?.stats.watermark?.getTime() ?? 0) > Date.now() - 10_000);
  await waitFor(
    "directRouting and sms to catch up",
    () => {
      // From pstn's first poll after the restart on: the restart's own pause is not a poll's lag.
      const watermark = pstn?.stats.watermark?.getTime() ?? 0;
      if (watermark >= restartedAt) worstLagMs = Math.max(worstLagMs, Date.now() - watermark);
      return caughtUp();
    },
    300_000,
  );
  const cutoff = Date.now();
  stop.abort();
  await running;

  const log = sim.requestLog();
  const during = log.slice(requestsBefore);
  const busiest = busiestWindow(
    log.map((request) => request.arrivedAt),
    BUDGET.perMs,
  );
  const requests = await requestsByStream(app.metrics);
  t.diagnostic(
    JSON.stringify({
      requestsWhileCatchingUp: during.length,
      seconds: ((cutoff - (during[0]?.arrivedAt ?? cutoff)) / 1000).toFixed(1),
      requests,
      busiestWindow: busiest,
      worstPstnLagMs: worstLagMs,
      stats: sim.stats().byStatus,
    }),
  );
  assert.ok(during.length > 2 * BUDGET.requests, `the catch-up outlasts the budget (${during.length})`);
  assert.equal(sim.stats().throttled, 0, "no request over Graph's budget");
  assert.equal(sim.stats().retryAfterViolations, 0);
  assert.ok(busiest <= BUDGET.requests, `${busiest} requests in one window of ${BUDGET.perMs} ms`);
  assert.ok((requests.pstn ?? 0) > 5, "the live stream kept polling during the catch-up");
  assert.ok(worstLagMs > 0, "the live stream polled after the restart");
  assert.ok(
    worstLagMs <= POLL_INTERVAL_MS + 30_000,
    `the live stream's watermark fell ${worstLagMs} ms behind during the catch-up`,
  );

  for (const source of app.sources) {
    const name = source.unit.stream.name as StreamName;
    const version = name === "sms" ? "beta" : "v1.0";
    const truth = sim.streams[name].visibleRows(undefined, undefined, version);
    assert.ok(truth.length > 1000, `${name}: ${truth.length} rows`);
    await assertEachIdOnce(
      stack.brokers,
      source.unit.topics.outputs[0] as string,
      truth.map((row) => String(row.id)),
    );
    t.diagnostic(`${name}: ${truth.length} rows, each once on ${source.unit.topics.outputs[0]}`);
  }
});

/** The most requests that arrived within any `windowMs`. */
function busiestWindow(arrivals: readonly number[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b);
  let worst = 0;
  let from = 0;
  for (let to = 0; to < sorted.length; to++) {
    while ((sorted[to] as number) - (sorted[from] as number) >= windowMs) from++;
    worst = Math.max(worst, to - from + 1);
  }
  return worst;
}

async function requestsByStream(metrics: Metrics): Promise<Record<string, number>> {
  const byStream: Record<string, number> = {};
  for (const { labels, value } of (await metrics.graphRequests.get()).values) {
    const stream = String(labels.stream);
    byStream[stream] = (byStream[stream] ?? 0) + value;
  }
  return byStream;
}
