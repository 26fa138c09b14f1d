/**
 * A partition's record batch encoded and gzipped ahead of the send. kafkajs encodes and compresses
 * a partition's records while it holds its lock on the partition's broker, so each send of a
 * transaction waits for the encoding and gzip of the one before: gzip was about half of every
 * transaction, and kafkajs' record encoder (an Encoder and several buffers per record) the largest
 * share of the main thread's CPU (bench/README.md). Java's producer and librdkafka serialize and
 * compress as records join a batch, off the network path; this does the same for kafkajs. The
 * publisher hands over a partition's messages while the transaction before is in flight: their
 * records are encoded here as kafkajs encodes them, and gzipped in libuv's pool meanwhile.
 * - Records: kafkajs' record encoder, replaced in its module cache (`installEncodeAhead`), returns a
 *   prepared record as it is when it is asked for the very message (same key and value objects, no
 *   headers) at the offset delta it was prepared for, with a timestamp delta of 0.
 * - Gzip: through kafkajs' codec registry. When kafkajs asks to compress bytes equal to those
 *   prepared (compared byte for byte), it gets that gzip; any other bytes (another producer in
 *   the process, a message this cannot predict) are gzipped then, as kafkajs' own codec does.
 * Either way what is sent is exactly what kafkajs would have built and compressed itself.
 */
import { createRequire } from "node:module";
import { promisify } from "node:util";
import zlib from "node:zlib";
import kafkajs, { CompressionTypes, type Message } from "kafkajs";

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);

/**
 * A partition's batch as `prepare` took it. Its records are encoded when the queue reaches it or
 * when kafkajs first asks for one of them, whichever comes first, then gzipped; record i is
 * `records[starts[i] .. starts[i + 1]]`, the encoding of the message whose key and value were
 * `keys[i]` and `values[i]` at offset delta i.
 */
interface PreparedBatch {
  /** The messages' keys and values when prepared: what the records encode. */
  keys: Message["key"][];
  values: Message["value"][];
  encoded: boolean;
  /** Once encoded, until released. */
  records: Buffer | undefined;
  starts: Uint32Array | undefined;
  compressed: Promise<Buffer> | undefined;
  released: boolean;
}

/** On each prepared message: its batch's records (copied by kafkajs' `{ ...message }` with it). */
const PREPARED_RECORDS = Symbol("pstn.preparedRecords");
type PreparedMessage = Message & { [PREPARED_RECORDS]?: PreparedBatch };

/** What kafkajs' Record v0 is called with: a message spread with its deltas. */
interface RecordArgs extends PreparedMessage {
  offsetDelta?: number;
  timestampDelta?: number;
}

/** kafkajs' codec interface: `compress` gets its Encoder, of which only `buffer` is read. */
interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

export class EncodeAhead implements Codec {
  /** Encoded batches not released yet, by the length of their records (what kafkajs compresses). */
  private readonly byLength = new Map<number, PreparedBatch[]>();
  private readonly pending = new Set<PreparedBatch>();
  /** Settles when the last batch prepared is gzipped. */
  private queue: Promise<void> = Promise.resolve();
  /** Compressions served from a gzip made ahead, and made on demand (process-wide). */
  hits = 0;
  misses = 0;
  /** Records served prepared, and prepared messages kafkajs encoded itself (process-wide). */
  recordHits = 0;
  recordMisses = 0;

