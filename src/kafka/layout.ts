import { ConfigResourceTypes, type MessageToProduce } from "@platformatic/kafka";
import type { Logger } from "../log.js";
import type { OutRecord } from "../sink.js";
import type { Kafka } from "./index.js";
import { partitionOfKey } from "./partition.js";

/** A record as the client sends it: bytes, its topic and partition chosen. */
export type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer> & { partition: number };

/** One partition's share of a topic's records, as one produce request sends it. */
export interface PartitionSend {
  topic: string;
  messages: Message[];
}

export type PartitionCounts = ReadonlyMap<string, number>;

/** What the publisher needs to know of its topics. */
export interface TopicLayout {
  partitions: PartitionCounts;
  /**
   * Per topic, the most bytes of records (uncompressed: gzip can only shrink them, give or take a
   * few bytes) one record batch may hold so that the broker takes it (the topic's
   * `max.message.bytes`, less room for the batch's own header).
   */
  maxBatchBytes: ReadonlyMap<string, number>;
}

/** The broker's default `message.max.bytes` (1 MiB and the 12 bytes of a batch's offset and size). */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/** Room left under the topic's limit: the batch header (61 bytes), gzip's framing, and margin. */
const BATCH_HEADROOM_BYTES = 4_096;

/**
 * The topics' partition counts and batch limits. A principal without DescribeConfigs on the topics
 * gets the broker's default limit (and a warning): the connector runs as before.
 */
export async function topicLayout(
  kafka: Kafka,
  topics: readonly string[],
  logger?: Logger,
): Promise<TopicLayout> {
  const admin = kafka.admin();
  try {
    const metadata = await admin.metadata({ topics: [...topics], forceUpdate: true });
    const configs = await admin
      .describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: name,
          configurationKeys: ["max.message.bytes"],
        })),
      })
      .catch((error: unknown) => {
        logger?.warn(
          { err: error, assumedMaxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES },
          "could not read the topics' max.message.bytes (DescribeConfigs); assuming the broker default",
        );
        return [];
      });
    const maxBatchBytes = new Map<string, number>();
    for (const topic of topics) {
      const resource = configs.find((r) => r.resourceName === topic);
      const entry = resource?.configs.find((e) => e.name === "max.message.bytes");
      const limit = Number(entry?.value ?? DEFAULT_MAX_MESSAGE_BYTES);
      const usable = Number.isFinite(limit) && limit > 0 ? limit : DEFAULT_MAX_MESSAGE_BYTES;
      maxBatchBytes.set(topic, Math.max(1, usable - BATCH_HEADROOM_BYTES));
    }
    const partitions = new Map<string, number>();
    for (const topic of topics) {
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (count !== undefined) partitions.set(topic, count);
    }
    return { partitions, maxBatchBytes };
  } finally {
    await admin.close();
  }
}

/**
 * A topic's records grouped by the partition Kafka's default partitioner gives their keys (murmur2,
 * as Java clients: the same id lands on the same partition whoever writes it), each carrying it, in
 * their order. Every message here has a key. The client makes a partition's messages in one send
 * one record batch, and the broker refuses a batch over the topic's `max.message.bytes` (a refusal no
 * retry cures): a partition whose records would exceed `maxBatchBytes` is given in several sends,
 * in order (a whole batch of dead letters, or a topic of one partition).
 */
export function byPartition(
  topic: string,
  records: readonly OutRecord[],
  partitions: PartitionCounts,
  maxBatchBytes = Number.POSITIVE_INFINITY,
): PartitionSend[] {
  if (records.length === 0) return [];
  const count = partitions.get(topic);
  if (count === undefined) throw new Error(`no partition count for topic ${topic}`);
  const groups = new Map<number, Message[]>();
  for (const { key, value, headers } of records) {
    if (key === null || key === undefined) throw new Error(`a record for ${topic} has no key`);
    const partition = partitionOfKey(key, count);
    const message: Message = {
      topic,
      partition,
      key: bytes(key),
      ...(value === null ? {} : { value: bytes(value) }),
      ...(headers ? { headers: headerBytes(headers) } : {}),
    };
    const group = groups.get(partition);
    if (group) group.push(message);
    else groups.set(partition, [message]);
  }
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .flatMap(([, grouped]) =>
      splitByBytes(grouped, maxBatchBytes).map((chunk) => ({ topic, messages: chunk })),
    );
}

/** Consecutive runs of `messages` whose records take at most `maxBytes` each (one message at least). */
function splitByBytes(messages: Message[], maxBytes: number): Message[][] {
  if (maxBytes === Number.POSITIVE_INFINITY) return [messages];
  const chunks: Message[][] = [];
  let chunk: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = recordBytesAtMost(message);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(message);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** An upper bound of a message's record size: its bytes, and 5-byte varints for every length. */
function recordBytesAtMost(message: Message): number {
  let size = 32 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
  for (const [key, value] of (message.headers as Map<Buffer, Buffer> | undefined) ?? []) {
    size += 10 + key.length + value.length;
  }
  return size;
}

/** The client writes bytes: a string's length would count characters, not its UTF-8 bytes. */
function bytes(value: Buffer | string): Buffer {
  return typeof value === "string" ? Buffer.from(value, "utf8") : value;
}

function headerBytes(headers: Record<string, string>): Map<Buffer, Buffer> {
  return new Map(Object.entries(headers).map(([key, value]) => [bytes(key), bytes(value)]));
}
