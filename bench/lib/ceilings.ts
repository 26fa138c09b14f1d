/**
 * What Kafka clients alone achieve with the pipeline's own messages: kafkajs in transactions of the
 * pipeline's sizes, and kcat (librdkafka), which commits no transactions here.
 */

import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { CompressionTypes, type Kafka, type Message } from "kafkajs";
import { byPartition, topicLayout } from "../../src/kafka/layout.js";
import { producerConfig, sendEachPartition } from "../../src/kafka/session.js";
import { ensureTopics } from "../../src/kafka/topics.js";
import type { OutRecord } from "../../src/sink.js";
import { onCleanup, trackChild } from "./cleanup.js";
import { type Endpoints, TMP_DIR, topicsOf } from "./connector.js";
import { Probe } from "./sampler.js";

export interface CeilingResult {
  rows: number;
  transactions: number;
  wallMs: number;
  rowsPerSecond: number;
  /** CPU of this process; undefined for kcat (another process). */
  cpuMs?: number;
  cpuSecondsPer100kRows?: number;
  /** CONCURRENT_TRANSACTIONS answers kafkajs waited out (kafkajs only). */
  concurrentTransactionRetries?: number;
}

export const KCAT_CODEC: Record<number, string> = {
  [CompressionTypes.None]: "none",
  [CompressionTypes.GZIP]: "gzip",
  [CompressionTypes.Snappy]: "snappy",
  [CompressionTypes.LZ4]: "lz4",
  [CompressionTypes.ZSTD]: "zstd",
};

async function createTopics(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [data, dlq, state] = topicsOf(topic) as [string, string, string];
    await ensureTopics(admin, { data, dlq, state }, { dataPartitions: 6 });
  } finally {
    await admin.disconnect();
  }
}

export interface KafkajsVariant {
  /** One transaction per batch (as the connector), or an idempotent producer's sendBatch per batch. */
  transactional: boolean;
  compression: CompressionTypes;
  /** One produce request per partition, as the publisher sends (see publisher.ts), not one for all. */
  perPartition?: boolean;
}

/**
 * A producer set up as the connector's publisher is (idempotent, one request in flight, murmur2
 * partitioner), on the app's own Kafka client (same retries and timeouts), acks=-1, one
 * transaction (or one sendBatch) per given batch.
 */
export async function kafkajsCeiling(
  kafka: Kafka,
  topic: string,
  batches: readonly Message[][],
  variant: KafkajsVariant,
  concurrentRetries: () => number,
): Promise<CeilingResult> {
  await createTopics(kafka, topic);
  const retriesBefore = concurrentRetries();
  const { transactional, compression } = variant;
  const probe = new Probe();
  const producer = kafka.producer(producerConfig(transactional ? `pstn-bench:${topic}` : undefined, 60_000));
  const unregister = onCleanup(() => producer.disconnect());
  await producer.connect();
  const counts = variant.perPartition ? (await topicLayout(kafka, [topic])).partitions : undefined;
  let rows = 0;
  try {
    for (const messages of batches) {
      const batch = { topicMessages: [{ topic, messages }], acks: -1, compression };
      if (transactional) {
        const transaction = await producer.transaction();
        try {
          if (counts) {
            await sendEachPartition(
              transaction,
              byPartition(topic, messages as OutRecord[], counts),
              compression,
            );
          } else {
            await transaction.sendBatch(batch);
          }
          await transaction.commit();
        } catch (error) {
          await transaction.abort().catch(() => undefined);
          throw error;
        }
      } else {
        await producer.sendBatch(batch);
      }
      rows += messages.length;
    }
  } finally {
    unregister();
    await producer.disconnect();
  }
  const run = probe.stop();
  return {
    rows,
    transactions: transactional ? batches.length : 0,
    wallMs: run.wallMs,
    rowsPerSecond: Math.round(rows / (run.wallMs / 1000)),
    cpuMs: run.cpuMs,
    cpuSecondsPer100kRows: Math.round((run.cpuMs / 1000 / (rows / 100_000)) * 100) / 100,
    concurrentTransactionRetries: concurrentRetries() - retriesBefore,
  };
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

async function writeKcatInput(file: string, messages: readonly Message[][]): Promise<number> {
  const keyDelimiter = bytesOf(KEY_DELIMITER);
  const messageDelimiter = bytesOf(MESSAGE_DELIMITER);
  const out = createWriteStream(file);
  let count = 0;
  for (const batch of messages) {
    const parts: Buffer[] = [];
    for (const message of batch) {
      const key = Buffer.from(String(message.key));
      const value = message.value as Buffer;
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
  messages: readonly Message[][],
  compression: CompressionTypes,
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
        KCAT_CODEC[compression] ?? "none",
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
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}
