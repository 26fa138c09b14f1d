import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  barrierKey,
  checkpointKey,
  encodeBarrier,
  encodeCheckpoint,
  encodeIds,
  idsKey,
} from "../../../src/state/records.js";
import { StateRestorer } from "../../../src/state/restore.js";

const ME = "contoso/pstn/main";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse("2026-05-01T00:00:00Z");

function checkpoint(identity: string, start: number, watermark: number | undefined) {
  return {
    key: checkpointKey(identity),
    value: encodeCheckpoint({
      start: new Date(start),
      watermark: watermark === undefined ? undefined : new Date(watermark),
    }),
  };
}

function restore(
  records: { key: string; value: Buffer | null }[],
  nonce: string,
  start = T0,
  lookbackMs = DAY,
) {
  const restorer = new StateRestorer(ME, nonce);
  let stoppedAt = -1;
  records.forEach((record, i) => {
    if (stoppedAt < 0 && restorer.accept(record.key, record.value)) stoppedAt = i;
  });
  return { restorer, stoppedAt, ...restorer.build(new Date(start), lookbackMs) };
}

describe("StateRestorer", () => {
  test("a first run: no records of its own, the given start, no watermark", () => {
    const { tracker, stoppedAt } = restore(
      [checkpoint("other/pstn/main", T0 - DAY, T0), { key: barrierKey(ME), value: encodeBarrier("n1") }],
      "n1",
    );
    assert.equal(stoppedAt, 1);
    assert.equal(tracker.start.getTime(), T0);
    assert.equal(tracker.watermark, undefined);
    assert.equal(tracker.ids.size, 0);
  });

  test("reads up to its own barrier only: later records and older sessions' barriers do not count", () => {
    const records = [
      checkpoint(ME, T0 - 10 * DAY, T0 - DAY),
      { key: barrierKey(ME), value: encodeBarrier("older-session") },
      checkpoint(ME, T0 - 10 * DAY, T0),
      { key: barrierKey(ME), value: encodeBarrier("mine") },
      checkpoint(ME, T0 - 10 * DAY, T0 + DAY),
    ];
    const { tracker, stoppedAt, restorer } = restore(records, "mine");
    assert.equal(stoppedAt, 3);
    assert.equal(restorer.done, true);
    assert.equal(tracker.watermark?.getTime(), T0, "the checkpoint before the barrier, not after");
    assert.equal(tracker.start.getTime(), T0 - 10 * DAY, "the first run's start wins over the given one");
  });

  test("ids inside the horizon are restored, tombstoned ones dropped, older hours queued as tombstones", () => {
    const watermark = T0 + 10 * DAY;
    const inside = watermark - 2 * HOUR;
    const outside = watermark - 3 * DAY;
    const records = [
      { key: idsKey(ME, outside, 0), value: encodeIds(["old-1"]) },
      { key: idsKey(ME, inside, 1), value: encodeIds(["a", "b"]) },
      { key: idsKey(ME, inside, 2), value: encodeIds(["c"]) },
      { key: idsKey(ME, inside, 2), value: null },
      { key: idsKey("other/pstn/main", inside, 9), value: encodeIds(["x"]) },
      checkpoint(ME, T0, watermark),
      { key: barrierKey(ME), value: encodeBarrier("n") },
    ];
    const { tracker, summary } = restore(records, "n");
    assert.deepEqual(
      ["a", "b", "c", "old-1", "x"].map((id) => tracker.ids.hasAnywhere(id)),
      [true, true, false, false, false],
    );
    assert.deepEqual(
      tracker.takeTombstones().map((r) => [r.key, r.value]),
      [[idsKey(ME, outside, 0), null]],
    );
    assert.deepEqual(summary, {
      start: new Date(T0).toISOString(),
      watermark: new Date(watermark).toISOString(),
      ids: 2,
      liveKeys: 1,
      staleKeys: 1,
    });
    // The next ids record continues the sequence past every seen one, the tombstoned one too.
    const [next] = tracker.idsRecords(new Map([[inside, ["d"]]]));
    assert.equal(next?.key, idsKey(ME, inside, 3));
  });

  test("a deleted checkpoint (tombstone) means no watermark", () => {
    const { tracker } = restore(
      [
        checkpoint(ME, T0, T0 + DAY),
        { key: checkpointKey(ME), value: null },
        { key: barrierKey(ME), value: encodeBarrier("n") },
      ],
      "n",
    );
    assert.equal(tracker.watermark, undefined);
  });
});
