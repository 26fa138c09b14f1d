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

/** A prepared batch's gzip under way. */
interface PreparedGzip {
  batch: PreparedRecords;
  compressed: Promise<Buffer>;
}

/**
 * A prepared batch's records, for kafkajs' record encoder (see `installEncodeAhead`): record i is
 * `records[starts[i] .. starts[i + 1]]`, the encoding of the message whose key and value are
 * `keys[i]` and `values[i]` at offset delta i. Emptied when the transaction is over.
 */
interface PreparedRecords {
  records: Buffer | undefined;
  starts: Uint32Array;
  keys: Message["key"][];
  values: Message["value"][];
}

/** On each prepared message: its batch's records (copied by kafkajs' `{ ...message }` with it). */
const PREPARED_RECORDS = Symbol("pstn.preparedRecords");
type PreparedMessage = Message & { [PREPARED_RECORDS]?: PreparedRecords };

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
  private readonly byLength = new Map<number, PreparedGzip[]>();
  /** Settles when the last gzip prepared is done. */
  private queue: Promise<void> = Promise.resolve();
  /** Compressions served from a gzip made ahead, and made on demand (process-wide). */
  hits = 0;
  misses = 0;
  /** Records served prepared, and prepared messages kafkajs encoded itself (process-wide). */
  recordHits = 0;
  recordMisses = 0;

  /**
   * Encodes the records of `messages`, sent as one partition's batch, and starts their gzip; each
   * message must carry the same `timestamp` and no headers (else nothing is prepared). Call the
   * returned function once the transaction is over, committed or not: a retried send finds the
   * records and the gzip until then.
   */
  prepare(messages: readonly Message[]): () => void {
    const encoded = encodeRecordsWithStarts(messages);
    if (encoded === undefined) return () => undefined;
    const { records, starts } = encoded;
    const prepared: PreparedRecords = {
      records,
      starts,
      keys: messages.map((message) => message.key),
      values: messages.map((message) => message.value),
    };
    for (const message of messages) (message as PreparedMessage)[PREPARED_RECORDS] = prepared;
    // One gzip at a time, in the order kafkajs will ask for them: all of a batch's at once took
    // both cores from the transaction in flight, and the memory benchmark's RSS max was 194.8 MB
    // with them against 190.8 MB one at a time (same throughput).
    const compressed = this.queue.then(() => gzip(records));
    this.queue = compressed.then(
      () => undefined,
      () => undefined,
    );
    // Observed when kafkajs asks for it; a failure then surfaces there.
    compressed.catch(() => undefined);
    const gzipped: PreparedGzip = { batch: prepared, compressed };
    const list = this.byLength.get(records.length);
    if (list) list.push(gzipped);
    else this.byLength.set(records.length, [gzipped]);
    return () => {
      prepared.records = undefined;
      const held = this.byLength.get(records.length);
      if (!held) return;
      const at = held.indexOf(gzipped);
      if (at >= 0) held.splice(at, 1);
      if (held.length === 0) this.byLength.delete(records.length);
    };
  }

  /** How many prepared gzips are held (released ones are not). */
  get held(): number {
    let count = 0;
    for (const list of this.byLength.values()) count += list.length;
    return count;
  }

  /**
   * A prepared message's record, as kafkajs' Record v0 would encode it, or undefined when it was
   * not prepared or is not the message prepared at that offset delta (kafkajs then encodes it).
   * Returned in the shape of kafkajs' Encoder that its record batch reads (`buf`, `buffer`).
   */
  preparedRecord(args: RecordArgs): { buf: Buffer; buffer: Buffer } | undefined {
    const prepared = args[PREPARED_RECORDS];
    if (prepared === undefined) return undefined;
    const { records, starts, keys, values } = prepared;
    const at = args.offsetDelta ?? 0;
    if (
      records === undefined ||
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
      for (const gzipped of list) {
        if (gzipped.batch.records?.equals(bytes)) {
          this.hits++;
          return await gzipped.compressed;
        }
      }
    }
    this.misses++;
    return await gzip(bytes);
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

function installRecordsAhead(): boolean {
  const require = createRequire(import.meta.url);
  const recordPath = require.resolve("kafkajs/src/protocol/recordBatch/record/v0/index.js");
  const producePath = require.resolve("kafkajs/src/protocol/requests/produce/v3/request.js");
  if (require.cache[producePath] !== undefined) return false;
  const encodeRecord = require(recordPath) as (args: RecordArgs) => unknown;
  const cached = require.cache[recordPath];
  if (cached === undefined || typeof encodeRecord !== "function") return false;
  cached.exports = (args: RecordArgs) => encodeAhead.preparedRecord(args) ?? encodeRecord(args);
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
  return encodeRecordsWithStarts(messages)?.records;
}

/** `encodeRecords`, and where each record starts (one more entry: where the last ends). */
function encodeRecordsWithStarts(
  messages: readonly Message[],
): { records: Buffer; starts: Uint32Array } | undefined {
  const timestamp = messages[0]?.timestamp;
  if (timestamp === undefined || timestamp === null) return undefined;
  let size = 0;
  const keys: (Buffer | null)[] = new Array(messages.length);
  const values: (Buffer | null)[] = new Array(messages.length);
  const bodies = new Uint32Array(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] as Message;
    if (message.timestamp !== timestamp) return undefined;
    if (message.headers !== undefined && Object.keys(message.headers).length > 0) return undefined;
    const value = message.value === null || message.value === undefined ? null : bytesOf(message.value);
    const key = message.key === null || message.key === undefined ? null : bytesOf(message.key);
    keys[i] = key;
    values[i] = value;
    const body = bodySize(i, key, value);
    bodies[i] = body;
    size += varIntSize(body) + body;
  }
  const out = Buffer.allocUnsafe(size);
  const starts = new Uint32Array(messages.length + 1);
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
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
  starts[messages.length] = at;
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