  /**
   * Takes `messages`, sent as one partition's batch, to encode their records and gzip them before
   * kafkajs asks; each message must carry the same `timestamp` and no headers (else nothing is
   * prepared). Call the returned function once the transaction is over, committed or not: a
   * retried send finds the records and the gzip until then.
   */
  prepare(messages: readonly Message[]): () => void {
    if (!predictable(messages)) return () => undefined;
    const batch: PreparedBatch = {
      keys: messages.map((message) => message.key),
      values: messages.map((message) => message.value),
      encoded: false,
      records: undefined,
      starts: undefined,
      compressed: undefined,
      released: false,
    };
    for (const message of messages) (message as PreparedMessage)[PREPARED_RECORDS] = batch;
    this.pending.add(batch);
    // Each batch in a turn of the event loop of its own, so that kafkajs' answers for the
    // transaction in flight are not kept waiting behind a whole transaction's encoding; and one
    // gzip at a time, in the order kafkajs will ask for them: all of a batch's at once took both
    // cores from the transaction in flight, and the memory benchmark's RSS max was 194.8 MB with
    // them against 190.8 MB one at a time (same throughput).
    this.queue = this.queue.then(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      if (batch.released) return;
      await this.gzipOf(batch)?.catch(() => undefined);
    });
    return () => this.release(batch);
  }

  /** How many prepared batches are held (released ones are not). */
  get held(): number {
    return this.pending.size;
  }

  /**
   * A prepared message's record, as kafkajs' Record v0 would encode it, or undefined when it was
   * not prepared or is not the message prepared at that offset delta (kafkajs then encodes it).
   * Returned in the shape of kafkajs' Encoder that its record batch reads (`buf`, `buffer`).
   */
  preparedRecord(args: RecordArgs): { buf: Buffer; buffer: Buffer } | undefined {
    const batch = args[PREPARED_RECORDS];
    if (batch === undefined) return undefined;
    const at = args.offsetDelta ?? 0;
    const records = this.recordsOf(batch);
    const { starts, keys, values } = batch;
    if (
      records === undefined ||
      starts === undefined ||
      args.timestampDelta !== 0 ||
      at >= keys.length ||
      keys[at] !== args.key ||
      values[at] !== args.value ||
      (args.headers !== undefined && Object.keys(args.headers).length > 0)
    ) {
      this.recordMisses++;
      return undefined;
    }
    this.recordHits++;
    const record = records.subarray(starts[at], starts[at + 1]);
    return { buf: record, buffer: record };
  }

  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    const bytes = encoder.buffer;
    const list = this.byLength.get(bytes.length);
    if (list) {
      for (const batch of list) {
        if (batch.records?.equals(bytes)) {
          this.hits++;
          return await (this.gzipOf(batch) as Promise<Buffer>);
        }
      }
    }
    this.misses++;
    return await gzip(bytes);
  }

  /** The batch's records, encoded now if they were not yet; undefined once released. */
  private recordsOf(batch: PreparedBatch): Buffer | undefined {
    if (!batch.encoded && !batch.released) {
      const { records, starts } = encodeRecordsOf(batch.keys, batch.values);
      batch.encoded = true;
      batch.records = records;
      batch.starts = starts;
      const list = this.byLength.get(records.length);
      if (list) list.push(batch);
      else this.byLength.set(records.length, [batch]);
    }
    return batch.records;
  }

  /** The gzip of the batch's records, started now if it was not yet. */
  private gzipOf(batch: PreparedBatch): Promise<Buffer> | undefined {
    const records = this.recordsOf(batch);
    if (records === undefined) return undefined;
    if (batch.compressed === undefined) {
      batch.compressed = gzip(records);
      // Observed when kafkajs asks for it; a failure then surfaces there.
      batch.compressed.catch(() => undefined);
    }
    return batch.compressed;
  }

  private release(batch: PreparedBatch): void {
    if (batch.released) return;
    batch.released = true;
    this.pending.delete(batch);
    const records = batch.records;
    batch.records = undefined;
    if (records === undefined) return;
    const list = this.byLength.get(records.length);
    if (!list) return;
    const at = list.indexOf(batch);
    if (at >= 0) list.splice(at, 1);
    if (list.length === 0) this.byLength.delete(records.length);
  }

  async decompress(buffer: Buffer): Promise<Buffer> {
    return await unzip(buffer);
  }
}

/** The process's codec for gzip, installed in kafkajs by `installEncodeAhead`. */
export const encodeAhead = new EncodeAhead();
let installed = false;

/** Whether kafkajs' produce request takes prepared records (see `installEncodeAhead`). */
export let recordsAheadInstalled = false;

/**
 * Makes `encodeAhead` kafkajs' gzip codec in this process, and kafkajs' record encoder (Record v0)
 * return prepared records as they are (once; safe to call again). kafkajs loads its produce
 * request, the only user of Record v0, at the first produce, and takes Record v0 from Node's module
 * cache then: replacing the module's exports before is enough. If a produce ran before, kafkajs
 * keeps its own encoder and only the gzips are made ahead.
 */
export function installEncodeAhead(): EncodeAhead {
  if (!installed) {
    // A named import of CompressionCodecs fails: Node cannot see it among kafkajs' CommonJS exports.
    (kafkajs.CompressionCodecs as Record<number, () => Codec>)[CompressionTypes.GZIP] = () => encodeAhead;
    recordsAheadInstalled = installRecordsAhead();
    installed = true;
  }
  return encodeAhead;
}

