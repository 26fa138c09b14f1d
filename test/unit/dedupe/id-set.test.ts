import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HorizonIdSet } from "../../../src/dedupe/id-set.js";

const HOUR = 3_600_000;
const H0 = Date.parse("2024-06-01T00:00:00.000Z");

describe("HorizonIdSet", () => {
  test("bucketOf floors to the hour of the start time", () => {
    assert.equal(HorizonIdSet.bucketOf(H0), H0);
    assert.equal(HorizonIdSet.bucketOf(H0 + HOUR - 1), H0);
    assert.equal(HorizonIdSet.bucketOf(H0 + HOUR), H0 + HOUR);
    assert.equal(HorizonIdSet.bucketOf(H0 + 59 * 60_000 + 59_999), H0);
  });

  test("add and has work per hour bucket", () => {
    const set = new HorizonIdSet();
    assert.equal(set.add("a", H0 + 10), true);
    assert.equal(set.has("a", H0 + 10), true);
    // Any start within the same hour finds it.
    assert.equal(set.has("a", H0), true);
    assert.equal(set.has("a", H0 + HOUR - 1), true);
    // Another hour does not.
    assert.equal(set.has("a", H0 + HOUR), false);
    assert.equal(set.has("a", H0 - 1), false);
    assert.equal(set.has("b", H0 + 10), false);
  });

  test("a duplicate add returns false and does not grow the set", () => {
    const set = new HorizonIdSet();
    assert.equal(set.add("a", H0 + 1), true);
    assert.equal(set.add("a", H0 + 2), false);
    assert.equal(set.size, 1);
    // The same id in another hour is a different entry (the id is only unique with its start).
    assert.equal(set.add("a", H0 + HOUR), true);
    assert.equal(set.size, 2);
  });

  test("size counts ids across buckets", () => {
    const set = new HorizonIdSet();
    assert.equal(set.size, 0);
    for (let i = 0; i < 10; i++) set.add(`id-${i}`, H0 + (i % 3) * HOUR + i);
    assert.equal(set.size, 10);
    assert.deepEqual(set.bucketStarts(), [H0, H0 + HOUR, H0 + 2 * HOUR]);
  });

  test("forgetBefore drops only buckets that end at or before the horizon", () => {
    const set = new HorizonIdSet();
    set.add("h0", H0 + 5);
    set.add("h1-start", H0 + HOUR);
    set.add("h1-end", H0 + 2 * HOUR - 1);
    set.add("h2", H0 + 2 * HOUR + 30 * 60_000);

    // Horizon inside hour 1: hour 0 ends before it, hour 1 does not end before it.
    const dropped = set.forgetBefore(H0 + HOUR + 1);
    assert.deepEqual(dropped, [H0]);
    assert.equal(set.has("h0", H0 + 5), false);
    assert.equal(set.has("h1-start", H0 + HOUR), true);
    assert.equal(set.has("h1-end", H0 + 2 * HOUR - 1), true);
    assert.equal(set.size, 3);

    // Forgetting again at the same horizon drops nothing more.
    assert.deepEqual(set.forgetBefore(H0 + HOUR + 1), []);
    assert.equal(set.size, 3);
  });

  test("a row exactly at the horizon instant is still remembered", () => {
    const set = new HorizonIdSet();
    const horizon = H0 + 3 * HOUR; // on an hour boundary
    set.add("before", horizon - 1);
    set.add("at", horizon);
    const dropped = set.forgetBefore(horizon);
    // The bucket [H0+2h, H0+3h) ends exactly at the horizon: dropped.
    assert.deepEqual(dropped, [H0 + 2 * HOUR]);
    assert.equal(set.has("before", horizon - 1), false);
    assert.equal(set.has("at", horizon), true);
    assert.equal(set.size, 1);

    // Horizon not on an hour boundary: the row exactly at it is kept too.
    const other = new HorizonIdSet();
    const h = H0 + 90 * 60_000 + 123;
    other.add("at", h);
    assert.deepEqual(other.forgetBefore(h), []);
    assert.equal(other.has("at", h), true);
  });

  test("forgetBefore returns every dropped bucket start", () => {
    const set = new HorizonIdSet();
    for (let h = 0; h < 6; h++) set.add(`x${h}`, H0 + h * HOUR + 7);
    const dropped = set.forgetBefore(H0 + 4 * HOUR).sort((a, b) => a - b);
    assert.deepEqual(dropped, [H0, H0 + HOUR, H0 + 2 * HOUR, H0 + 3 * HOUR]);
    assert.deepEqual(set.bucketStarts(), [H0 + 4 * HOUR, H0 + 5 * HOUR]);
    assert.equal(set.size, 2);
  });

  test("hasAnywhere finds an id in any bucket and forgets it with its bucket", () => {
    const set = new HorizonIdSet();
    set.add("early", H0);
    set.add("late", H0 + 10 * HOUR);
    assert.equal(set.hasAnywhere("early"), true);
    assert.equal(set.hasAnywhere("late"), true);
    assert.equal(set.hasAnywhere("never"), false);
    set.forgetBefore(H0 + HOUR);
    assert.equal(set.hasAnywhere("early"), false);
    assert.equal(set.hasAnywhere("late"), true);
  });

  test("memory stays bounded by the horizon over a long stream", () => {
    const set = new HorizonIdSet();
    const horizonHours = 48;
    const perHour = 100;
    let maxSize = 0;
    let maxBuckets = 0;
    let forgotten = 0;
    for (let hour = 0; hour < 200; hour++) {
      const bucketStart = H0 + hour * HOUR;
      for (let i = 0; i < perHour; i++) {
        // Spread starts over the hour; ids unique over the whole stream.
        assert.equal(set.add(`h${hour}-r${i}`, bucketStart + i * 36_000), true);
      }
      // Re-reading the lookback yields duplicates that must not grow the set.
      if (hour > 0) assert.equal(set.add(`h${hour - 1}-r0`, bucketStart - HOUR), false);
      const now = bucketStart + HOUR;
      forgotten += set.forgetBefore(now - horizonHours * HOUR).length;
      maxSize = Math.max(maxSize, set.size);
      maxBuckets = Math.max(maxBuckets, set.bucketStarts().length);
      assert.ok(set.size <= horizonHours * perHour, `size ${set.size} at hour ${hour}`);
    }
    assert.equal(maxSize, horizonHours * perHour);
    assert.equal(maxBuckets, horizonHours);
    assert.equal(set.size, horizonHours * perHour);
    assert.equal(forgotten, 200 - horizonHours);
    // The oldest remembered hour is exactly the one the horizon still reaches.
    assert.equal(set.bucketStarts()[0], H0 + (200 - horizonHours) * HOUR);
    assert.equal(set.has("h151-r5", H0 + 151 * HOUR + 5 * 36_000), false);
    assert.equal(set.has("h152-r5", H0 + 152 * HOUR + 5 * 36_000), true);
  });
});
