import assert from "node:assert/strict";
import { test } from "node:test";
import { CommittedRecords, type FetchedBatch, nextOffset } from "../../../src/kafka/committed.js";

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** A log of one partition, written batch by batch: data batches of one record, and markers. */
function log() {
  const batches: FetchedBatch[] = [];
  let offset = 0n;
  return {
    batches,
    data(producerId: bigint, value: string, transactional = true) {
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

test("one producer aborting several transactions: only its committed records", () => {
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
  assert.deepEqual(values(new CommittedRecords().take(l.batches)), ["b1", "d1", "f1"]);
});

test("an ABORT marker with no records before it (a transaction aborted before it wrote here) drops nothing committed", () => {
  // The broker lists no aborted transaction for such a marker; a filter that takes the marker for
  // the end of the producer's last listed abort drops `b1` and `c1` (the client's, see
  // docs/kafka-client.md).
  const l = log();
  l.data(4n, "a1");
  l.end(4n, false);
  l.data(4n, "b1");
  l.end(4n, true);
  l.data(4n, "c1");
  l.end(4n, true);
  l.end(4n, false);
  l.data(4n, "d1");
  l.end(4n, true);
  assert.deepEqual(values(new CommittedRecords().take(l.batches)), ["b1", "c1", "d1"]);
});

test("interleaved producers: each transaction counts at its own marker; records outside transactions where they stand", () => {
  const l = log();
  l.data(1n, "p1-aborted");
  l.data(2n, "p2-committed");
  l.data(9n, "plain", false);
  l.data(1n, "p1-aborted-too");
  l.end(1n, false);
  l.data(1n, "p1-committed");
  l.end(2n, true);
  l.end(1n, true);
  assert.deepEqual(values(new CommittedRecords().take(l.batches)), ["plain", "p2-committed", "p1-committed"]);
});

test("a transaction spanning fetch answers counts when its marker comes; one still open never", () => {
  const l = log();
  l.data(3n, "x1");
  l.end(3n, true);
  l.data(3n, "y1");
  l.data(5n, "z1");
  l.data(3n, "y2");
  l.end(3n, true);
  l.data(5n, "z2");
  l.end(5n, false);
  l.data(6n, "open");
  const reader = new CommittedRecords();
  const first = l.batches.slice(0, 4); // x1, its marker, y1, z1: y's and z's markers come later
  assert.deepEqual(values(reader.take(first)), ["x1"]);
  assert.deepEqual(values(reader.take(l.batches.slice(4))), ["y1", "y2"]);
  assert.equal(nextOffset(first, 0n), 4n);
  assert.equal(nextOffset([], 4n), 4n);
});
