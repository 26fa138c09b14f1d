import { randomUUID } from "node:crypto";
import {
  type CompressionTypes,
  type Kafka,
  Partitioners,
  type Producer,
  type ProducerConfig,
  type Transaction,
} from "kafkajs";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import type { CommitBatch, SessionSpec, SinkSession } from "../sink.js";
import { barrierKey, encodeBarrier } from "../state/records.js";
import type { StateTracker } from "../state/tracker.js";
import { publishError } from "./errors.js";
import { byPartition, type PartitionSend, type TopicLayout, topicLayout } from "./layout.js";
import { restoreState } from "./restore.js";

export interface KafkaSessionOptions {
  kafka: Kafka;
  compression: CompressionTypes;
  restoreTimeoutMs?: number;
  transactionTimeoutMs?: number;
  metrics?: Metrics;
  logger?: Logger;
}

/**
 * The sessions' producer (the benchmark's ceilings use the same): idempotent, transactional when
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
 * One source's writer: a transactional producer that fenced every older one with the same id, the
 * state it restored, and the layout of its topics. Each commit is one Kafka transaction.
 */
export class KafkaSession implements SinkSession {
  private constructor(
    private readonly producer: Producer,
    private readonly spec: SessionSpec,
    private readonly options: KafkaSessionOptions,
    readonly state: StateTracker,
    private readonly layout: TopicLayout,
  ) {}

  static async open(spec: SessionSpec, options: KafkaSessionOptions): Promise<KafkaSession> {
    const producer = options.kafka.producer(
      producerConfig(spec.transactionalId, options.transactionTimeoutMs ?? 60_000),
    );
    await producer.connect();
    try {
      // The first transaction bumps the producer epoch: an older instance is fenced and its open
      // transaction aborted. Its barrier then marks how far the restore must read.
      const nonce = randomUUID();
      const barrier = await producer.transaction();
      try {
        await barrier.send({
          topic: spec.topics.state,
          acks: -1,
          messages: [{ key: barrierKey(spec.identity), value: encodeBarrier(nonce) }],
        });
        await barrier.commit();
      } catch (error) {
        await barrier.abort().catch(() => undefined);
        throw publishError(error, spec.transactionalId);
      }
      const state = await restoreState({
        kafka: options.kafka,
        stateTopic: spec.topics.state,
        identity: spec.identity,
        barrierNonce: nonce,
        lookbackMs: spec.lookbackMs,
        start: spec.start,
        timeoutMs: options.restoreTimeoutMs ?? 120_000,
        logger: options.logger,
      });
      const { data, dlq, state: stateTopic } = spec.topics;
      const layout = await topicLayout(options.kafka, [data, dlq, stateTopic], options.logger);
      return new KafkaSession(producer, spec, options, state, layout);
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async commit(batch: CommitBatch): Promise<void> {
    const { topics, transactionalId } = this.spec;
    const { compression, metrics } = this.options;
    const sends = [
      ...this.byPartition(topics.data, batch.data),
      ...this.byPartition(topics.dlq, batch.dlq),
      ...this.byPartition(topics.state, batch.state),
    ];
    if (sends.length === 0) return;
    const started = performance.now();
    const transaction = await this.producer.transaction().catch((error: unknown) => {
      throw publishError(error, transactionalId);
    });
    try {
      await sendEachPartition(transaction, sends, compression);
      await transaction.commit();
    } catch (error) {
      metrics?.kafkaTransactions.inc({ outcome: "aborted" });
      await transaction.abort().catch(() => undefined);
      throw publishError(error, transactionalId);
    }
    metrics?.kafkaTransactions.inc({ outcome: "committed" });
    metrics?.kafkaProduceDuration.observe((performance.now() - started) / 1000);
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }

  private byPartition(topic: string, records: CommitBatch["data"]): PartitionSend[] {
    return byPartition(topic, records, this.layout.partitions, this.layout.maxBatchBytes.get(topic));
  }
}

/**
 * Sends each partition's messages in a request of its own, all at once. One partition per request:
 * kafkajs keeps a produce's answers per broker across its retries, so a request spanning brokers
 * can skip or resend partitions whose leader moved during a broker failover (kafkajs issue #1303):
 * rows lost or doubled although the commit succeeds. With one partition, the one broker that
 * answered answered for everything asked. All at once: requests to different brokers travel
 * together; those to one broker take turns under kafkajs' lock on it. A partition given in several sends (see `byPartition`) gets
 * them one after the other, in order. Every send settles before a failure is thrown, so that none
 * is still running when the caller aborts.
 */
export async function sendEachPartition(
  transaction: Pick<Transaction, "send">,
  sends: readonly PartitionSend[],
  compression: CompressionTypes,
): Promise<void> {
  const byTopicPartition = new Map<string, PartitionSend[]>();
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
