import { randomUUID } from "node:crypto";
import kafkajs, {
  CompressionTypes,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
  type ProducerConfig,
  type Transaction,
} from "kafkajs";
import { ErrorCode, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import { barrierKey, encodeBarrier } from "../state/records.js";
import { restoreState } from "../state/restore.js";
import type { StateTracker } from "../state/tracker.js";
import { encodeAhead, installEncodeAhead } from "./encode-ahead.js";
import { partitionOfKey } from "./partition.js";
import type { TopicNames } from "./topics.js";

export interface PublisherOptions {
  kafka: Kafka;
  transactionalId: string;
  identity: string;
  topics: TopicNames;
  compression: CompressionTypes;
  lookbackMs: number;
  start: Date;
  restoreTimeoutMs?: number;
  transactionTimeoutMs?: number;
  metrics?: Metrics;
  logger?: Logger;
}

export interface Batch {
  data: Message[];
  dlq: Message[];
  state: Message[];
}

/** A batch's rows grouped by partition, their records being encoded and gzipped ahead (encode-ahead.ts). */
export interface PreparedSends {
  sends: { topic: string; messages: Message[] }[];
  /** Forgets the gzips made ahead; the commit that takes the sends calls it. */
  release(): void;
}

const FENCED = new Set([
  "PRODUCER_FENCED",
  "INVALID_PRODUCER_EPOCH",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);

/**
 * The publisher's producer (the benchmark's ceilings use the same): idempotent, transactional when
 * given an id, murmur2 on the key as Java clients and Kafka Connect partition (the same id lands on
 * the same partition whoever writes it).
 */
export function producerConfig(
  transactionalId: string | undefined,
  transactionTimeoutMs: number,
): ProducerConfig {
  return {
    ...(transactionalId === undefined ? {} : { transactionalId, transactionTimeout: transactionTimeoutMs }),
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    // Retries never end (kafkajs' default for an idempotent producer); what changes is the first
    // wait. The broker answers a transaction begun right after a commit with CONCURRENT_TRANSACTIONS
    // until the commit's markers are written, a few milliseconds; the client's 200 ms first wait
    // cost more than a whole transaction. Java's producer retries that case after 20 ms.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20, maxRetryTime: 4_000 },
  };
}

/**
 * Publishes batches of rows together with the state that records them, one Kafka transaction each.
 * Opening it fences any older producer of the same identity and rebuilds the state from Kafka.
 */
export class TransactionalPublisher {
  private constructor(
    private readonly producer: Producer,
    private readonly options: PublisherOptions,
    readonly tracker: StateTracker,
    private readonly layout: TopicLayout,
  ) {}

  static async open(options: PublisherOptions): Promise<TransactionalPublisher> {
    installEncodeAhead();
    const producer = options.kafka.producer(
      producerConfig(options.transactionalId, options.transactionTimeoutMs ?? 60_000),
    );
    await producer.connect();
    try {
      // The first transaction bumps the producer epoch: an older instance is fenced and its open
      // transaction aborted. Its barrier then marks how far the restore must read.
      const nonce = randomUUID();
      const barrier = await producer.transaction();
      try {
        await barrier.send({
          topic: options.topics.state,
          acks: -1,
          messages: [{ key: barrierKey(options.identity), value: encodeBarrier(nonce) }],
        });
        await barrier.commit();
      } catch (error) {
        await barrier.abort().catch(() => undefined);
        throw publishError(error, options.transactionalId);
      }
      const tracker = await restoreState({
        kafka: options.kafka,
        stateTopic: options.topics.state,
        identity: options.identity,
        barrierNonce: nonce,
        lookbackMs: options.lookbackMs,
        start: options.start,
        timeoutMs: options.restoreTimeoutMs ?? 120_000,
        logger: options.logger,
      });
      const layout = await topicLayout(
        options.kafka,
        [options.topics.data, options.topics.dlq, options.topics.state],
        options.logger,
      );
      return new TransactionalPublisher(producer, options, tracker, layout);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Groups rows and dead letters by partition and, with gzip, hands each partition's share to
   * encode-ahead: called while the transaction before is in flight, its records are encoded and
   * gzipped, or nearly, when kafkajs needs them. Stamps the messages with this moment (their
   * CreateTime).
   */
  prepare(data: Message[], dlq: Message[]): PreparedSends {
    const { topics } = this.options;
    return this.prepareSends([...this.byPartition(topics.data, data), ...this.byPartition(topics.dlq, dlq)]);
  }

  /**
   * Commits rows, dead letters and state records atomically. `prepared`: the rows and dead letters
   * as `prepare` returned them (then `batch.data` and `batch.dlq` are not read again).
   */
  async commit(batch: Batch, prepared?: PreparedSends): Promise<void> {
    const { topics, compression, metrics } = this.options;
    const rows = prepared ?? this.prepare(batch.data, batch.dlq);
    const state = this.prepareSends(this.byPartition(topics.state, batch.state));
    try {
      const sends = [...rows.sends, ...state.sends];
      if (sends.length === 0) return;
      const started = performance.now();
      const transaction = await this.producer.transaction().catch((error: unknown) => {
        throw publishError(error, this.options.transactionalId);
      });
      try {
        await sendEachPartition(transaction, sends, compression);
        await transaction.commit();
      } catch (error) {
        metrics?.kafkaTransactions.inc({ outcome: "aborted" });
        await transaction.abort().catch(() => undefined);
        throw publishError(error, this.options.transactionalId);
      }
      metrics?.kafkaTransactions.inc({ outcome: "committed" });
      metrics?.kafkaProduceDuration.observe((performance.now() - started) / 1000);
    } finally {
      rows.release();
      state.release();
    }
  }

  private byPartition(topic: string, messages: Message[]): { topic: string; messages: Message[] }[] {
    return byPartition(topic, messages, this.layout.partitions, this.layout.maxBatchBytes.get(topic));
  }

  private prepareSends(sends: { topic: string; messages: Message[] }[]): PreparedSends {
    if (this.options.compression !== CompressionTypes.GZIP) return { sends, release: () => undefined };
    const timestamp = String(Date.now());
    const releases = sends.map(({ messages }) => {
      for (const message of messages) message.timestamp = timestamp;
      return encodeAhead.prepare(messages);
    });
    return {
      sends,
      release: () => {
        for (const release of releases) release();
      },
    };
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

/**
 * Sends each partition's messages in a request of its own, all at once. One partition per request:
 * kafkajs keeps a produce's answers per broker across its retries, so a request spanning brokers
 * can skip or resend partitions whose leader moved during a broker failover (kafkajs issue #1303):
 * rows lost or doubled although the commit succeeds. With one partition, the one broker that
 * answered answered for everything asked. All at once: requests to different brokers travel
 * together; those to one broker take turns under kafkajs' lock on it (adding the partition to the
 * transaction, encoding, compressing, producing), which is why their records are encoded and
 * gzipped ahead (encode-ahead.ts). A partition given in several sends (see `byPartition`) gets
 * them one after the other, in order. Every send settles before a failure is thrown, so that none
 * is still running when the caller aborts.
 */
export async function sendEachPartition(
  transaction: Pick<Transaction, "send">,
  sends: readonly { topic: string; messages: Message[] }[],
  compression: CompressionTypes,
): Promise<void> {
  const byTopicPartition = new Map<string, { topic: string; messages: Message[] }[]>();
  for (const send of sends) {
    const name = `${send.topic}[${send.messages[0]?.partition}]`;
    const list = byTopicPartition.get(name);
    if (list) list.push(send);
    else byTopicPartition.set(name, [send]);
  }
  const outcomes = await Promise.allSettled(
    [...byTopicPartition.values()].map(async (inOrder) => {
      for (const { topic, messages } of inOrder) {
        await transaction.send({ topic, messages, acks: -1, compression });
      }
    }),
  );
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
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
export async function topicLayout(kafka: Kafka, topics: string[], logger?: Logger): Promise<TopicLayout> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics });
    const configs = await admin
      .describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({
          // A named import of ConfigResourceTypes fails: Node cannot see it among kafkajs' CommonJS exports.
          type: kafkajs.ConfigResourceTypes.TOPIC,
          name,
          configNames: ["max.message.bytes"],
        })),
      })
      .catch((error: unknown) => {
        logger?.warn(
          { err: error, assumedMaxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES },
          "could not read the topics' max.message.bytes (DescribeConfigs); assuming the broker default",
        );
        return {
          resources: [] as {
            resourceName: string;
            configEntries: { configName: string; configValue: string }[];
          }[],
        };
      });
    const maxBatchBytes = new Map<string, number>();
    for (const topic of topics) {
      const resource = configs.resources.find((r) => r.resourceName === topic);
      const entry = resource?.configEntries.find((e) => e.configName === "max.message.bytes");
      const limit = Number(entry?.configValue ?? DEFAULT_MAX_MESSAGE_BYTES);
      const usable = Number.isFinite(limit) && limit > 0 ? limit : DEFAULT_MAX_MESSAGE_BYTES;
      maxBatchBytes.set(topic, Math.max(1, usable - BATCH_HEADROOM_BYTES));
    }
    return {
      partitions: new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length])),
      maxBatchBytes,
    };
  } finally {
    await admin.disconnect();
  }
}