/** False when kafkajs' modules are not where kafkajs 2.2 has them: kafkajs then encodes records itself. */
function installRecordsAhead(): boolean {
  const require = createRequire(import.meta.url);
  let recordPath: string;
  let producePath: string;
  try {
    recordPath = require.resolve("kafkajs/src/protocol/recordBatch/record/v0/index.js");
    producePath = require.resolve("kafkajs/src/protocol/requests/produce/v3/request.js");
  } catch {
    return false;
  }
  if (require.cache[producePath] !== undefined) return false;
  const encodeRecord = require(recordPath) as (args: RecordArgs) => unknown;
  const cached = require.cache[recordPath];
  if (cached === undefined || typeof encodeRecord !== "function") return false;
  cached.exports = (args: RecordArgs) => encodeAhead.preparedRecord(args) ?? encodeRecord(args);
  return true;
}

/** Every message with the first one's timestamp and no headers: records `encodeRecords` can write. */
function predictable(messages: readonly Message[]): boolean {
  const timestamp = messages[0]?.timestamp;
  if (timestamp === undefined || timestamp === null) return false;
  for (const message of messages) {
    if (message.timestamp !== timestamp) return false;
    if (message.headers !== undefined && Object.keys(message.headers).length > 0) return false;
  }
  return true;
}

/**
 * The records section kafkajs (RecordBatch v0, Record v0) writes for `messages` as one batch: per
 * record its length, attributes 0, timestamp delta, offset delta, key, value and header count, in
 * Kafka's zig-zag varints. The delta is 0 when every message carries the same timestamp; without
 * one, kafkajs stamps the time of its own encoding, which cannot be known here: undefined then,
 * as for headers (dead letters), which are rare and simply gzipped on demand. Keys and values
 * given as text are written as UTF-8, as kafkajs writes them.
 */
export function encodeRecords(messages: readonly Message[]): Buffer | undefined {
  if (!predictable(messages)) return undefined;
  return encodeRecordsOf(
    messages.map((message) => message.key),
    messages.map((message) => message.value),
  ).records;
}

/**
 * The records of messages with these keys and values (timestamp delta 0, no headers), and where
 * each record starts (one more entry: where the last ends).
 */
function encodeRecordsOf(
  messageKeys: readonly Message["key"][],
  messageValues: readonly Message["value"][],
): { records: Buffer; starts: Uint32Array } {
  const count = messageKeys.length;
  let size = 0;
  const keys: (Buffer | null)[] = new Array(count);
  const values: (Buffer | null)[] = new Array(count);
  const bodies = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const rawKey = messageKeys[i];
    const rawValue = messageValues[i];
    const key = rawKey === null || rawKey === undefined ? null : bytesOf(rawKey);
    const value = rawValue === null || rawValue === undefined ? null : bytesOf(rawValue);
    keys[i] = key;
    values[i] = value;
    const body = bodySize(i, key, value);
    bodies[i] = body;
    size += varIntSize(body) + body;
  }
  const out = Buffer.allocUnsafe(size);
  const starts = new Uint32Array(count + 1);
  let at = 0;
  for (let i = 0; i < count; i++) {
    starts[i] = at;
    const key = keys[i] as Buffer | null;
    const value = values[i] as Buffer | null;
    at = writeVarInt(out, at, bodies[i] as number);
    out[at++] = 0; // attributes
    out[at++] = 0; // timestamp delta: a varlong 0
    at = writeVarInt(out, at, i);
    at = writeBytes(out, at, key);
    at = writeBytes(out, at, value);
    out[at++] = 0; // no headers: a varint 0
  }
  starts[count] = at;
  return { records: out, starts };
}

function bytesOf(key: Buffer | string): Buffer {
  return Buffer.isBuffer(key) ? key : Buffer.from(String(key), "utf8");
}

/** Attributes, timestamp delta (0), offset delta, key, value, header count (0). */
function bodySize(offsetDelta: number, key: Buffer | null, value: Buffer | null): number {
  return 1 + 1 + varIntSize(offsetDelta) + bytesSize(key) + bytesSize(value) + 1;
}

function bytesSize(bytes: Buffer | null): number {
  return bytes === null ? 1 : varIntSize(bytes.length) + bytes.length;
}

function zigZag(value: number): number {
  return ((value << 1) ^ (value >> 31)) >>> 0;
}

function varIntSize(value: number): number {
  let encoded = zigZag(value);
  let bytes = 1;
  while (encoded >= 0x80) {
    bytes++;
    encoded >>>= 7;
  }
  return bytes;
}

function writeVarInt(out: Buffer, at: number, value: number): number {
  let encoded = zigZag(value);
  while (encoded >= 0x80) {
    out[at++] = (encoded & 0x7f) | 0x80;
    encoded >>>= 7;
  }
  out[at++] = encoded;
  return at;
}

function writeBytes(out: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) return writeVarInt(out, at, -1);
  const next = writeVarInt(out, at, bytes.length);
  bytes.copy(out, next);
  return next + bytes.length;
}
