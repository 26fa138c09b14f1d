import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_GRAPH_RANGE_MS, planPoll, sliceRange, type Window } from "../../../src/windows/planner.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse("2024-03-01T00:00:00.000Z");

function at(ms: number): Date {
  return new Date(ms);
}

function spans(windows: Window[]): Array<[string, string]> {
  return windows.map((w) => [w.from.toISOString(), w.to.toISOString()]);
}

/** Every window starts where the previous one ended, and the union is exactly [from, to]. */
function assertContiguous(windows: Window[], from: Date, to: Date): void {
  assert.ok(windows.length > 0);
  assert.equal(windows[0]!.from.getTime(), from.getTime());
  assert.equal(windows.at(-1)!.to.getTime(), to.getTime());
  for (let i = 1; i < windows.length; i++) {
    assert.equal(
      windows[i]!.from.getTime(),
      windows[i - 1]!.to.getTime(),
      `gap or overlap before window ${i}`,
    );
  }
  for (const w of windows) assert.ok(w.from.getTime() <= w.to.getTime());
}

describe("sliceRange", () => {
  test("a range that is a whole number of slices gives exactly those slices", () => {
    const windows = sliceRange(at(T0), at(T0 + 3 * DAY), DAY);
    assert.deepEqual(spans(windows), [
      ["2024-03-01T00:00:00.000Z", "2024-03-02T00:00:00.000Z"],
      ["2024-03-02T00:00:00.000Z", "2024-03-03T00:00:00.000Z"],
      ["2024-03-03T00:00:00.000Z", "2024-03-04T00:00:00.000Z"],
    ]);
  });

  test("the last slice is partial and ends exactly at `to`", () => {
    const to = at(T0 + 2 * DAY + 6 * HOUR + 123);
    const windows = sliceRange(at(T0), to, DAY);
    assert.deepEqual(spans(windows), [
      ["2024-03-01T00:00:00.000Z", "2024-03-02T00:00:00.000Z"],
      ["2024-03-02T00:00:00.000Z", "2024-03-03T00:00:00.000Z"],
      ["2024-03-03T00:00:00.000Z", "2024-03-03T06:00:00.123Z"],
    ]);
  });

  test("a range shorter than one slice is one window", () => {
    const windows = sliceRange(at(T0 + 5), at(T0 + 7 * HOUR), DAY);
    assert.deepEqual(spans(windows), [["2024-03-01T00:00:00.005Z", "2024-03-01T07:00:00.000Z"]]);
  });

  test("from == to gives one window of that single instant (both bounds are inclusive)", () => {
    const windows = sliceRange(at(T0), at(T0), DAY);
    assert.equal(windows.length, 1);
    assert.equal(windows[0]!.from.getTime(), T0);
    assert.equal(windows[0]!.to.getTime(), T0);
  });

  test("from > to gives no window", () => {
    assert.deepEqual(sliceRange(at(T0 + 1), at(T0), DAY), []);
    assert.deepEqual(sliceRange(at(T0 + DAY), at(T0), HOUR), []);
  });

  test("windows never exceed 90 days even when the slice asked for is longer", () => {
    assert.equal(MAX_GRAPH_RANGE_MS, 90 * DAY);
    const from = at(T0);
    const to = at(T0 + 200 * DAY);
    const windows = sliceRange(from, to, 365 * DAY);
    assert.equal(windows.length, 3);
    for (const w of windows) assert.ok(w.to.getTime() - w.from.getTime() <= 90 * DAY);
    assert.equal(windows[0]!.to.getTime() - windows[0]!.from.getTime(), 90 * DAY);
    assert.equal(windows[1]!.to.getTime() - windows[1]!.from.getTime(), 90 * DAY);
    assert.equal(windows[2]!.to.getTime() - windows[2]!.from.getTime(), 20 * DAY);
    assertContiguous(windows, from, to);
  });

  test("a slice of exactly 90 days is allowed and a 91-day range needs two requests", () => {
    const windows = sliceRange(at(T0), at(T0 + 91 * DAY), Number.POSITIVE_INFINITY);
    assert.equal(windows.length, 2);
    assert.equal(windows[0]!.to.getTime(), T0 + 90 * DAY);
    assert.equal(windows[1]!.to.getTime(), T0 + 91 * DAY);
  });

  test("consecutive windows share their inclusive boundary: no gaps, no lost instant", () => {
    const from = at(T0 + 17);
    const to = at(T0 + 10 * DAY + 3 * HOUR + 999);
    for (const slice of [HOUR, 7 * HOUR, DAY, 3 * DAY + 1, 11 * DAY]) {
      const windows = sliceRange(from, to, slice);
      assertContiguous(windows, from, to);
      assert.equal(windows.length, Math.ceil((to.getTime() - from.getTime()) / slice));
      for (const w of windows) assert.ok(w.to.getTime() - w.from.getTime() <= slice);
      // Every millisecond instant is covered (sampled), the shared boundaries by two windows.
      for (let t = from.getTime(); t <= to.getTime(); t += 997_331) {
        assert.ok(
          windows.some((w) => w.from.getTime() <= t && t <= w.to.getTime()),
          `instant ${t} not covered`,
        );
      }
      for (let i = 1; i < windows.length; i++) {
        const boundary = windows[i]!.from.getTime();
        const covering = windows.filter((w) => w.from.getTime() <= boundary && boundary <= w.to.getTime());
        assert.equal(covering.length, 2);
      }
    }
  });

  test("returned dates are fresh objects: mutating one does not move the inputs", () => {
    const from = at(T0);
    const to = at(T0 + DAY);
    const [window] = sliceRange(from, to, DAY);
    window!.from.setTime(0);
    window!.to.setTime(0);
    assert.equal(from.getTime(), T0);
    assert.equal(to.getTime(), T0 + DAY);
  });

  test("a slice that is not positive is refused", () => {
    assert.throws(() => sliceRange(at(T0), at(T0 + DAY), 0), RangeError);
    assert.throws(() => sliceRange(at(T0), at(T0 + DAY), -HOUR), RangeError);
    assert.throws(() => sliceRange(at(T0), at(T0 + DAY), Number.NaN), RangeError);
  });
});

describe("planPoll", () => {
  const start = at(T0);
  const lookbackMs = 48 * HOUR;

  test("a first run (no watermark) reads from the configured start to now", () => {
    const now = at(T0 + 2 * DAY + HOUR);
    const range = planPoll({ watermark: undefined, start, now, lookbackMs });
    assert.deepEqual(range, { from: start, to: now });
  });

  test("a later run reads from watermark − lookback to now", () => {
    const watermark = at(T0 + 10 * DAY);
    const now = at(T0 + 10 * DAY + 5 * 60_000);
    const range = planPoll({ watermark, start, now, lookbackMs });
    assert.deepEqual(range, { from: at(T0 + 8 * DAY), to: now });
  });

  test("never reads before the configured start, even when watermark − lookback is earlier", () => {
    const watermark = at(T0 + 6 * HOUR);
    const now = at(T0 + 7 * HOUR);
    assert.deepEqual(planPoll({ watermark, start, now, lookbackMs }), { from: start, to: now });
  });

  test("a start in the future gives an empty range (from after to)", () => {
    const range = planPoll({ watermark: undefined, start: at(T0 + DAY), now: at(T0), lookbackMs });
    assert.ok(range.from > range.to);
    assert.deepEqual(sliceRange(range.from, range.to, DAY), []);
  });
});
