/**
 * Gzip ahead of the send. kafkajs compresses a partition's records while it holds its lock on the
 * partition's broker: each send of a transaction waits for the gzip of the one before, and gzip
 * was about half of every transaction's time (bench/README.md). Java's producer and librdkafka
 * compress as records join a batch, off the network path; this does the same for kafkajs through
 * its codec registry: the publisher hands over a partition's messages before the transaction
 * starts, their records are encoded here exactly as kafkajs will encode them and gzipped in
 * libuv's pool meanwhile, and when kafkajs asks to compress bytes equal to those (same length and
 * SHA-256), it gets that gzip. Any other bytes (another producer in the process, a message this
 * cannot predict) are gzipped then, as kafkajs' own codec does: what is sent is always the gzip of
 * what kafkajs built. The records themselves are dropped once gzipped; the digest stands for them.
 */
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import zlib from "node:zlib";
import kafkajs, { CompressionTypes, type Message } from "kafkajs";

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);

interface Prepared {
  digest: Buffer;
  compressed: Promise<Buffer>;
}

function sha256(bytes: Buffer): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/** kafkajs' codec interface: `compress` gets its Encoder, of which only `buffer` is read. */
interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

export class GzipAhead implements Codec {
  private readonly byLength = new Map<number, Prepared[]>();
  /** Settles when the last gzip prepared is done. */
  private queue: Promise<void> = Promise.resolve();
  /** Compressions served from a gzip made ahead, and made on demand (process-wide). */
  hits = 0;
  misses = 0;

  /**
   * Starts the gzip of `messages` sent as one partition's batch, each carrying the same
   * `timestamp` and no headers (else nothing is prepared). Call the returned function once the
   * transaction is over, committed or not: a retried send finds the gzip until then.
   */
  prepare(messages: readonly Message[]): () => void {
    const records = encodeRecords(messages);
    if (records === undefined) return () => undefined;
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
    const prepared: Prepared = { digest: sha256(records), compressed };
    const list = this.byLength.get(records.length);
    if (list) list.push(prepared);
    else this.byLength.set(records.length, [prepared]);
    return () => {
      const held = this.byLength.get(records.length);
      if (!held) return;
      const at = held.indexOf(prepared);
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

  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    const bytes = encoder.buffer;
    const list = this.byLength.get(bytes.length);
    if (list) {
      const digest = sha256(bytes);
      for (const prepared of list) {
        if (prepared.digest.equals(digest)) {
          this.hits++;
          return await prepared.compressed;
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

/** The process's codec for gzip, installed in kafkajs by `installGzipAhead`. */
export const gzipAhead = new GzipAhead();
let installed = false;

/** Makes `gzipAhead` kafkajs' gzip codec in this process (once; safe to call again). */
export function installGzipAhead(): GzipAhead {
  if (!installed) {
    // A named import of CompressionCodecs fails: Node cannot see it among kafkajs' CommonJS exports.
    (kafkajs.CompressionCodecs as Record<number, () => Codec>)[CompressionTypes.GZIP] = () => gzipAhead;
    installed = true;
  }
  return gzipAhead;
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
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
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
  return out;
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
