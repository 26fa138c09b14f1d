import type { Consumer, GroupPartitionsAssigner } from "@platformatic/kafka";
import type { Logger } from "../log.js";
import type { StreamMetrics } from "../metrics/index.js";
import type { Election, ElectionSpec } from "../sink.js";
import type { Kafka } from "./index.js";
import { Waiters } from "./waiters.js";

export interface LeadershipOptions extends Omit<ElectionSpec, "identity"> {
  kafka: Kafka;
  logger: Logger;
  metrics?: StreamMetrics;
}

const PROTOCOL = "pstn-sticky-leader";

/**
 * Elects one active instance among those sharing an identity: every instance joins the same
 * consumer group on a one-partition topic, and the member assigned that partition is active. When
 * it dies, the group notices after the session timeout and hands the partition to a standby.
 * Exclusion itself does not rest on this: the new active instance's transactional producer fences
 * the old one, so even two instances that both believe they are active cannot both commit.
 */
export class Leadership implements Election {
  private active = false;
  /** Callers of waitUntilActive still waiting, each resolved once this instance is elected. */
  private readonly waiters = new Waiters();
  private lost = new AbortController();

  private constructor(
    private readonly consumer: Consumer,
    private readonly options: LeadershipOptions,
  ) {}

  static async join(options: LeadershipOptions): Promise<Leadership> {
    let self: Leadership | undefined;
    const group = {
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(options.sessionTimeoutMs / 5)),
      rebalanceTimeout: Math.max(options.sessionTimeoutMs, 5000),
      protocols: [{ name: PROTOCOL, version: 1 }],
      // Each member says in its subscription whether it is active (read by the assigner).
      protocolsMetadata: () => Buffer.from(self?.active ? "active" : "standby"),
      partitionAssigner: stickyLeaderAssigner,
    };
    const consumer = options.kafka.consumer({ groupId: options.groupId, autocommit: false, ...group });
    const leadership = new Leadership(consumer, options);
    // The metadata callback runs before the instance exists: it reads it through `self`.
    self = leadership;
    consumer.topics.track(options.topic);
    consumer.on("consumer:group:join", ({ assignments }) => {
      const assigned = (assignments ?? []).some(
        (assignment) => assignment.topic === options.topic && assignment.partitions.length > 0,
      );
      leadership.update(assigned);
    });
    // No answer from the group's coordinator for a rebalance timeout: the group may have handed the
    // role on already, so this instance stops acting on it until it is given the role again.
    consumer.on("consumer:heartbeat:stalled", () => leadership.update(false));
    consumer.on("consumer:group:leave", () => leadership.update(false));
    try {
      // Membership is all that matters: the records themselves are not read.
      await consumer.joinGroup(group);
    } catch (error) {
      await consumer.close(true).catch(() => undefined);
      throw error;
    }
    return leadership;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Resolves once this instance is the active one; rejects if `signal` aborts first. */
  waitUntilActive(signal: AbortSignal): Promise<void> {
    return this.waiters.wait(this.active, signal);
  }

  /** Aborted when this instance stops being the active one. */
  get lostSignal(): AbortSignal {
    return this.lost.signal;
  }

  async leave(): Promise<void> {
    this.update(false);
    // Closing leaves the group first, so a standby is elected without waiting for the session timeout.
    await this.consumer.close(true).catch(() => undefined);
  }

  private update(assigned: boolean): void {
    if (assigned === this.active) return;
    this.active = assigned;
    this.options.metrics?.active.set(assigned ? 1 : 0);
    if (assigned) {
      this.lost = new AbortController();
      this.options.logger.info({ group: this.options.groupId }, "this instance is now the active one");
      this.waiters.release();
    } else {
      this.options.logger.warn({ group: this.options.groupId }, "this instance is no longer the active one");
      this.lost.abort(new Error("leadership lost"));
    }
  }
}

/**
 * Hands the partition (the active role) to the member that already holds it, so a replica that
 * joins or restarts never takes over from a healthy active one; with none holding it, to the
 * first member by id.
 */
export const stickyLeaderAssigner: GroupPartitionsAssigner = (_current, members, topics) => {
  const sorted = [...members.values()].sort((a, b) => a.memberId.localeCompare(b.memberId));
  const holder =
    sorted.find((member) => Buffer.from(member.metadata ?? "").toString() === "active") ?? sorted[0];
  return sorted.map((member) => ({
    memberId: member.memberId,
    assignments: new Map(
      member === holder ? [...topics].map((topic) => [topic, { topic, partitions: [0] }]) : [],
    ),
  }));
};
