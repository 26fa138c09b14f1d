import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { crashLoop } from "../support/crash-loop.js";
import { startTestStack, type TestStack } from "../support/stack.js";

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

test("SIGKILL at random moments during a backfill and during live polling, three streams at once: read_committed sees every row of each once", async (t) => {
  const streams = ["pstn", "directRouting", "sms"] as const;
  const result = await crashLoop({
    stack,
    streams: [...streams],
    backfillKills: 3,
    liveKills: 3,
    historyDays: 20,
    callsPerHour: 60,
    seed: Number(process.env.CRASH_SEED ?? 5),
    log: (line) => t.diagnostic(line),
  });
  t.diagnostic(JSON.stringify({ ...result, kills: result.kills.length }));
  assert.equal(result.kills.length, 6);
  assert.ok(result.kills.some((k) => k.phase === "live"));
  assert.ok(result.rowsExpected > 20_000, `expected a sizeable history, got ${result.rowsExpected}`);
  assert.deepEqual(
    { duplicates: result.duplicates, missing: result.missing, extra: result.extra },
    { duplicates: 0, missing: 0, extra: 0 },
  );
  assert.equal(result.rowsOnTopic, result.rowsExpected);
  for (const stream of streams) {
    const count = result.streams[stream];
    assert.ok(count && count.rowsExpected > 500, `${stream}: ${JSON.stringify(count)}`);
    assert.deepEqual(
      { stream, duplicates: count.duplicates, missing: count.missing, extra: count.extra },
      { stream, duplicates: 0, missing: 0, extra: 0 },
    );
    assert.equal(count.rowsOnTopic, count.rowsExpected, stream);
  }
  assert.equal(result.retryAfterViolations, 0);
});
