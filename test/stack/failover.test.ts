import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { killKafkaNode, restartKafkaNode } from "../../tools/stack/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, waitFor } from "../support/connector.js";
import { testKafka } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
let stack: TestStack;
before(async () => {
  stack = await startTestStack({ nodes: 3 });
});
after(async () => {
  await stack?.stop();
});

test("three brokers, RF 3, min ISR 2: the partition leader is killed mid-run and restarted later; no loss, no duplicate, no restart of the connector", async (t) => {
  const now = Date.now();
  const liveUntil = now + 40_000;
  const sim = await startGraphSimulator({
    seed: 51,
    clientSecret: "simulator-secret",
    dataStart: new Date(now - 20 * DAY),
    dataEnd: new Date(liveUntil),
    callsPerHour: 60,
    live: { since: new Date(now), callsPerHour: 3_600 },
    visibilityDelayMs: { min: 0, max: 3_000 },
    pageSize: 200,
    faults: { pageLatencyMs: { min: 40, max: 80 } },
  });
  t.after(() => sim.close());
  const env = connectorEnv(sim, stack, {
    CONNECTOR_START: new Date(now - 20 * DAY).toISOString(),
    POLL_INTERVAL: "1s",
    LOOKBACK: "20s",
    GRAPH_MAX_REQUESTS_PER_MINUTE: "600",
  });
  const commits: number[] = [];
  const app = createTestApp(sim, env, {
    maxBatchRows: 500,
    onProgress: () => commits.push(Date.now()),
  });
  t.after(() => app.close());
  const stop = new AbortController();
  let failed: unknown;
  const running = app.source.run(stop.signal).catch((error: unknown) => {
    failed = error;
  });
  await waitFor("rows before the kill", () => app.source.stats.published > 3000, 60_000);

  // The state topic takes part in every transaction: kill its partition leader.
  const admin = testKafka(stack.brokers, "failover-test").admin();
  const metadata = await admin.metadata({ topics: [`${env.KAFKA_TOPIC}.state`], forceUpdate: true });
  await admin.close();
  const leader = metadata.topics.get(`${env.KAFKA_TOPIC}.state`)!.partitions[0]!.leader;
  const killedAt = Date.now();
  await killKafkaNode(leader, { nodes: 3 });
  const publishedAtKill = app.source.stats.published;
  await waitFor(
    "commits to resume on the two remaining brokers",
    () => commits.some((at) => at > killedAt + 500),
    90_000,
  );
  const resumedAt = commits.find((at) => at > killedAt + 500)!;
  await sleep(5_000);
  await restartKafkaNode(leader, { nodes: 3 });
  const restartedAt = Date.now();

  await waitFor(
    "the watermark to pass the end of the live phase",
    () => (app.source.stats.watermark?.getTime() ?? 0) > liveUntil + 5_000,
    120_000,
  );
  stop.abort();
  await running;
  assert.equal(failed, undefined, "the connector kept running through the failover");

  const truth = sim.visibleRows(undefined, undefined, "v1.0");
  // A transaction the killed broker left undecided resolves once its partitions move: allow for it.
  await assertEachIdOnce(
    stack.brokers,
    env.KAFKA_TOPIC!,
    truth.map((row) => row.id as string),
    120_000,
  );
  const before = commits.filter((at) => at <= killedAt).at(-1) ?? killedAt;
  t.diagnostic(
    `rows ${truth.length}; killed node ${leader} after ${publishedAtKill} rows; publishing paused ${resumedAt - before} ms ` +
      `(last commit before the kill to the first after); node back after ${restartedAt - killedAt} ms`,
  );
});
