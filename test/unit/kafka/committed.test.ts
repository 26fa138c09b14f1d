import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AbortedTransaction,
  committedRecords,
  type FetchedBatch,
  nextOffset,
} from "../../../src/kafka/committed.js";

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** A log of one partition, written batch by batch: data batches of one record, and markers. */
function log() {
  const batches: FetchedBatch[] = [];
  const aborted: AbortedTransaction[] = [];
  const open = new Map<bigint, bigint>();
  let offset = 0n;
  return {
    batches,
    aborted,
    data(producerId: bigint, value: string, transactional = true) {
      if (transactional && !open.has(producerId)) open.set(producerId, offset);
      batches.push({
        firstOffset: offset++,
        lastOffsetDelta: 0,
        attributes: transactional ? TRANSACTIONAL : 0,
        producerId,
        records: [{ key: Buffer.from("k"), value: Buffer.from(value) }],
      });
    },
    end(producerId: bigint, commit: boolean) {
      const key = Buffer.alloc(4);
      key.writeInt16BE(0, 0);
      key.writeInt16BE(commit ? 1 : 0, 2);
      if (!commit) aborted.push({ producerId, firstOffset: open.get(producerId) as bigint });
      open.delete(producerId);
      batches.push({
        firstOffset: offset++,
        lastOffsetDelta: 0,
        attributes: TRANSACTIONAL | CONTROL,
        producerId,
        records: [{ key, value: Buffer.alloc(6) }],
      });
    },
  };
}

const values = (records: { value: Buffer | null }[]) => records.map((r) => r.value?.toString());

test("one producer aborting several transactions in one answer: only its committed records", () => {
  const l = log();
  for (const [name, commit] of [
    ["a", false],
    ["b", true],
    ["c", false],
    ["d", true],
    ["e", false],
    ["f", true],
  ] as const) {
    const count = name === "a" || name === "c" ? 3 : 1;
    for (let i = 1; i <= count; i++) l.data(7n, `${name}${i}`);
    l.end(7n, commit);
  }
  assert.deepEqual(values(committedRecords(l.batches, l.aborted)), ["b1", "d1", "f1"]);
  // The broker's list in any order gives the same answer.
  assert.deepEqual(values(committedRecords(l.batches, [...l.aborted].reverse())), ["b1", "d1", "f1"]);
});

test("interleaved producers: one's abort does not drop the other's records; plain records stay", () => {
  const l = log();
  l.data(1n, "p1-aborted");
  l.data(2n, "p2-committed");
  l.data(9n, "plain", false);
  l.data(1n, "p1-aborted-too");
  l.end(1n, false);
  l.data(1n, "p1-committed");
  l.end(2n, true);
  l.end(1n, true);
  assert.deepEqual(values(committedRecords(l.batches, l.aborted)), ["p2-committed", "plain", "p1-committed"]);
});

test("an aborted transaction whose marker lies beyond the answer is dropped up to the answer's end", () => {
  const l = log();
  l.data(3n, "x1");
  l.end(3n, true);
  l.data(3n, "y1");
  l.data(3n, "y2");
  l.end(3n, false);
  const cut = l.batches.slice(0, 4); // x1, marker, y1, y2: the ABORT marker comes in the next answer
  assert.deepEqual(values(committedRecords(cut, l.aborted)), ["x1"]);
  assert.deepEqual(values(committedRecords(l.batches, null)), ["x1", "y1", "y2"], "no list: nothing aborted");
  assert.equal(nextOffset(cut, 0n), 4n);
  assert.equal(nextOffset([], 4n), 4n);
});
