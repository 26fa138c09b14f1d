import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { CompressionTypes, type Message } from "kafkajs";
import {
  encodeAhead,
  encodeRecords,
  installEncodeAhead,
  recordsAheadInstalled,
} from "../../../src/kafka/encode-ahead.js";

// Before kafkajs' produce request is loaded, as the publisher does before its first produce.
installEncodeAhead();

// kafkajs' own produce request (v3, what it sends to Kafka 0.11 and up): its encoding is the truth
// that the gzip made ahead must match byte for byte.
const require = createRequire(import.meta.url);
type ProduceRequest = (args: {
  acks: number;
  timeout: number;
  compression: number;
  transactionalId?: string;
  producerId: number;
  producerEpoch: number;
  topicData: {
    topic: string;
    partitions: { partition: number; firstSequence: number; messages: Message[] }[];
  }[];
}) => { encode(): Promise<{ buffer: Buffer }> };
const produceV3 = require("kafkajs/src/protocol/requests/produce/v3/request.js") as ProduceRequest;
const RecordV0 = require("kafkajs/src/protocol/recordBatch/record/v0/index.js") as (record: object) => {
  buffer: Buffer;
};

/** Values across the varint boundaries of their lengths, keys in several scripts, tombstones. */
function messages(count: number, timestamp: string): Message[] {
  const lengths = [0, 1, 63, 64, 65, 127, 128, 8191, 8192, 8193, 20_000];
  const keys = () => [randomUUID(), `é€😀-${randomUUID()}`, "", `sha256:${randomBytes(16).toString("hex")}`];
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    const key = keys()[i % 4] as string;
    const length = lengths[i % lengths.length] as number;
    const value =
      i % 13 === 5 ? null : i % 7 === 3 ? `{"v":1,"ids":["${randomUUID()}"]}` : randomBytes(length);
    out.push({ key, value, timestamp, partition: 3 });
  }
  return out;
}

async function produce(batch: Message[], compression = CompressionTypes.GZIP): Promise<Buffer> {
  const request = produceV3({
    acks: -1,
    timeout: 30_000,
    compression,
    transactionalId: "t",
    producerId: 7,
    producerEpoch: 1,
    topicData: [{ topic: "data", partitions: [{ partition: 3, firstSequence: 0, messages: batch }] }],
  });
  return (await request.encode()).buffer;
}

