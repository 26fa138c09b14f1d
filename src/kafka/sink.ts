import type { CompressionAlgorithmValue } from "@platformatic/kafka";
import type { Logger } from "../log.js";
import type { Election, ElectionSpec, SessionSpec, Sink, SinkSession, SourceTopics } from "../sink.js";
import type { Kafka } from "./index.js";
import { Leadership } from "./leadership.js";
import { KafkaSession } from "./session.js";
import { ensureTopics } from "./topics.js";

export interface KafkaSinkOptions {
  kafka: Kafka;
  logger: Logger;
  /** Partitions of a data topic the sink creates. */
  dataPartitions?: number;
  /** Compression of every record batch (KAFKA_COMPRESSION); the client compresses in libuv's thread pool. */
  compression?: CompressionAlgorithmValue;
  restoreTimeoutMs?: number;
  transactionTimeoutMs?: number;
}

/** The Sink on @platformatic/kafka: admins for the cluster and topics, a producer per session, a consumer per election. */
export class KafkaSink implements Sink {
  /** Topics made sure of (or being made sure of): many sources share each stream's topics. */
  private readonly ensured = new Map<string, Promise<void>>();

  constructor(private readonly options: KafkaSinkOptions) {}

  async describeCluster(): Promise<{ brokers: number }> {
    const admin = this.options.kafka.admin();
    try {
      return { brokers: (await admin.metadata({ topics: [] })).brokers.size };
    } finally {
      await admin.close();
    }
  }

  /** Creates the missing topics once per process: later calls for the same topics wait for the first. */
  async ensureTopics(topics: SourceTopics): Promise<string[]> {
    const key = JSON.stringify([topics.outputs, topics.dlq, topics.state]);
    const earlier = this.ensured.get(key);
    if (earlier) return earlier.then(() => []);
    const created = (async () => {
      const admin = this.options.kafka.admin();
      try {
        return await ensureTopics(admin, topics, { dataPartitions: this.options.dataPartitions ?? 6 });
      } finally {
        await admin.close();
      }
    })();
    const done = created.then(() => undefined);
    this.ensured.set(key, done);
    done.catch(() => this.ensured.delete(key));
    return created;
  }

  openSession(spec: SessionSpec): Promise<SinkSession> {
    const { kafka, logger, compression, restoreTimeoutMs, transactionTimeoutMs } = this.options;
    return KafkaSession.open(spec, {
      kafka,
      compression: compression ?? "zstd",
      logger,
      metrics: spec.metrics,
      restoreTimeoutMs,
      transactionTimeoutMs,
    });
  }

  joinElection(spec: ElectionSpec): Promise<Election> {
    const { kafka, logger } = this.options;
    return Leadership.join({ ...spec, kafka, logger });
  }
}
