/**
 * Rows checked at the door, end to end: rows with an over-long id or a start far outside the window
 * asked for go to the DLQ with their reason once, although every poll reads them again (LOOKBACK
 * covers the whole range), and a restarted connector does not send them again either.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { MAX_ID_LENGTH } from "../../src/avro/index.js";
import { type SimulatedRow, startGraphSimulator } from "../../tools/simulator/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, keysOf, runUntil } from "../support/connector.js";
import { consumeAll } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

test("an over-long id or a misplaced start: dead-lettered once with its reason over many polls and a restart", async (t) => {
  const now = Date.now();
  const start = new Date(now - 2 * DAY);
  const sim = await startGraphSimulator({
    seed: 31,
    clientSecret: "simulator-secret",
    dataStart: start,
    dataEnd: new Date(now - 60_000),
    callsPerHour: 40,
    faults: { overlongIdRate: 0.02, misplacedStartRate: 0.02 },
  });
  t.after(() => sim.close());
  const env = connectorEnv(sim, stack, {
    CONNECTOR_START: start.toISOString(),
    POLL_INTERVAL: "1s",
    LOOKBACK: "3d",
  });
  const truth = sim.visibleRows(undefined, undefined, "v1.0");
  const overlong = (row: SimulatedRow) => typeof row.id === "string" && row.id.length > MAX_ID_LENGTH;
  const misplaced = (row: SimulatedRow) => Date.parse(row.startDateTime) < start.getTime() - HOUR;
  const bad = truth.filter((row) => overlong(row) || misplaced(row));
  const good = truth.filter((row) => !overlong(row) && !misplaced(row));
  assert.ok(truth.filter(overlong).length >= 10, "the simulator made over-long ids");
  assert.ok(truth.filter(misplaced).length >= 10, "the simulator made misplaced starts");

  // Each poll reads the whole range again: four polls read every row four times.
  const first = createTestApp(sim, env);
  t.after(() => first.close());
  await runUntil(first, "four full reads", () => first.source.stats.fetched >= 4 * truth.length, 90_000);
  const second = createTestApp(sim, env);
  t.after(() => second.close());
  await runUntil(
    second,
    "two more after a restart",
    () => second.source.stats.fetched >= 2 * truth.length,
    60_000,
  );
  assert.equal(second.source.stats.deadLettered, 0, "the restarted connector dead-letters nothing again");

  await assertEachIdOnce(
    stack.brokers,
    env.KAFKA_TOPIC!,
    good.map((row) => row.id as string),
  );
  const dlq = await consumeAll(stack.brokers, `${env.KAFKA_TOPIC}.dlq`, {
    expected: bad.length,
    settleMs: 2000,
  });
  assert.equal(dlq.length, bad.length, "each refused row once in the DLQ");
  const keys = keysOf(dlq);
  assert.equal(new Set(keys).size, keys.length);
  assert.ok(
    keys.every((key) => key.length <= MAX_ID_LENGTH),
    "no over-long id as a key: its hash",
  );
  const letters = dlq.map((m) => JSON.parse(m.value!.toString()) as { reason: string; row: { id?: string } });
  const reasons = letters.map((letter) => letter.reason.split(":")[0]);
  assert.deepEqual(new Set(reasons), new Set(["id", "startDateTime"]));
  assert.ok(letters.every((letter) => (letter.row.id?.length ?? 0) <= MAX_ID_LENGTH + 1));
  const counted = (await first.metrics.rowsDeadLettered.get()).values;
  assert.equal(
    counted.reduce((sum, v) => sum + v.value, 0),
    bad.length,
    "counted once each",
  );
  assert.deepEqual(new Set(counted.map((v) => v.labels.reason)), new Set(["id", "startDateTime"]));
});
