/**
 * Rows checked at the door: an id longer than MAX_ID_LENGTH, or a start outside the window asked
 * for (beyond the slack), is dead-lettered with its reason once, and never again on a later read.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createRowCodec, MAX_ID_LENGTH } from "../../../src/avro/index.js";
import { HorizonIdSet } from "../../../src/dedupe/id-set.js";
import { BatchBuilder } from "../../../src/pipeline/batch.js";
import {
  decodePage,
  encodeRows,
  ROW_START_SLACK_MS,
  startOutsideWindow,
  wireHeader,
} from "../../../src/pipeline/page-codec.js";
import { InlinePageDecoder, WorkerPageDecoder } from "../../../src/pipeline/page-decoder.js";
import { StateTracker } from "../../../src/state/tracker.js";
import { seedRow } from "../avro/seed-row.js";

const HOUR = 3_600_000;
const WINDOW = { from: "2019-11-01T00:00:00.000Z", to: "2019-11-02T00:00:00.000Z" };
const BOUNDS = { fromMs: Date.parse(WINDOW.from), toMs: Date.parse(WINDOW.to) };
const LONG_ID = "x".repeat(1_000_000);

function body(rows: Record<string, unknown>[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ value: rows }));
}

/** A good row; one whose id is a megabyte; starts a day early, 59 min early, 2 h late; a 256-char id. */
function doorRows(): Record<string, unknown>[] {
  return [
    seedRow({ id: "good" }),
    seedRow({ id: LONG_ID }),
    seedRow({ id: "early", startDateTime: "2019-10-31T00:00:00Z" }),
    seedRow({ id: "within-slack", startDateTime: "2019-10-31T23:01:00Z" }),
    seedRow({ id: "late", startDateTime: "2019-11-02T02:00:00.5Z" }),
    seedRow({ id: "y".repeat(MAX_ID_LENGTH) }),
  ];
}

describe("rows checked at the door", () => {
  test("the slack: up to 1 h outside the window is the window's", () => {
    assert.equal(ROW_START_SLACK_MS, HOUR);
    assert.equal(startOutsideWindow(BOUNDS.fromMs - HOUR, BOUNDS), undefined);
    assert.match(startOutsideWindow(BOUNDS.fromMs - HOUR - 1, BOUNDS) ?? "", /before/);
    assert.equal(startOutsideWindow(BOUNDS.toMs + HOUR, BOUNDS), undefined);
    assert.match(startOutsideWindow(BOUNDS.toMs + HOUR + 1, BOUNDS) ?? "", /after/);
    assert.equal(startOutsideWindow(Number.NaN, BOUNDS), undefined, "no start: another check's business");
  });

  test("the codec refuses an id over the bound with a bounded reason; one at the bound is carried", () => {
    const codec = createRowCodec();
    const refused = codec.encode(seedRow({ id: LONG_ID }));
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.reason.startsWith(`id: 1000000 characters`), JSON.stringify(refused));
    assert.ok(!refused.ok && refused.reason.length < 200, "the reason does not carry the id");
    assert.equal(codec.encode(seedRow({ id: "y".repeat(MAX_ID_LENGTH) })).ok, true);
  });

  test("keys: an over-long id is keyed by its hash (stable), a misplaced start has no hour", () => {
    const page = decodePage(body(doorRows()), BOUNDS);
    assert.equal(page.keys[0], "good");
    assert.match(page.keys[1] as string, /^sha256:[0-9a-f]{32}$/);
    assert.equal(decodePage(body(doorRows()), BOUNDS).keys[1], page.keys[1], "the same key on every read");
    assert.notEqual(
      decodePage(body([seedRow({ id: `${LONG_ID}z` })]), BOUNDS).keys[0],
      page.keys[1],
      "another id, another key",
    );
    assert.equal(page.starts[0], Date.parse("2019-11-01T00:00:08.258Z"));
    assert.ok(Number.isNaN(page.starts[1]), "an over-long id: no usable id, no hour");
    assert.equal(page.keys[2], "early");
    assert.ok(Number.isNaN(page.starts[2]), "a day early: no hour");
    assert.equal(page.starts[3], Date.parse("2019-10-31T23:01:00Z"), "within the slack: its hour");
    assert.ok(Number.isNaN(page.starts[4]), "2 h late: no hour");
    assert.equal(page.keys[5], "y".repeat(MAX_ID_LENGTH));
    const unchecked = decodePage(body(doorRows()));
    assert.equal(unchecked.starts[2], Date.parse("2019-10-31T00:00:00Z"), "no window given: no check");
  });

  test("encodeRows dead-letters them with reasons led by the field; the DLQ copy of the row is bounded", () => {
    const rows = doorRows();
    const encoded = encodeRows(
      createRowCodec(),
      [{ header: wireHeader(7) }],
      rows,
      [0, 1, 2, 3, 4, 5],
      WINDOW,
    );
    assert.deepEqual(
      encoded.dead.map((d) => [d.at, d.reason.split(":")[0]]),
      [
        [1, "id"],
        [2, "startDateTime"],
        [4, "startDateTime"],
      ],
    );
    assert.match(
      encoded.dead[1]!.reason,
      /"2019-10-31T00:00:00Z" is more than 1 h before the window asked for/,
    );
    assert.match(encoded.dead[2]!.reason, /more than 1 h after the window asked for/);
    const letter = JSON.parse(encoded.dead[0]!.value) as { row: { id: string; callId: string } };
    assert.equal(letter.row.id.length, MAX_ID_LENGTH + 1, "the id is cut to the bound (and an ellipsis)");
    assert.equal(letter.row.callId, rows[1]!.callId, "the rest of the row travels as sent");
    assert.ok(encoded.dead[0]!.value.length < 10_000);
  });

  for (const [kind, make] of [
    ["inline", () => new InlinePageDecoder([{ schemaId: 7 }])],
    ["worker thread", () => new WorkerPageDecoder([{ schemaId: 7 }])],
  ] as const) {
    test(`dead-lettered once: the same page read again (overlapping windows) is all duplicates (${kind})`, async (t) => {
      const decoder = make();
      t.after(() => decoder.close());
      const tracker = new StateTracker("t/pstn/door", new Date(0));
      const seenAt = Date.parse("2026-01-01T10:30:00Z");
      const dlqKeys: string[] = [];
      const published: string[] = [];
      for (let poll = 0; poll < 3; poll++) {
        const batch = new BatchBuilder(tracker, () => seenAt + poll * HOUR);
        const page = await decoder.decode(body(doorRows()), BOUNDS);
        const fresh = batch.select(page);
        if (fresh.length > 0) batch.add(page, fresh, decoder.encode(page, fresh, WINDOW));
        else decoder.release(page);
        await batch.settle();
        dlqKeys.push(...batch.dlq.map((m) => String(m.key)));
        published.push(...(batch.outputs[0] ?? []).map((m) => String(m.key)));
        for (const key of batch.newIds.values()) for (const id of key) assert.ok(id.length <= MAX_ID_LENGTH);
      }
      assert.deepEqual(published.sort(), ["good", "within-slack", "y".repeat(MAX_ID_LENGTH)].sort());
      assert.equal(dlqKeys.length, 3, `three dead letters over three reads: ${dlqKeys.join(", ")}`);
      assert.deepEqual(dlqKeys.slice(1), ["early", "late"]);
      // The misplaced rows are remembered under the hour they were seen, which the horizon keeps.
      assert.ok(tracker.ids.hasAnywhere("early"));
      assert.ok(tracker.ids.holds(HorizonIdSet.bucketOf(seenAt)));
    });
  }
});
