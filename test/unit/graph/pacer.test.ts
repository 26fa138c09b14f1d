import assert from "node:assert/strict";
import { syncBuiltinESMExports } from "node:module";
import { describe, mock, type TestContext, test } from "node:test";
import { setImmediate as immediate } from "node:timers/promises";
import { DEFAULT_MAX_HOLD_MS, MAX_TIMER_MS, RequestPacer, sleepChunked } from "../../../src/graph/pacer.js";

/**
 * The pacer reads the injected clock and sleeps with node:timers/promises' setTimeout. The test
 * fakes both in lockstep: the clock variable and node:test's mock timers advance together.
 * Mock timers replace the CommonJS export of node:timers/promises; the pacer's ESM named import only
 * sees the fake after syncBuiltinESMExports() (and the real one again after the reset).
 * Each fake-time test also checks that it ran in far less real time than the fake time it covered.
 */
function fakeTime(t: TestContext) {
  mock.timers.enable({ apis: ["setTimeout"] });
  syncBuiltinESMExports();
  const realStart = performance.now();
  t.after(() => {
    mock.timers.reset();
    syncBuiltinESMExports();
  });
  let current = 0;
  const flush = async () => {
    await immediate();
    await immediate();
  };
  return {
    now: () => current,
    flush,
    /** Fails when a sleep escaped the fake timers (the test then waits in real time). */
    assertFast(): void {
      // A sleep that escaped the fakes waits in real time as long as the fake time it covers; the
      // steps themselves take a while on a busy machine, never as long as that.
      const real = performance.now() - realStart;
      const bound = Math.max(current, 1500);
      assert.ok(real < bound, `took ${real.toFixed(0)} ms of real time: the fake timers did not apply`);
    },
    /** Moves time forward `ms` in steps of `step`, letting woken takers run after each step. */
    async advance(ms: number, step = 1): Promise<void> {
      const target = current + ms;
      while (current < target) {
        const delta = Math.min(step, target - current);
        current += delta;
        mock.timers.tick(delta);
        await flush();
      }
    },
  };
}

