import { CompressionTypes, type Kafka } from "kafkajs";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import type { Election, ElectionSpec, SessionSpec, Sink, SinkSession, SourceTopics } from "../sink.js";
import { Leadership } from "./leadership.js";
import { KafkaSession } from "./session.js";
import { ensureTopics } from "./topics.js";

export interface KafkaSinkOptions {
  kafka: Kafka;
  logger: Logger;
  metrics?: Metrics;
  /** Partitions of a data topic the sink creates. */
  dataPartitions?: number;
  /** Compression of the rows and dead letters; kafkajs gzips in libuv's thread pool. */
  compression?: CompressionTypes;
  restoreTimeoutMs?: number;
  transactionTimeoutMs?: number;
}

/** The Sink on kafkajs: one client (and its broker connections) shared by every source. */
export class KafkaSink implements Sink {
  constructor(private readonly options: KafkaSinkOptions) {}

  async describeCluster(): Promise<{ brokers: number }> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      return { brokers: (await admin.describeCluster()).brokers.length };
    } finally {
      await admin.disconnect();
    }
  }

  async ensureTopics(topics: SourceTopics): Promise<string[]> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      return await ensureTopics(admin, topics, { dataPartitions: this.options.dataPartitions ?? 6 });
    } finally {
      await admin.disconnect();
    }
  }

  openSession(spec: SessionSpec): Promise<SinkSession> {
    const { kafka, logger, metrics, compression, restoreTimeoutMs, transactionTimeoutMs } = this.options;
    return KafkaSession.open(spec, {
      kafka,
      compression: compression ?? CompressionTypes.GZIP,
      logger,
      metrics,
      restoreTimeoutMs,
      transactionTimeoutMs,
    });
  }

  joinElection(spec: ElectionSpec): Promise<Election> {
    const { kafka, logger, metrics } = this.options;
    return Leadership.join({ ...spec, kafka, logger, metrics });
  }
}
