import { setTimeout as sleep } from "node:timers/promises";
import type { Admin } from "@platformatic/kafka";
import type { SourceTopics } from "../sink.js";
import { hasApiId } from "./errors.js";

export interface TopicSettings {
  dataPartitions: number;
  /** How long to wait for the new topics' partitions to have leaders. */
  leaderTimeoutMs?: number;
}

interface WantedTopic {
  topic: string;
  partitions: number;
  configs: { name: string; value: string }[];
}

/**
 * Creates the connector's topics when missing (existing ones are left as they are):
 * - data: `dataPartitions` partitions keyed by row id; retention is the broker's default;
 * - DLQ: 1 partition, 30 days, for rows that could not be encoded (raw row + reason);
 * - state: 1 partition, compacted, the connector's progress and dedupe ids.
 * Replication: 3 (min ISR 2) when the cluster has 3 or more brokers, else what it has.
 * Returns once every new partition has a leader, so that the first session can write at once.
 */
export async function ensureTopics(
  admin: Admin,
  names: SourceTopics,
  settings: TopicSettings,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const brokers = (await admin.metadata({ topics: [] })).brokers.size;
  const replicas = Math.min(3, brokers);
  const minIsr = { name: "min.insync.replicas", value: String(replicas >= 3 ? 2 : 1) };
  const wanted: WantedTopic[] = [
    ...names.outputs.map((topic) => ({ topic, partitions: settings.dataPartitions, configs: [minIsr] })),
    {
      topic: names.dlq,
      partitions: 1,
      configs: [minIsr, { name: "retention.ms", value: String(30 * 24 * 3_600_000) }],
    },
    {
      topic: names.state,
      partitions: 1,
      configs: [
        { name: "cleanup.policy", value: "compact" },
        minIsr,
        // Tombstones of forgotten hours must outlive a restart's read, then go.
        { name: "delete.retention.ms", value: String(24 * 3_600_000) },
        { name: "segment.ms", value: String(3_600_000) },
        { name: "min.cleanable.dirty.ratio", value: "0.1" },
      ],
    },
  ];
  const missing = wanted.filter((topic) => !existing.has(topic.topic));
  for (const { topic, partitions, configs } of missing) {
    // One request per topic: a request's configs apply to every topic it names.
    await admin.createTopics({ topics: [topic], partitions, replicas, configs }).catch((error: unknown) => {
      // Another replica created it in the meantime: what was wanted is there.
      if (!hasApiId(error, "TOPIC_ALREADY_EXISTS")) throw error;
    });
  }
  if (missing.length > 0) {
    await waitForLeaders(
      admin,
      missing.map((topic) => topic.topic),
      settings.leaderTimeoutMs ?? 30_000,
    );
  }
  return missing.map((topic) => topic.topic);
}

async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const metadata = await admin.metadata({ topics, forceUpdate: true }).catch(() => undefined);
    const ready =
      metadata !== undefined &&
      topics.every((name) => {
        const topic = metadata.topics.get(name);
        return topic?.partitions.every((partition) => partition.leader >= 0) ?? false;
      });
    if (ready) return;
    if (Date.now() > deadline)
      throw new Error(`the new topics ${topics.join(", ")} have no leader after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Creates the slots topic when missing, with one partition per slot, and returns how many
 * partitions it has: its partition count, not the setting, is the number of slots, so that every
 * replica hashes the units alike. Nothing is written to it (compacted, to keep it empty).
 */
export async function ensureSlotsTopic(admin: Admin, topic: string, slots: number): Promise<number> {
  const existing = new Set(await admin.listTopics());
  if (!existing.has(topic)) {
    const brokers = (await admin.metadata({ topics: [] })).brokers.size;
    await admin
      .createTopics({
        topics: [topic],
        partitions: slots,
        replicas: Math.min(3, brokers),
        configs: [{ name: "cleanup.policy", value: "compact" }],
      })
      .catch((error: unknown) => {
        if (!hasApiId(error, "TOPIC_ALREADY_EXISTS")) throw error;
      });
    await waitForLeaders(admin, [topic], 30_000);
  }
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const count = metadata.topics.get(topic)?.partitionsCount;
  if (count === undefined) throw new Error(`the slots topic ${topic} has no partitions`);
  return count;
}
