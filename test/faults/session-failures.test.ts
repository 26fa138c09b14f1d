/**
 * A poison window (Graph answers one window with a page that is not JSON, for as long as it
 * likes): the process stays up, sessions restart with a growing wait instead of in a tight loop,
 * /readyz says why, the failures are counted by code, and what was published before stays
 * published exactly once. Once Graph heals, the connector carries on by itself.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, waitFor } from "../support/connector.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const MAX_BACKOFF_MS = 4000;

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

test("a window that is never JSON: bounded restarts with growing waits, readyz false, counted; rows before it once", async (t) => {
  const now = Date.now();
  const start = new Date(now - 4 * DAY);
  const poisonFrom = new Date(start.getTime() + 2 * DAY + HOUR);
  const sim = await startGraphSimulator({
    seed: 77,
    clientSecret: "simulator-secret",
    dataStart: start,
    dataEnd: new Date(now - 60_000),
    callsPerHour: 30,
    pageSize: 200,
    faults: { notJsonRange: { from: poisonFrom, to: new Date(poisonFrom.getTime() + HOUR) } },
  });
  t.after(() => sim.close());
  const env = connectorEnv(sim, stack, {
    CONNECTOR_START: start.toISOString(),
    POLL_INTERVAL: "1s",
    LOOKBACK: "1h",
    WINDOW_SLICE: "1d",
    GRAPH_MAX_RETRIES: "0",
    CONNECTOR_MAX_RESTART_BACKOFF: `${MAX_BACKOFF_MS}ms`,
  });
  const app = createTestApp(sim, env);
  t.after(() => app.close());
  const failureCount = async () =>
    (await app.metrics.sessionFailures.get()).values.reduce((sum, v) => sum + v.value, 0);

  const stop = new AbortController();
  let ended: unknown = "running";
  const running = app.source.run(stop.signal).then(
    () => {
      ended = "returned";
    },
    (error: unknown) => {
      ended = error;
    },
  );
  try {
    // When each failure was counted.
    const failedAt: number[] = [];
    const observeMs = 26_000;
    const observeFrom = Date.now();
    while (Date.now() - observeFrom < observeMs) {
      const count = await failureCount();
      while (failedAt.length < count) failedAt.push(Date.now());
      await sleep(50);
    }
    assert.equal(ended, "running", "the process keeps running");
    const gaps = failedAt.slice(1).map((at, i) => at - failedAt[i]!);
    t.diagnostic(`failures ${failedAt.length} in ${observeMs} ms; gaps ${gaps.join(", ")} ms`);

    // The schedule's shortest waits are 0.5, 1, 2, then 2 s (half of the 4 s cap) each: at most
    // 3 + 26 / 2 failures, where a restart at poll cadence (1 s) would have failed about 26 times.
    assert.ok(failedAt.length >= 4, `sessions kept being tried: ${failedAt.length}`);
    assert.ok(failedAt.length <= 16, `restarts are bounded: ${failedAt.length} in ${observeMs} ms`);
    for (const [i, gap] of gaps.entries()) {
      // Gap i follows failure i + 1 in a row: the wait drawn in [half, all] of 1 s × 2^i, capped.
      const lowest = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** i) / 2;
      assert.ok(gap >= lowest - 60, `wait ${i + 2} was ${gap} ms, at least ${lowest} expected`);
      assert.ok(gap <= MAX_BACKOFF_MS + 5000, `wait ${i + 2} was ${gap} ms: capped`);
    }
    assert.ok(
      gaps.slice(-3).every((gap) => gap >= MAX_BACKOFF_MS / 2 - 60),
      "the waits grew to the cap",
    );

    assert.equal(app.health.ready(), false, "/readyz is false while sessions fail");
    assert.equal(app.health.snapshot().sessionFailing, "PSTN_GRAPH_BAD_RESPONSE");
    const byCode = (await app.metrics.sessionFailures.get()).values
      .filter((v) => v.value > 0)
      .map((v) => [v.labels.code, v.value]);
    assert.deepEqual(byCode, [["PSTN_GRAPH_BAD_RESPONSE", failedAt.length]], "counted by what kept failing");

    // Everything before the poison window is in Kafka once, and nothing of it or after it.
    const before = sim.visibleRows(start, new Date(start.getTime() + 2 * DAY - 1), "v1.0");
    assert.ok(before.length > 1000, `rows before the poison window: ${before.length}`);
    await assertEachIdOnce(
      stack.brokers,
      env.KAFKA_TOPIC!,
      before.map((row) => row.id as string),
    );

    // Graph heals: the next session reads on, /readyz turns true, every row once.
    sim.setFaults({});
    await waitFor(
      "the present after Graph healed",
      () => (app.source.stats.watermark?.getTime() ?? 0) > now - 60_000 && app.health.ready(),
      60_000,
    );
    assert.equal(app.health.snapshot().sessionFailing, null);
  } finally {
    // A failing assertion must not leave the connector running past the test.
    stop.abort();
    await running;
  }
  assert.equal(ended, "returned");
  await assertEachIdOnce(
    stack.brokers,
    env.KAFKA_TOPIC!,
    sim.visibleRows(undefined, undefined, "v1.0").map((row) => row.id as string),
  );
});
