import { randomUUID } from "node:crypto";
import type { CompressionAlgorithmValue, Producer } from "@platformatic/kafka";
import type { Logger } from "../log.js";
import type { StreamMetrics } from "../metrics/index.js";
import type { CommitBatch, OutRecord, SessionSpec, SinkSession } from "../sink.js";
import { barrierKey, encodeBarrier } from "../state/records.js";
import type { StateTracker } from "../state/tracker.js";
import { publishError } from "./errors.js";
import type { Kafka } from "./index.js";
import { byPartition, type PartitionSend, type TopicLayout, topicLayout } from "./layout.js";
import { restoreState } from "./restore.js";

/** A transaction of the client (its class is not among the package's exports). */
type Transaction = Awaited<ReturnType<Producer["beginTransaction"]>>;

export interface KafkaSessionOptions {
  kafka: Kafka;
  compression: CompressionAlgorithmValue;
  restoreTimeoutMs?: number;
  transactionTimeoutMs?: number;
  metrics?: StreamMetrics;
  logger?: Logger;
}

/**
 * A session's producer (the benchmark's ceilings use the same): idempotent, with acks from every
 * in-sync replica, and transactional when given an id. The client sends InitProducerId with its
 * `timeout` as the transaction timeout, and uses the same as the broker's wait for acks.
 */
export function openProducer(
  kafka: Kafka,
  transactionalId: string | undefined,
  transactionTimeoutMs: number,
): Producer {
  return kafka.producer({
    idempotent: true,
    timeout: transactionTimeoutMs,
    // InitProducerId with no producer id of its own (-1, as Kafka's Java producer starts): the
    // broker bumps the epoch of the transactional id's producer, fencing any older session. The
    // client's default (0, 0) names a producer that is not the id's, which the broker refuses as
    // fenced once the id has a producer.
    producerId: -1n,
    producerEpoch: -1,
    ...(transactionalId === undefined ? {} : { transactionalId }),
  });
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
    const producer = openProducer(
      options.kafka,
      spec.transactionalId,
      options.transactionTimeoutMs ?? 60_000,
    );
    try {
      // The first transaction sends InitProducerId, which bumps the producer epoch: an older
      // instance is fenced and its open transaction aborted. Its barrier then marks how far the
      // restore must read.
      const nonce = randomUUID();
      const barrier = await producer.beginTransaction().catch((error: unknown) => {
        throw publishError(error, spec.transactionalId);
      });
      try {
        await barrier.send({
          messages: [
            {
              topic: spec.topics.state,
              partition: 0,
              key: Buffer.from(barrierKey(spec.identity)),
              value: Buffer.from(encodeBarrier(nonce)),
            },
          ],
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
      const { outputs, dlq, state: stateTopic } = spec.topics;
      const layout = await topicLayout(options.kafka, [...outputs, dlq, stateTopic], options.logger);
      return new KafkaSession(producer, spec, options, state, layout);
    } catch (error) {
      await producer.close(true).catch(() => undefined);
      throw error;
    }
  }

  async commit(batch: CommitBatch): Promise<void> {
    const { topics, transactionalId } = this.spec;
    const { compression, metrics } = this.options;
    const sends = [
      ...topics.outputs.flatMap((topic, index) => this.byPartition(topic, batch.outputs[index] ?? [])),
      ...this.byPartition(topics.dlq, batch.dlq),
      ...this.byPartition(topics.state, batch.state),
    ];
    if (sends.length === 0) return;
    const started = performance.now();
    const transaction = await this.producer.beginTransaction().catch((error: unknown) => {
      throw publishError(error, transactionalId);
    });
    try {
      await addPartitions(this.producer, transaction, sends);
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
    await this.producer.close(true);
  }

  private byPartition(topic: string, records: readonly OutRecord[]): PartitionSend[] {
    return byPartition(topic, records, this.layout.partitions, this.layout.maxBatchBytes.get(topic));
  }
}

/**
 * Adds every partition of the transaction to it in one request, before any send. Left to each
 * send, the client adds them one send at a time, and concurrent sends share one request in flight
 * (the client deduplicates it by name): the partitions of the sends that joined it are not added,
 * and the broker refuses their records.
 */
export async function addPartitions(
  producer: Pick<Producer, "metadata">,
  transaction: Pick<Transaction, "addPartitions">,
  sends: readonly PartitionSend[],
): Promise<void> {
  const topics = [...new Set(sends.map((send) => send.topic))];
  const metadata = await producer.metadata({ topics });
  const seen = new Set<string>();
  const partitions = [];
  for (const { topic, messages } of sends) {
    const partition = messages[0]?.partition ?? 0;
    if (seen.has(`${topic}:${partition}`)) continue;
    seen.add(`${topic}:${partition}`);
    partitions.push({ topic, partition, value: EMPTY });
  }
  await transaction.addPartitions(metadata, partitions);
}

const EMPTY = Buffer.alloc(0);

/**
 * Sends each partition's messages in a request of its own, all at once. One partition per request:
 * on a retry the client sends a request to the current leader of its first message's partition,
 * so a request spanning partitions whose leaders moved to different brokers during a failover
 * would reach a broker that leads only some of them. With one partition, the broker that answers
 * answers for everything asked. All at once: requests to different brokers travel together. A
 * partition given in several sends (see `byPartition`) gets them one after the other, in order.
 * Every send settles before a failure is thrown, so that none is still running when the caller
 * aborts.
 */
export async function sendEachPartition(
  transaction: Pick<Transaction, "send">,
  sends: readonly PartitionSend[],
  compression: CompressionAlgorithmValue,
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
      for (const { messages } of inOrder) {
        await transaction.send({ messages, compression });
      }
    }),
  );
  for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
}