describe("gzip ahead", () => {
  test("the records are kafkajs' own bytes: offsets past 63, keys in several scripts, tombstones, text values", () => {
    const batch = messages(300, "1764230400000");
    const kafkajs = Buffer.concat(
      batch.map((message, offsetDelta) => RecordV0({ ...message, offsetDelta, timestampDelta: 0 }).buffer),
    );
    assert.ok(encodeRecords(batch)?.equals(kafkajs));
  });

  test("kafkajs' produce request gets the gzip made ahead, and it holds exactly kafkajs' records", async () => {
    const batch = messages(200, "1764230400000");
    const release = encodeAhead.prepare(batch);
    const [hits, misses] = [encodeAhead.hits, encodeAhead.misses];
    const encoded = await produce(batch);
    assert.equal(encodeAhead.hits - hits, 1);
    assert.equal(encodeAhead.misses - misses, 0);
    // A retried send encodes again and finds it again, until the transaction is over.
    await produce(batch);
    assert.equal(encodeAhead.hits - hits, 2);
    release();
    assert.equal(encodeAhead.held, 0);
    await produce(batch);
    assert.equal(encodeAhead.misses - misses, 1);
    // The gzip member inside the request decompresses to the records kafkajs built.
    const records = encodeRecords(batch) as Buffer;
    const start = encoded.indexOf(Buffer.from([0x1f, 0x8b]));
    assert.ok(gunzipSync(encoded.subarray(start)).equals(records));
  });

  test("messages it cannot predict are not prepared, and are gzipped when kafkajs asks", async () => {
    const mixed = messages(10, "1764230400000");
    (mixed[4] as Message).timestamp = "1764230400001";
    const headed = messages(10, "1764230400000");
    (headed[2] as Message).headers = { "pstn.reason": "duration: expected an integer" };
    const unstamped = messages(10, "1764230400000").map(({ timestamp: _, ...rest }) => rest);
    for (const batch of [mixed, headed, unstamped]) {
      assert.equal(encodeRecords(batch), undefined);
      const release = encodeAhead.prepare(batch);
      assert.equal(encodeAhead.held, 0);
      release();
    }
    const misses = encodeAhead.misses;
    await produce(mixed);
    assert.equal(encodeAhead.misses - misses, 1);
  });

  test("kafkajs' produce request takes the prepared records: the same request bytes, gzip or none", async () => {
    assert.equal(recordsAheadInstalled, true);
    for (const compression of [CompressionTypes.GZIP, CompressionTypes.None]) {
      const batch = messages(150, "1764230400000");
      // The same messages, never prepared: kafkajs encodes each record itself.
      const plain = batch.map((message) => ({ ...message }));
      const release = encodeAhead.prepare(batch);
      const [hits, misses] = [encodeAhead.recordHits, encodeAhead.recordMisses];
      const prepared = await produce(batch, compression);
      assert.equal(encodeAhead.recordHits - hits, 150);
      assert.equal(encodeAhead.recordMisses - misses, 0);
      release();
      const own = await produce(plain, compression);
      assert.equal(encodeAhead.recordHits - hits, 150);
      assert.ok(prepared.equals(own), `compression ${compression}: request bytes differ`);
    }
  });

  test("batches are encoded and gzipped in the queue's own turns, or at once when kafkajs asks first", async () => {
    const early = messages(40, "1764230400000");
    const late = messages(40, "1764230400000");
    const releaseEarly = encodeAhead.prepare(early);
    const releaseLate = encodeAhead.prepare(late);
    // kafkajs asks for the second batch before the queue reached either.
    const [hits, recordHits] = [encodeAhead.hits, encodeAhead.recordHits];
    const lateRequest = await produce(late);
    assert.equal(encodeAhead.recordHits - recordHits, 40);
    assert.equal(encodeAhead.hits - hits, 1);
    // The queue then gzips the first in its turn; kafkajs finds it done.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const earlyRequest = await produce(early);
    assert.equal(encodeAhead.recordHits - recordHits, 80);
    assert.equal(encodeAhead.hits - hits, 2);
    releaseEarly();
    releaseLate();
    assert.equal(encodeAhead.held, 0);
    // Byte for byte what kafkajs builds and gzips by itself.
    const plainEarly = early.map(({ key, value, timestamp, partition }) => ({
      key,
      value,
      timestamp,
      partition,
    }));
    const plainLate = late.map(({ key, value, timestamp, partition }) => ({
      key,
      value,
      timestamp,
      partition,
    }));
    assert.ok(earlyRequest.equals(await produce(plainEarly)));
    assert.ok(lateRequest.equals(await produce(plainLate)));
  });

  test("a prepared message kafkajs sees in another place, or after the transaction, is encoded by kafkajs", async () => {
    const batch = messages(30, "1764230400000");
    const release = encodeAhead.prepare(batch);
    const plain = batch.map((message) => ({ ...message }));
    // Another order: each message at an offset delta it was not prepared for.
    const reversed = [...batch].reverse();
    const [hits, misses] = [encodeAhead.recordHits, encodeAhead.recordMisses];
    const shifted = await produce(reversed, CompressionTypes.None);
    assert.equal(encodeAhead.recordHits - hits, 0);
    assert.equal(encodeAhead.recordMisses - misses, 30);
    assert.ok(shifted.equals(await produce([...plain].reverse(), CompressionTypes.None)));
    release();
    await produce(batch, CompressionTypes.None);
    assert.equal(encodeAhead.recordHits - hits, 0);
  });

  test("bytes changed after prepare miss it and are gzipped as they are", async () => {
    const batch = messages(20, "1764230400000");
    const release = encodeAhead.prepare(batch);
    // A copy keeps the prepared records with it; the key it now has is not theirs.
    batch[0] = { ...(batch[0] as Message), key: "another" };
    const plain = batch.map((message) => ({ ...message }));
    const [hits, misses, recordMisses] = [encodeAhead.hits, encodeAhead.misses, encodeAhead.recordMisses];
    const encoded = await produce(batch);
    assert.equal(encodeAhead.hits - hits, 0);
    assert.equal(encodeAhead.misses - misses, 1);
    assert.equal(encodeAhead.recordMisses - recordMisses, 1);
    release();
    assert.ok(encoded.equals(await produce(plain)));
  });
});
