import type { Admin, ITopicConfig } from "kafkajs";
import type { SourceTopics } from "../sink.js";

export interface TopicSettings {
  dataPartitions: number;
}

/**
 * Creates the connector's topics when missing (existing ones are left as they are):
 * - data: `dataPartitions` partitions keyed by row id; retention is the broker's default;
 * - DLQ: 1 partition, 30 days, for rows that could not be encoded (raw row + reason);
 * - state: 1 partition, compacted, the connector's progress and dedupe ids.
 * Replication: 3 (min ISR 2) when the cluster has 3 or more brokers, else what it has.
 */
export async function ensureTopics(
  admin: Admin,
  names: SourceTopics,
  settings: TopicSettings,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const brokers = (await admin.describeCluster()).brokers.length;
  const replicationFactor = Math.min(3, brokers);
  const minIsr = String(replicationFactor >= 3 ? 2 : 1);
  const wanted: ITopicConfig[] = [
    {
      topic: names.data,
      numPartitions: settings.dataPartitions,
      replicationFactor,
      configEntries: [{ name: "min.insync.replicas", value: minIsr }],
    },
    {
      topic: names.dlq,
      numPartitions: 1,
      replicationFactor,
      configEntries: [
        { name: "min.insync.replicas", value: minIsr },
        { name: "retention.ms", value: String(30 * 24 * 3_600_000) },
      ],
    },
    {
      topic: names.state,
      numPartitions: 1,
      replicationFactor,
      configEntries: [
        { name: "cleanup.policy", value: "compact" },
        { name: "min.insync.replicas", value: minIsr },
        // Tombstones of forgotten hours must outlive a restart's read, then go.
        { name: "delete.retention.ms", value: String(24 * 3_600_000) },
        { name: "segment.ms", value: String(3_600_000) },
        { name: "min.cleanable.dirty.ratio", value: "0.1" },
      ],
    },
  ];
  const missing = wanted.filter((topic) => !existing.has(topic.topic));
  if (missing.length > 0) {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  }
  return missing.map((topic) => topic.topic);
}
