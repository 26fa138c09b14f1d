import { randomUUID } from "node:crypto";
import {
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

/** A batch's rows grouped by partition, their gzip under way (see encode-ahead.ts). */
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
    private readonly partitions: PartitionCounts,
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
      const partitions = await partitionCounts(options.kafka, [
        options.topics.data,
        options.topics.dlq,
        options.topics.state,
      ]);
      return new TransactionalPublisher(producer, options, tracker, partitions);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Groups rows and dead letters by partition and, with gzip, starts compressing each partition's
   * share now: called while the transaction before is in flight, the gzip is done or nearly done
   * when kafkajs needs it. Stamps the messages with this moment (their CreateTime).
   */
  prepare(data: Message[], dlq: Message[]): PreparedSends {
    const { topics } = this.options;
    return this.prepareSends([
      ...byPartition(topics.data, data, this.partitions),
      ...byPartition(topics.dlq, dlq, this.partitions),
    ]);
  }

  /**
   * Commits rows, dead letters and state records atomically. `prepared`: the rows and dead letters
   * as `prepare` returned them (then `batch.data` and `batch.dlq` are not read again).
   */
  async commit(batch: Batch, prepared?: PreparedSends): Promise<void> {
    const { topics, compression, metrics } = this.options;
    const rows = prepared ?? this.prepare(batch.data, batch.dlq);
    const state = this.prepareSends(byPartition(topics.state, batch.state, this.partitions));
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
 * transaction, encoding, compressing, producing), which is why their gzip is made ahead
 * (encode-ahead.ts). Every send settles before a failure is thrown, so that none is still running
 * when the caller aborts.
 */
export async function sendEachPartition(
  transaction: Pick<Transaction, "send">,
  sends: readonly { topic: string; messages: Message[] }[],
  compression: CompressionTypes,
): Promise<void> {
  const outcomes = await Promise.allSettled(
    sends.map(({ topic, messages }) => transaction.send({ topic, messages, acks: -1, compression })),
  );
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
}

export type PartitionCounts = ReadonlyMap<string, number>;

export async function partitionCounts(kafka: Kafka, topics: string[]): Promise<PartitionCounts> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics });
    return new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * A topic's messages grouped by the partition Kafka's default partitioner gives their keys (murmur2,
 * as Java clients: the same id lands on the same partition whoever writes it), each carrying it, in
 * their order. Every message here has a key.
 */
export function byPartition(
  topic: string,
  messages: Message[],
  partitions: PartitionCounts,
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
    .map(([, grouped]) => ({ topic, messages: grouped }));
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
