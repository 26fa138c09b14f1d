/**
 * What Kafka clients alone achieve with the pipeline's own messages: the connector's client
 * (@platformatic/kafka) in transactions of the pipeline's sizes, and kcat (librdkafka), which
 * commits no transactions here.
 */

import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { KafkaCompression } from "../../src/config/types.js";
import type { Kafka } from "../../src/kafka/index.js";
import { byPartition, type PartitionSend, topicLayout } from "../../src/kafka/layout.js";
import { addPartitions, openProducer, sendEachPartition } from "../../src/kafka/session.js";
import { ensureTopics } from "../../src/kafka/topics.js";
import type { OutRecord } from "../../src/sink.js";
import { onCleanup, trackChild } from "./cleanup.js";
import { type Endpoints, TMP_DIR, topicsOf } from "./connector.js";
import { Probe } from "./sampler.js";

/** A row as the benchmark captured it: its id and its encoded value. */
export interface BenchMessage {
  key: string;
  value: Buffer;
}

export interface CeilingResult {
  rows: number;
  transactions: number;
  wallMs: number;
  rowsPerSecond: number;
  /** CPU of this process; undefined for kcat (another process). */
  cpuMs?: number;
  cpuSecondsPer100kRows?: number;
  /** The data topic's size on the broker's disk afterwards (record batches as sent), per 100k rows. */
  mbPer100kRows?: number;
}

async function createTopics(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  try {
    const [data, dlq, state] = topicsOf(topic) as [string, string, string];
    await ensureTopics(admin, { outputs: [data], dlq, state }, { dataPartitions: 6 });
  } finally {
    await admin.close();
  }
}

export interface ClientVariant {
  /** One transaction per batch (as the connector), or an idempotent producer's send per batch. */
  transactional: boolean;
  compression: KafkaCompression;
  /** One produce request per partition, as a session sends (src/kafka/session.ts), not one per broker. */
  perPartition?: boolean;
}

/**
 * A producer set up as the sessions' is (`openProducer`: idempotent, acks from all in-sync
 * replicas), on the app's own Kafka client (same retries and timeouts), records partitioned by
 * murmur2 as the Sink does, one transaction (or one send) per given batch.
 */
export async function clientCeiling(
  kafka: Kafka,
  topic: string,
  batches: readonly BenchMessage[][],
  variant: ClientVariant,
): Promise<CeilingResult> {
  await createTopics(kafka, topic);
  const { transactional, compression } = variant;
  const counts = (await topicLayout(kafka, [topic])).partitions;
  const probe = new Probe();
  const producer = openProducer(kafka, transactional ? `pstn-bench:${topic}` : undefined, 60_000);
  const unregister = onCleanup(() => producer.close(true));
  let rows = 0;
  try {
    for (const messages of batches) {
      const sends = byPartition(topic, messages as OutRecord[], counts);
      if (transactional) {
        const transaction = await producer.beginTransaction();
        try {
          await addPartitions(producer, transaction, sends);
          if (variant.perPartition) await sendEachPartition(transaction, sends, compression);
          else await transaction.send({ messages: allOf(sends), compression });
          await transaction.commit();
        } catch (error) {
          await transaction.abort().catch(() => undefined);
          throw error;
        }
      } else {
        await producer.send({ messages: allOf(sends), compression });
      }
      rows += messages.length;
    }
  } finally {
    unregister();
    await producer.close(true);
  }
  const run = probe.stop();
  const bytes = await topicBytes(kafka, topic, counts.get(topic) ?? 1);
  return {
    rows,
    transactions: transactional ? batches.length : 0,
    wallMs: run.wallMs,
    rowsPerSecond: Math.round(rows / (run.wallMs / 1000)),
    cpuMs: run.cpuMs,
    cpuSecondsPer100kRows: Math.round((run.cpuMs / 1000 / (rows / 100_000)) * 100) / 100,
    mbPer100kRows: bytes === undefined ? undefined : Math.round((bytes / 1e6 / (rows / 100_000)) * 100) / 100,
  };
}

function allOf(sends: readonly PartitionSend[]) {
  return sends.flatMap((send) => send.messages);
}

/** The bytes a topic's partitions take on the brokers' disks (DescribeLogDirs); undefined if refused. */
async function topicBytes(kafka: Kafka, topic: string, partitions: number): Promise<number | undefined> {
  const admin = kafka.admin();
  try {
    const brokers = await admin.describeLogDirs({
      topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, i) => i) }],
    });
    let bytes = 0;
    for (const broker of brokers) {
      for (const dir of broker.results) {
        for (const t of dir.topics) {
          if (t.name !== topic) continue;
          for (const partition of t.partitions)
            if (!partition.isFutureKey) bytes += Number(partition.partitionSize);
        }
      }
    }
    return bytes;
  } catch {
    return undefined;
  } finally {
    await admin.close();
  }
}

