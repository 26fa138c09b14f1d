import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OutRecord as Message } from "../../../src/sink.js";
import {
  checkpointKey,
  decodeCheckpoint,
  decodeIds,
  idsKey,
  parseStateKey,
} from "../../../src/state/records.js";
import { StateTracker } from "../../../src/state/tracker.js";

const HOUR = 3_600_000;
const IDENTITY = "tenant/pstn/main";
const B0 = Date.parse("2024-06-01T00:00:00.000Z");
const B1 = B0 + HOUR;
const B2 = B0 + 2 * HOUR;

/** What the batch builder does: remember the ids, then ask for their state records. */
function publish(tracker: StateTracker, newIds: Map<number, string[]>): Message[] {
  for (const [bucket, ids] of newIds) for (const id of ids) tracker.ids.add(id, bucket + 1000);
  return tracker.idsRecords(newIds);
}

const START = new Date("2024-01-01T00:00:00Z");

function watermarkOf(tracker: StateTracker): number | undefined {
  return tracker.watermark?.getTime();
}

function keyOf(message: Message): string {
  return String(message.key);
}

describe("StateTracker", () => {
  test("idsRecords writes one record per bucket with increasing sequence numbers", () => {
    const tracker = new StateTracker(IDENTITY, START);
    const first = publish(
      tracker,
      new Map([
        [B0, ["a", "b"]],
        [B1, ["c"]],
      ]),
    );
    assert.deepEqual(first.map(keyOf), [idsKey(IDENTITY, B0, 0), idsKey(IDENTITY, B1, 1)]);
    assert.deepEqual(decodeIds(first[0]!.value as Buffer), ["a", "b"]);
    assert.deepEqual(decodeIds(first[1]!.value as Buffer), ["c"]);

    const second = publish(
      tracker,
      new Map([
        [B1, ["d"]],
        [B2, []],
      ]),
    );
    // An empty list writes nothing and uses no sequence number.
    assert.deepEqual(second.map(keyOf), [idsKey(IDENTITY, B1, 2)]);
    const third = publish(tracker, new Map([[B2, ["e"]]]));
    assert.deepEqual(third.map(keyOf), [idsKey(IDENTITY, B2, 3)]);

    for (const message of [...first, ...second, ...third]) {
      const parsed = parseStateKey(IDENTITY, keyOf(message));
      assert.equal(parsed?.kind, "ids");
    }
    assert.equal(tracker.liveKeyCount(), 4);
  });

  test("ids of hours the horizon passed after they were batched get no record (their checkpoint rides along)", () => {
    const tracker = new StateTracker(IDENTITY, START);
    const batched = new Map([
      [B0, ["a"]],
      [B2, ["b"]],
    ]);
    for (const [bucket, ids] of batched) for (const id of ids) tracker.ids.add(id, bucket + 1000);
    // The window ends before the transaction is built: its checkpoint forgets B0.
    tracker.advance(new Date(B2 + HOUR), new Date(B1));
    const messages = tracker.idsRecords(batched);
    assert.deepEqual(messages.map(keyOf), [idsKey(IDENTITY, B2, 0)]);
    assert.deepEqual(decodeIds(messages[0]!.value as Buffer), ["b"]);
    // Nothing for B0 waits for a tombstone either: no key of it was ever written.
    assert.deepEqual(tracker.takeTombstones(), []);
    assert.equal(tracker.liveKeyCount(), 1);
  });

  test("a restored tracker continues after the restored sequence number", () => {
    const tracker = new StateTracker(IDENTITY, START, { nextSeq: 42, staleKeys: [] });
    const messages = publish(tracker, new Map([[B0, ["a"]]]));
    assert.deepEqual(messages.map(keyOf), [idsKey(IDENTITY, B0, 42)]);
  });

  test("advance moves the watermark only forward and returns the checkpoint record", () => {
    const tracker = new StateTracker(IDENTITY, START);
    assert.equal(watermarkOf(tracker), undefined);
    const w1 = new Date(B0 + 10 * HOUR);
    const [checkpoint, ...rest] = tracker.advance(w1, new Date(B0));
    assert.equal(rest.length, 0);
    assert.equal(keyOf(checkpoint!), checkpointKey(IDENTITY));
    assert.equal(decodeCheckpoint(checkpoint!.value as Buffer).watermark?.getTime(), w1.getTime());
    assert.equal(watermarkOf(tracker), w1.getTime());

    // An earlier watermark does not move it back; the record still carries the newest one.
    const [again] = tracker.advance(new Date(B0 + 5 * HOUR), new Date(B0));
    assert.equal(watermarkOf(tracker), w1.getTime());
    assert.equal(decodeCheckpoint(again!.value as Buffer).watermark?.getTime(), w1.getTime());

    const w2 = new Date(B0 + 11 * HOUR + 1);
    const [later] = tracker.advance(w2, new Date(B0));
    assert.equal(watermarkOf(tracker), w2.getTime());
    assert.equal(decodeCheckpoint(later!.value as Buffer).watermark?.getTime(), w2.getTime());
  });

  test("every checkpoint carries the start the tracker was built with", () => {
    const tracker = new StateTracker(IDENTITY, START);
    const fresh = decodeCheckpoint(tracker.checkpointRecord().value as Buffer);
    assert.equal(fresh.start.getTime(), START.getTime());
    assert.equal(fresh.watermark, undefined);
    const [after] = tracker.advance(new Date(B0 + HOUR), new Date(B0));
    assert.equal(decodeCheckpoint(after!.value as Buffer).start.getTime(), START.getTime());
  });

  test("advance queues tombstones for exactly the forgotten buckets' keys", () => {
    const tracker = new StateTracker(IDENTITY, START);
    publish(
      tracker,
      new Map([
        [B0, ["a"]],
        [B1, ["b"]],
        [B2, ["c"]],
      ]),
    );
    publish(
      tracker,
      new Map([
        [B0, ["d"]],
        [B2, ["e"]],
      ]),
    );
    // Keys: B0 → seq 0 and 3, B1 → 1, B2 → 2 and 4.
    assert.equal(tracker.liveKeyCount(), 5);
    assert.deepEqual(tracker.takeTombstones(), []);

    // Horizon inside hour B1: only B0 has ended at or before it.
    tracker.advance(new Date(B2 + HOUR), new Date(B1 + 1));
    const first = tracker.takeTombstones();
    assert.deepEqual(first.map(keyOf).sort(), [idsKey(IDENTITY, B0, 0), idsKey(IDENTITY, B0, 3)].sort());
    for (const tombstone of first) assert.equal(tombstone.value, null);
    assert.equal(tracker.liveKeyCount(), 3);
    assert.equal(tracker.ids.has("a", B0), false);
    assert.equal(tracker.ids.has("b", B1), true);

    // The queue was emptied; advancing with the same horizon adds nothing.
    assert.deepEqual(tracker.takeTombstones(), []);
    tracker.advance(new Date(B2 + HOUR), new Date(B1 + 1));
    assert.deepEqual(tracker.takeTombstones(), []);

    // Horizon exactly at B2: B1 ends there and goes; B2 stays.
    tracker.advance(new Date(B2 + 2 * HOUR), new Date(B2));
    assert.deepEqual(tracker.takeTombstones().map(keyOf), [idsKey(IDENTITY, B1, 1)]);
    assert.equal(tracker.liveKeyCount(), 2);
    assert.equal(tracker.ids.has("c", B2), true);
  });

  test("tombstones accumulate until taken", () => {
    const tracker = new StateTracker(IDENTITY, START);
    publish(
      tracker,
      new Map([
        [B0, ["a"]],
        [B1, ["b"]],
      ]),
    );
    tracker.advance(new Date(B2), new Date(B1));
    tracker.advance(new Date(B2), new Date(B2));
    assert.deepEqual(tracker.takeTombstones().map(keyOf), [idsKey(IDENTITY, B0, 0), idsKey(IDENTITY, B1, 1)]);
    assert.deepEqual(tracker.takeTombstones(), []);
  });

  test("restored ids dedupe and are tombstoned with their bucket", () => {
    const tracker = new StateTracker(IDENTITY, START, {
      watermark: new Date(B2),
      nextSeq: 10,
      staleKeys: [],
    });
    const k0 = idsKey(IDENTITY, B0, 3);
    const k1 = idsKey(IDENTITY, B1, 7);
    tracker.restoreIds(B0, k0, ["a", "b"]);
    tracker.restoreIds(B1, k1, ["c"]);
    assert.equal(tracker.ids.size, 3);
    assert.equal(tracker.ids.add("a", B0 + 5), false);
    assert.equal(tracker.liveKeyCount(), 2);
    tracker.advance(new Date(B2), new Date(B1));
    assert.deepEqual(tracker.takeTombstones().map(keyOf), [k0]);
  });

  test("a tracker restored with stale keys emits them as tombstones", () => {
    const stale = [idsKey(IDENTITY, B0 - 100 * HOUR, 1), idsKey(IDENTITY, B0 - 99 * HOUR, 2)];
    const tracker = new StateTracker(IDENTITY, START, {
      watermark: new Date(B0),
      nextSeq: 3,
      staleKeys: stale,
    });
    assert.equal(watermarkOf(tracker), B0);
    const tombstones = tracker.takeTombstones();
    assert.deepEqual(
      tombstones.map((m) => [keyOf(m), m.value]),
      stale.map((key) => [key, null]),
    );
    assert.deepEqual(tracker.takeTombstones(), []);
    // Stale keys are not live keys.
    assert.equal(tracker.liveKeyCount(), 0);
  });
});