describe("RequestPacer", () => {
  test("admits a burst at once, then spaces requests at the configured rate", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(60, 3, clock.now); // one a second after a burst of 3
    const admitted: number[] = [];
    const taker = (async () => {
      for (let i = 0; i < 6; i++) {
        await pacer.take();
        admitted.push(clock.now());
      }
    })();
    await clock.flush();
    assert.deepEqual(admitted, [0, 0, 0]);
    await clock.advance(999);
    assert.deepEqual(admitted, [0, 0, 0]);
    await clock.advance(1);
    assert.deepEqual(admitted, [0, 0, 0, 1000]);
    await clock.advance(2000);
    await taker;
    assert.deepEqual(admitted, [0, 0, 0, 1000, 2000, 3000]);
    clock.assertFast();
  });

  test("an idle period refills the bucket, but never beyond the burst", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(60, 2, clock.now);
    await pacer.take();
    await pacer.take();
    await clock.advance(60_000, 1000); // enough for 60 tokens, capped at 2
    const admitted: number[] = [];
    const taker = (async () => {
      for (let i = 0; i < 3; i++) {
        await pacer.take();
        admitted.push(clock.now());
      }
    })();
    await clock.flush();
    assert.deepEqual(admitted, [60_000, 60_000]);
    await clock.advance(1000);
    await taker;
    assert.deepEqual(admitted, [60_000, 60_000, 61_000]);
    clock.assertFast();
  });

  test("holdFor delays every take until the instant passes", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(600, 5, clock.now);
    pacer.holdFor(5000);
    const admitted: number[] = [];
    const takers = [0, 1, 2].map(async () => {
      await pacer.take();
      admitted.push(clock.now());
    });
    await clock.advance(4999, 50);
    assert.deepEqual(admitted, []);
    await clock.advance(1);
    await Promise.all(takers);
    assert.deepEqual(admitted, [5000, 5000, 5000]);
    clock.assertFast();
  });

  test("a shorter hold never shortens a longer one; a later hold extends it", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(600, 5, clock.now);
    pacer.holdFor(3000);
    pacer.holdFor(1000);
    let admittedAt: number | undefined;
    const first = pacer.take().then(() => {
      admittedAt = clock.now();
    });
    await clock.advance(2999, 10);
    assert.equal(admittedAt, undefined);
    await clock.advance(1);
    await first;
    assert.equal(admittedAt, 3000);

    pacer.holdFor(2000); // from now (3000) to 5000
    admittedAt = undefined;
    const second = pacer.take().then(() => {
      admittedAt = clock.now();
    });
    await clock.advance(1999, 10);
    assert.equal(admittedAt, undefined);
    await clock.advance(1);
    await second;
    assert.equal(admittedAt, 5000);
    clock.assertFast();
  });

  test("any sliding 60 s window admits at most burst + rate requests", async (t) => {
    const clock = fakeTime(t);
    const rate = 200;
    const burst = 20;
    const pacer = new RequestPacer(rate, burst, clock.now);
    const admitted: number[] = [];
    let running = true;
    const greedy = async () => {
      while (running) {
        await pacer.take();
        if (running) admitted.push(clock.now());
      }
    };
    const takers = [greedy(), greedy(), greedy(), greedy()];
    // A hold in the middle must not let a burst through afterwards beyond the bound either.
    await clock.advance(70_000, 5);
    pacer.holdFor(10_000);
    await clock.advance(110_000, 5);
    running = false;
    await clock.advance(5000, 5); // lets the four takers get one last token each and stop
    await Promise.all(takers);

    const limit = burst + rate;
    let worst = 0;
    for (let i = 0; i < admitted.length; i++) {
      const start = admitted[i]!;
      let j = i;
      while (j < admitted.length && admitted[j]! < start + 60_000) j++;
      worst = Math.max(worst, j - i);
    }
    assert.ok(worst <= limit, `a 60 s window admitted ${worst} > ${limit}`);
    // Not over-restrictive: the first minute uses the burst and the rate in full.
    assert.ok(worst >= limit - 2, `the best 60 s window admitted only ${worst}`);
    for (let i = 1; i < admitted.length; i++) assert.ok(admitted[i]! >= admitted[i - 1]!);
    // Nothing was admitted during the hold.
    assert.equal(admitted.filter((at) => at > 70_000 && at < 80_000).length, 0);
    // About rate per minute over 180 s plus one burst (and one after the hold, refilled meanwhile).
    assert.ok(admitted.length <= burst * 2 + rate * 3, `${admitted.length}`);
    assert.ok(admitted.length >= rate * 3 - 40, `${admitted.length}`);
    clock.assertFast();
  });

  test("waiters take slots in turn by lane: a lane with many waiters does not starve one with few", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(60, 1, clock.now); // one a second
    const order: string[] = [];
    const takes = (lane: string, count: number) =>
      Array.from({ length: count }, (_, i) =>
        pacer.take(undefined, lane).then(() => order.push(`${lane}${i}`)),
      );
    // A backfill queues six requests first; live polling comes with two, then a third lane with one.
    const backfill = takes("dr", 6);
    const live = takes("pstn", 2);
    const sms = takes("sms", 1);
    await clock.advance(8000, 100);
    await Promise.all([...backfill, ...live, ...sms]);
    assert.deepEqual(order, ["dr0", "pstn0", "sms0", "dr1", "pstn1", "dr2", "dr3", "dr4", "dr5"]);
    clock.assertFast();
  });

  test("a waiter that gives up leaves its lane's turn to the next", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(60, 1, clock.now);
    await pacer.take(undefined, "a");
    const stop = new AbortController();
    const order: string[] = [];
    const gone = pacer.take(stop.signal, "a");
    const next = pacer.take(undefined, "b").then(() => order.push("b"));
    const last = pacer.take(undefined, "a").then(() => order.push("a"));
    stop.abort();
    await assert.rejects(gone, { name: "AbortError" });
    await clock.advance(2000, 100);
    await Promise.all([next, last]);
    assert.deepEqual(order, ["b", "a"]);
    clock.assertFast();
  });

  test("an aborted signal stops a waiting take", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(60, 1, clock.now);
    pacer.holdFor(60_000);
    const controller = new AbortController();
    const waiting = pacer.take(controller.signal);
    await clock.advance(100, 100);
    controller.abort();
    await assert.rejects(waiting, { name: "AbortError" });
    clock.assertFast();
  });

  test("with real timers a fast rate admits about burst + rate × elapsed", async () => {
    const pacer = new RequestPacer(600, 2); // 10 a second
    const started = performance.now();
    let count = 0;
    while (performance.now() - started < 300) {
      await pacer.take();
      count++;
    }
    const elapsed = performance.now() - started;
    // 2 at once, then one every 100 ms.
    assert.ok(count <= 2 + Math.ceil(elapsed / 100) + 1, `${count} in ${elapsed} ms`);
    assert.ok(count >= 4, `${count} in ${elapsed} ms`);
  });

  test("a hold beyond the cap is held as the cap (10 min by default), and says it was clamped", async (t) => {
    const clock = fakeTime(t);
    const pacer = new RequestPacer(600, 5, clock.now);
    assert.equal(pacer.maxHoldMs, DEFAULT_MAX_HOLD_MS);
    assert.deepEqual(pacer.holdFor(99_999_999_999_000), { heldMs: 600_000, clamped: true });
    assert.deepEqual(pacer.holdFor(600_000), { heldMs: 600_000, clamped: false });
    assert.deepEqual(pacer.holdFor(Number.POSITIVE_INFINITY), { heldMs: 600_000, clamped: true });
    let admittedAt: number | undefined;
    const taker = pacer.take().then(() => {
      admittedAt = clock.now();
    });
    await clock.advance(599_999, 10_000);
    assert.equal(admittedAt, undefined);
    await clock.advance(1);
    await taker;
    assert.equal(admittedAt, 600_000);
    clock.assertFast();
  });

  test("the cap is configurable; a negative hold holds nothing", () => {
    const pacer = new RequestPacer(600, 5, () => 0, { maxHoldMs: 1000 });
    assert.deepEqual(pacer.holdFor(1001), { heldMs: 1000, clamped: true });
    const fresh = new RequestPacer(600, 5, () => 0);
    assert.deepEqual(fresh.holdFor(-5), { heldMs: 0, clamped: false });
    assert.equal(fresh.waitMs(), 0);
  });

  test("admit is synchronous: it takes a slot or says how long to wait, and waitMs takes none", () => {
    let now = 0;
    const pacer = new RequestPacer(60, 2, () => now);
    assert.equal(pacer.waitMs(), 0);
    assert.equal(pacer.waitMs(), 0, "asking takes no slot");
    assert.equal(pacer.admit(), 0);
    assert.equal(pacer.admit(), 0);
    assert.equal(pacer.admit(), 1000, "the bucket is empty: one refills in 1 s");
    now = 1000;
    assert.equal(pacer.admit(), 0);
    pacer.holdFor(2500);
    assert.equal(pacer.admit(), 2500);
    assert.equal(pacer.waitMs(), 2500);
  });

  test("long waits are slept in chunks Node's timers keep: none of 2^31 ms or more, none of 1 ms", async () => {
    const chunks: number[] = [];
    const record = async (ms: number) => {
      chunks.push(ms);
    };
    await sleepChunked(2 ** 33 + 5, undefined, record);
    assert.deepEqual(chunks, [MAX_TIMER_MS, MAX_TIMER_MS, MAX_TIMER_MS, MAX_TIMER_MS, 9]);
    assert.ok(chunks.every((ms) => ms < 2 ** 31));
    chunks.length = 0;
    await sleepChunked(1500.2, undefined, record);
    assert.deepEqual(chunks, [1501], "never shorter than asked");
    chunks.length = 0;
    await sleepChunked(0, undefined, record);
    assert.deepEqual(chunks, []);
  });

  test("a chunked wait of years with real timers: no TimeoutOverflowWarning, and an abort ends it", async (t) => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    const controller = new AbortController();
    const started = performance.now();
    const waiting = sleepChunked(99_999_999_999_000, controller.signal);
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(waiting, { name: "AbortError" });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 45 && elapsed < 1000, `ended after ${elapsed.toFixed(0)} ms`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
    await assert.rejects(sleepChunked(10, controller.signal), { name: "AbortError" }, "aborted before");
  });

  test("a pacer held for years (an uncapped hold) waits in chunks, not in 1 ms timers", async (t) => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    const pacer = new RequestPacer(600, 5, Date.now, { maxHoldMs: Number.MAX_SAFE_INTEGER });
    pacer.holdFor(2 ** 40);
    const controller = new AbortController();
    const waiting = pacer.take(controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort();
    await assert.rejects(waiting, { name: "AbortError" });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  });
});
