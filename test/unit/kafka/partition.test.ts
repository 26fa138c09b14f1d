import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { test } from "node:test";
import { murmur2 as clientMurmur2 } from "@platformatic/kafka";
import { murmur2, partitionOfKey } from "../../../src/kafka/partition.js";

/**
 * Java's partitioner on the client's own murmur2 (a second implementation): the client's default
 * partitioner takes the hash unsigned (`>>> 0`), not Java's `& 0x7fffffff`, which is why the Sink
 * chooses every record's partition itself.
 */
function javaPartition(key: string | Buffer, partitions: number): number {
  const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  return (clientMurmur2(bytes) & 0x7fffffff) % partitions;
}

/** Keys of every length 0..40 in ASCII, multi-byte UTF-8 and raw bytes, and real-looking ids. */
function keys(): (string | Buffer)[] {
  const alphabet = ["a", "Z", "0", "-", "é", "€", "😀", "\u0000", "ÿ"];
  const out: (string | Buffer)[] = ["", "a", "ab", "abc", "abcd"];
  for (let length = 0; length <= 40; length++) {
    for (let n = 0; n < 25; n++) {
      let key = "";
      for (let i = 0; i < length; i++) key += alphabet[Math.floor(Math.random() * alphabet.length)];
      out.push(key, randomBytes(length));
    }
  }
  for (let n = 0; n < 2000; n++) out.push(randomUUID());
  return out;
}

test("murmur2 partitions every key as Java's partitioner does on the client's murmur2", () => {
  for (const key of keys()) {
    for (const partitions of [1, 2, 3, 6, 7, 12, 100]) {
      assert.equal(
        partitionOfKey(key, partitions),
        javaPartition(key, partitions),
        `key ${JSON.stringify(key)}`,
      );
    }
  }
});

test("murmur2 matches Kafka's own values for known keys", () => {
  // From Kafka's UtilsTest.testMurmur2 (org.apache.kafka.common.utils).
  const cases: [string, number][] = [
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ];
  for (const [key, expected] of cases) assert.equal(murmur2(key), expected, key);
});