/** "kcat 1.7.1 (librdkafka 2.0.2)", or undefined when kcat is not on PATH. */
export function kcatVersion(): string | undefined {
  const result = spawnSync("kcat", ["-V"], { encoding: "utf8" });
  if (result.error || result.status !== 0) return undefined;
  const version = /Version (\S+)/.exec(result.stdout)?.[1] ?? "?";
  const librdkafka = /librdkafka (\S+)/.exec(result.stdout)?.[1] ?? "?";
  return `kcat ${version} (librdkafka ${librdkafka})`;
}

// Multi-byte delimiters: Avro binary may hold any single byte; checked absent from every message.
const KEY_DELIMITER = "\\x1e\\x1fPSTN-KEY\\x1f";
const MESSAGE_DELIMITER = "\\x1e\\x1fPSTN-MSG\\x1f";
const bytesOf = (kcatDelimiter: string) =>
  Buffer.from(
    kcatDelimiter.replace(/\\x([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    "latin1",
  );

async function writeKcatInput(file: string, messages: readonly BenchMessage[][]): Promise<number> {
  const keyDelimiter = bytesOf(KEY_DELIMITER);
  const messageDelimiter = bytesOf(MESSAGE_DELIMITER);
  const out = createWriteStream(file);
  let count = 0;
  for (const batch of messages) {
    const parts: Buffer[] = [];
    for (const message of batch) {
      const key = Buffer.from(message.key);
      const value = message.value;
      for (const part of [key, value]) {
        if (part.includes(keyDelimiter) || part.includes(messageDelimiter)) {
          throw new Error("a message contains the kcat delimiter; choose another");
        }
      }
      parts.push(key, keyDelimiter, value, messageDelimiter);
      count++;
    }
    if (!out.write(Buffer.concat(parts))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  return count;
}

/**
 * kcat producing the same keys and values from a file: idempotent, acks=all, the same codec and
 * the same (murmur2) partitioner; no transactions (kcat 1.7 can only wrap a whole run in one).
 */
export async function kcatCeiling(
  kafka: Kafka,
  endpoints: Endpoints,
  topic: string,
  messages: readonly BenchMessage[][],
  compression: KafkaCompression,
): Promise<CeilingResult> {
  await createTopics(kafka, topic);
  const file = `${TMP_DIR}${topic}.kcat`;
  const unregister = onCleanup(() => rm(file, { force: true }));
  try {
    const rows = await writeKcatInput(file, messages);
    const probe = new Probe();
    const child = spawn(
      "kcat",
      [
        "-P",
        "-q",
        "-b",
        endpoints.brokers.join(","),
        "-t",
        topic,
        "-K",
        KEY_DELIMITER,
        "-D",
        MESSAGE_DELIMITER,
        "-z",
        compression,
        "-X",
        "enable.idempotence=true",
        "-X",
        "acks=all",
        "-X",
        "topic.partitioner=murmur2_random",
        "-l",
        file,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    trackChild(child);
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, "exit")) as [number | null];
    const run = probe.stop();
    if (code !== 0) throw new Error(`kcat exited with ${code}: ${stderr.trim().slice(0, 500)}`);
    const onTopic = await messageCount(kafka, topic);
    if (onTopic !== rows) throw new Error(`kcat: ${onTopic} messages on ${topic}, ${rows} sent`);
    return {
      rows,
      transactions: 0,
      wallMs: run.wallMs,
      rowsPerSecond: Math.round(rows / (run.wallMs / 1000)),
    };
  } finally {
    unregister();
    await rm(file, { force: true });
  }
}

/** Messages on a topic written without transactions (offsets are messages, no control records). */
async function messageCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  try {
    const partitions = (await admin.metadata({ topics: [topic] })).topics.get(topic)?.partitionsCount ?? 0;
    const at = async (timestamp: bigint) => {
      const [listed] = await admin.listOffsets({
        topics: [
          {
            name: topic,
            partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
              partitionIndex,
              timestamp,
            })),
          },
        ],
      });
      return (listed?.partitions ?? []).reduce((sum, p) => sum + Number(p.offset), 0);
    };
    return (await at(-1n)) - (await at(-2n));
  } finally {
    await admin.close();
  }
}
