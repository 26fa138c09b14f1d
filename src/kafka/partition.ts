/**
 * The partition of a keyed record as Kafka's Java producer chooses it: murmur2 of the key's bytes,
 * made positive (`& 0x7fffffff`), modulo the partition count. The client's default partitioner
 * takes the hash unsigned instead (`>>> 0`), which puts many keys elsewhere than Java clients and
 * Kafka Connect do, so the Sink gives every record its partition. Written here on 32-bit integers:
 * the client's murmur2 works through BigInt at each step, on the main thread, for every row.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** A string whose char codes are the key's UTF-8 bytes (the key itself when it is ASCII). */
function byteString(key: string | Buffer): string {
  if (typeof key !== "string") return key.toString("latin1");
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0x7f) return Buffer.from(key, "utf8").toString("latin1");
  }
  return key;
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of the key's UTF-8 bytes. */
export function murmur2(key: string | Buffer): number {
  const data = byteString(key);
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      data.charCodeAt(i) |
      (data.charCodeAt(i + 1) << 8) |
      (data.charCodeAt(i + 2) << 16) |
      (data.charCodeAt(i + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data.charCodeAt(whole + 2) << 16;
    if (tail >= 2) h ^= data.charCodeAt(whole + 1) << 8;
    h ^= data.charCodeAt(whole);
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner gives a record with this key. */
export function partitionOfKey(key: string | Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
