/**
 * The tests' Kafka side: fixtures are written and topics managed with the connector's own client;
 * what the connector wrote is read back with Kafka's Java consumer (a client other than the writer).
 */
import { randomUUID } from "node:crypto";
import { retryDelay } from "../../src/kafka/client.js";
import { Kafka } from "../../src/kafka/index.js";
import { type ReadRecord, readTopicWithJava } from "./java-reader.js";

export type { ReadRecord } from "./java-reader.js";

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A client of the test cluster, as the connector's is but without security. */
export function testKafka(brokers: readonly string[], clientId = "test"): Kafka {
  return new Kafka({ clientId, bootstrapBrokers: [...brokers], retries: 12, retryDelay });
}

export interface ConsumeOptions {
  /** How many messages to wait for before the settle period starts. */
  expected: number;
  readUncommitted?: boolean;
  timeoutMs?: number;
  /** After `expected` arrived, keep reading this long so that extra messages are seen too. */
  settleMs?: number;
  /** At the timeout, return what was read instead of failing (for callers that say what is missing). */
  returnShort?: boolean;
  /** Consumer properties of Kafka's Java client (security settings). */
  properties?: Record<string, string>;
}

/** Reads a topic from its beginning with Kafka's Java consumer (read_committed unless asked) and returns every record seen. */
export async function consumeAll(
  brokers: readonly string[],
  topic: string,
  options: ConsumeOptions,
): Promise<ReadRecord[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { records, timedOut } = await readTopicWithJava(brokers, topic, {
    expected: options.expected,
    timeoutMs,
    settleMs: options.settleMs ?? 1000,
    readUncommitted: options.readUncommitted,
    properties: options.properties,
  });
  if (timedOut && !options.returnShort) {
    throw new Error(`saw ${records.length} of ${options.expected} messages on ${topic} in ${timeoutMs} ms`);
  }
  return records;
}

export interface TopicSpec {
  partitions?: number;
  configs?: Record<string, string>;
}

/** Creates a topic and waits until every partition has a leader. */
export async function createTopic(kafka: Kafka, topic: string, spec: TopicSpec = {}): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.createTopics({
      topics: [topic],
      partitions: spec.partitions ?? 1,
      replicas: 1,
      configs: Object.entries(spec.configs ?? {}).map(([name, value]) => ({ name, value })),
    });
    for (let attempt = 0; attempt < 100; attempt++) {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined);
      if (metadata?.topics.get(topic)?.partitions.every((partition) => partition.leader >= 0)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`topic ${topic} has no leader`);
  } finally {
    await admin.close();
  }
}

/** Deletes topics, ignoring those already gone. */
export async function deleteTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  if (topics.length === 0) return;
  const admin = kafka.admin();
  try {
    await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
  } finally {
    await admin.close();
  }
}

export interface FixtureMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  partition?: number;
  headers?: Record<string, string>;
}

const bytes = (value: string | Buffer): Buffer => (typeof value === "string" ? Buffer.from(value) : value);

/** The client's form of a fixture message: bytes, its topic named. */
export function toProduce(topic: string, message: FixtureMessage) {
  return {
    topic,
    ...(message.partition === undefined ? {} : { partition: message.partition }),
    ...(message.key === undefined || message.key === null ? {} : { key: bytes(message.key) }),
    ...(message.value === null ? {} : { value: bytes(message.value) }),
    ...(message.headers === undefined
      ? {}
      : { headers: new Map(Object.entries(message.headers).map(([k, v]) => [bytes(k), bytes(v)])) }),
  };
}

/** Writes fixture messages with an idempotent producer (acks from all in-sync replicas). */
export async function produce(
  kafka: Kafka,
  topic: string,
  messages: readonly FixtureMessage[],
): Promise<void> {
  const producer = kafka.producer({ idempotent: true });
  try {
    await producer.send({ messages: messages.map((message) => toProduce(topic, message)) });
  } finally {
    await producer.close();
  }
}
