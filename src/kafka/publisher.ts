import { randomUUID } from "node:crypto";
import {
  type CompressionTypes,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
  type ProducerConfig,
} from "kafkajs";
import { ErrorCode, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import { barrierKey, encodeBarrier } from "../state/records.js";
import { restoreState } from "../state/restore.js";
import type { StateTracker } from "../state/tracker.js";
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
  ) {}

  static async open(options: PublisherOptions): Promise<TransactionalPublisher> {
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
      return new TransactionalPublisher(producer, options, tracker);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Commits rows, dead letters and state records atomically. */
  async commit(batch: Batch): Promise<void> {
    const { topics, compression, metrics } = this.options;
    const topicMessages = [
      { topic: topics.data, messages: batch.data },
      { topic: topics.dlq, messages: batch.dlq },
      { topic: topics.state, messages: batch.state },
    ].filter((entry) => entry.messages.length > 0);
    if (topicMessages.length === 0) return;
    const started = performance.now();
    const transaction = await this.producer.transaction().catch((error: unknown) => {
      throw publishError(error, this.options.transactionalId);
    });
    try {
      await transaction.sendBatch({ topicMessages, acks: -1, compression });
      await transaction.commit();
    } catch (error) {
      metrics?.kafkaTransactions.inc({ outcome: "aborted" });
      await transaction.abort().catch(() => undefined);
      throw publishError(error, this.options.transactionalId);
    }
    metrics?.kafkaTransactions.inc({ outcome: "committed" });
    metrics?.kafkaProduceDuration.observe((performance.now() - started) / 1000);
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
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
