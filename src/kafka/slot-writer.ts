import { randomUUID } from "node:crypto";
import type { CompressionAlgorithmValue, Producer } from "@platformatic/kafka";
import { ErrorCode, isPstnError, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import type { StreamMetrics } from "../metrics/index.js";
import type { CommitBatch, OutRecord, SourceTopics } from "../sink.js";
import { barrierKey, encodeBarrier } from "../state/records.js";
import { publishError } from "./errors.js";
import type { Kafka } from "./index.js";
import { byPartition, type PartitionSend, topicLayout } from "./layout.js";
import { addPartitions, openProducer, sendEachPartition } from "./session.js";

export interface SlotWriterOptions {
  kafka: Kafka;
  /** The slot's transactional id: opening the writer fences every older writer of the slot. */
  transactionalId: string;
  /** The identity the slot's own barriers are written under. */
  barrierIdentity: string;
  compression: CompressionAlgorithmValue;
  transactionTimeoutMs: number;
  logger: Logger;
}

interface Pending {
  records: Array<{ topic: string; records: readonly OutRecord[] }>;
  count: number;
  metrics?: StreamMetrics;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Records one transaction may carry for several units at once: a unit has at most one batch in
 * flight, and the units of a slot that commit together share one transaction up to this size.
 */
const MAX_RECORDS_PER_TRANSACTION = 50_000;

/**
 * The writer of one slot: one transactional producer for every unit of the slot. Units' commits
 * that arrive while a transaction is in flight go together in the next one (each unit's records
 * still become visible all at once or not at all, with its state). A writer whose transaction
 * fails, or that another replica fenced, ends (`ended`): it fails every batch from then on. It is
 * never given a new producer of its own: that would fence whoever opened the slot since, without
 * the units' state read back after, and the units' trackers would not know what that one wrote.
 * The slot opens a new writer instead, which restores its units.
 */
export class SlotWriter {
  private readonly producer: Producer;
  private closedReason: PstnError | undefined;
  private readonly queue: Pending[] = [];
  private running = false;
  private readonly endController = new AbortController();
  private readonly layouts = new Map<string, { partitions: number; maxBatchBytes: number }>();

  private constructor(
    private readonly options: SlotWriterOptions,
    producer: Producer,
  ) {
    this.producer = producer;
  }

  /**
   * Opens the slot: its first transaction fences the slot's older writers (aborting what they had
   * open) and commits a barrier in each state topic, which a restore of the slot's units reads up
   * to. Resolves with the barrier's nonce.
   */
  static async open(
    options: SlotWriterOptions,
    stateTopics: readonly string[],
  ): Promise<{ writer: SlotWriter; nonce: string }> {
    const producer = openProducer(options.kafka, options.transactionalId, options.transactionTimeoutMs);
    const writer = new SlotWriter(options, producer);
    const nonce = randomUUID();
    try {
      await writer.transact(
        stateTopics.map((topic) => ({
          topic,
          records: [{ key: barrierKey(options.barrierIdentity), value: encodeBarrier(nonce) }],
        })),
      );
    } catch (error) {
      await producer.close(true).catch(() => undefined);
      throw error;
    }
    return { writer, nonce };
  }

  /** Aborted once a transaction failed or another writer of the slot fenced this one; the reason says which. */
  get ended(): AbortSignal {
    return this.endController.signal;
  }

  /** Writes one unit's batch to its topics, in a transaction it may share with other units. */
  commit(topics: SourceTopics, batch: CommitBatch, metrics?: StreamMetrics): Promise<void> {
    return this.enqueue(
      [
        ...topics.outputs.map((topic, index) => ({ topic, records: batch.outputs[index] ?? [] })),
        { topic: topics.dlq, records: batch.dlq },
        { topic: topics.state, records: batch.state },
      ],
      metrics,
    );
  }

  /** Commits a barrier for one unit; resolves with its nonce once it is committed. */
  async barrier(stateTopic: string, identity: string): Promise<string> {
    const nonce = randomUUID();
    await this.enqueue([
      { topic: stateTopic, records: [{ key: barrierKey(identity), value: encodeBarrier(nonce) }] },
    ]);
    return nonce;
  }

  /** Closes the producer; commits asked for from now on are refused as fenced (the slot is gone). */
  async close(): Promise<void> {
    const closed = this.fenced(
      `the writer of ${this.options.transactionalId} closed: its slot is no longer held here`,
    );
    this.closedReason = closed;
    for (const pending of this.queue.splice(0)) pending.reject(closed);
    await this.producer.close(true).catch(() => undefined);
  }

  private enqueue(records: Pending["records"], metrics?: StreamMetrics): Promise<void> {
    if (this.ended.aborted) return Promise.reject(this.ended.reason);
    if (this.closedReason) return Promise.reject(this.closedReason);
    const count = records.reduce((sum, part) => sum + part.records.length, 0);
    return new Promise((resolve, reject) => {
      this.queue.push({ records, count, metrics, resolve, reject });
      this.next();
    });
  }

  /** Starts the next transaction with what is queued, unless one is in flight. */
  private next(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    let records = 0;
    let taken = 0;
    while (
      taken < this.queue.length &&
      (taken === 0 || records + (this.queue[taken]?.count ?? 0) <= MAX_RECORDS_PER_TRANSACTION)
    ) {
      records += this.queue[taken]?.count ?? 0;
      taken++;
    }
    const batch = this.queue.splice(0, taken);
    const started = performance.now();
    this.transact(batch.flatMap((pending) => pending.records))
      .then(
        () => {
          const seconds = (performance.now() - started) / 1000;
          for (const metrics of new Set(batch.map((pending) => pending.metrics))) {
            metrics?.kafkaTransactions.inc({ outcome: "committed" });
            metrics?.kafkaProduceDuration.observe(seconds);
          }
          for (const pending of batch) pending.resolve();
        },
        (error: unknown) => {
          for (const metrics of new Set(batch.map((pending) => pending.metrics)))
            metrics?.kafkaTransactions.inc({ outcome: "aborted" });
          for (const pending of [...batch, ...this.queue.splice(0)]) pending.reject(error);
        },
      )
      .finally(() => {
        this.running = false;
        this.next();
      });
  }

  /** One transaction with `parts`; any failure ends the writer. */
  private async transact(parts: Pending["records"]): Promise<void> {
    const { transactionalId } = this.options;
    if (this.ended.aborted) throw this.ended.reason;
    if (this.closedReason) throw this.closedReason;
    try {
      const sends = await this.sends(parts);
      if (sends.length === 0) return;
      const transaction = await this.producer.beginTransaction();
      try {
        await addPartitions(this.producer, transaction, sends);
        await sendEachPartition(transaction, sends, this.options.compression);
        await transaction.commit();
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      // Closed while in flight: the slot moved on, the transaction is the next owner's to abort.
      if (this.closedReason) throw this.closedReason;
      const failure = publishError(error, transactionalId);
      if (isPstnError(failure, ErrorCode.KAFKA_FENCED))
        this.options.logger.warn(
          { transactionalId },
          "another replica opened this slot: its units stop here",
        );
      else
        this.options.logger.warn(
          { transactionalId, err: failure },
          "a transaction of this slot failed: the slot opens again",
        );
      this.endController.abort(failure);
      throw failure;
    }
  }

  private async sends(parts: Pending["records"]): Promise<PartitionSend[]> {
    const unknown = [...new Set(parts.map((part) => part.topic))].filter((topic) => !this.layouts.has(topic));
    if (unknown.length > 0) {
      const layout = await topicLayout(this.options.kafka, unknown, this.options.logger);
      for (const topic of unknown) {
        const partitions = layout.partitions.get(topic);
        // Without its partition count a row's partition would be a guess: fail, and try again.
        if (partitions === undefined) throw new Error(`topic ${topic} is not in the cluster's metadata`);
        this.layouts.set(topic, { partitions, maxBatchBytes: layout.maxBatchBytes.get(topic) ?? 1 });
      }
    }
    const byTopic = new Map<string, OutRecord[]>();
    for (const { topic, records } of parts) {
      if (records.length === 0) continue;
      const list = byTopic.get(topic);
      if (list) list.push(...records);
      else byTopic.set(topic, [...records]);
    }
    const partitions = new Map([...this.layouts].map(([topic, layout]) => [topic, layout.partitions]));
    return [...byTopic].flatMap(([topic, records]) =>
      byPartition(topic, records, partitions, this.layouts.get(topic)?.maxBatchBytes),
    );
  }

  private fenced(message: string): PstnError {
    return new PstnError(ErrorCode.KAFKA_FENCED, message, { final: true });
  }
}