/**
 * A topic's messages grouped by the partition Kafka's default partitioner gives their keys (murmur2,
 * as Java clients: the same id lands on the same partition whoever writes it), each carrying it, in
 * their order. Every message here has a key. kafkajs makes a partition's messages in one send one
 * record batch, and the broker refuses a batch over the topic's `max.message.bytes` (a refusal no
 * retry cures): a partition whose records would exceed `maxBatchBytes` is given in several sends,
 * in order (a whole batch of dead letters, or a topic of one partition).
 */
export function byPartition(
  topic: string,
  messages: Message[],
  partitions: PartitionCounts,
  maxBatchBytes = Number.POSITIVE_INFINITY,
): { topic: string; messages: Message[] }[] {
  if (messages.length === 0) return [];
  const count = partitions.get(topic);
  if (count === undefined) throw new Error(`no partition count for topic ${topic}`);
  const groups = new Map<number, Message[]>();
  for (const message of messages) {
    if (message.key === null || message.key === undefined)
      throw new Error(`a message for ${topic} has no key`);
    const partition = partitionOfKey(message.key, count);
    // Given their partition, kafkajs' partitioner returns it unchanged.
    message.partition = partition;
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
  let size = 32 + byteLength(message.key) + byteLength(message.value);
  for (const [key, value] of Object.entries(message.headers ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) size += 10 + byteLength(key) + byteLength(one);
  }
  return size;
}

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "string" ? Buffer.byteLength(value) : value.length;
}

/** kafkajs nests the broker's error in retry wrappers: look through the chain for its type. */
function kafkaErrorType(error: unknown): string | undefined {
  let current = error as { type?: string; originalError?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current.type && FENCED.has(current.type)) return current.type;
    current = (current.originalError ?? current.cause) as typeof current;
  }
  return undefined;
}

function publishError(error: unknown, transactionalId: string): PstnError {
  if (error instanceof PstnError) return error;
  const type = kafkaErrorType(error);
  if (type) {
    return new PstnError(
      ErrorCode.KAFKA_FENCED,
      `another instance with transactional id ${transactionalId} took over (${type}); this one stops`,
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new PstnError(ErrorCode.KAFKA_PUBLISH_FAILED, `publishing to Kafka failed: ${message}`, {
    cause: error,
    retriable: true,
  });
}
