import { type Assigner, AssignerProtocol, type Consumer, type Kafka, type PartitionAssigner } from "kafkajs";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import type { Election, ElectionSpec } from "../sink.js";

export interface LeadershipOptions extends ElectionSpec {
  kafka: Kafka;
  logger: Logger;
  metrics?: Metrics;
}

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
  private readonly waiters = new Set<() => void>();
  private lost = new AbortController();

  private constructor(
    private readonly consumer: Consumer,
    private readonly options: LeadershipOptions,
  ) {}

  static async join(options: LeadershipOptions): Promise<Leadership> {
    let self: Leadership | undefined;
    const consumer = options.kafka.consumer({
      partitionAssigners: [stickyLeaderAssigner(() => self?.active ?? false)],
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(options.sessionTimeoutMs / 5)),
      rebalanceTimeout: Math.max(options.sessionTimeoutMs, 5000),
      maxWaitTimeInMs: 1000,
      allowAutoTopicCreation: false,
    });
    const leadership = new Leadership(consumer, options);
    // kafkajs builds the consumer before the instance exists: the assigner reads it through `self`.
    self = leadership;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = (payload.memberAssignment[options.topic] ?? []).length > 0;
      leadership.update(assigned);
    });
    consumer.on(consumer.events.CRASH, () => leadership.update(false));
    consumer.on(consumer.events.STOP, () => leadership.update(false));
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: false });
    // Membership is all that matters: the records themselves are not read.
    await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    return leadership;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Resolves once this instance is the active one; rejects if `signal` aborts first. */
  waitUntilActive(signal: AbortSignal): Promise<void> {
    if (this.active) return Promise.resolve();
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolvePromise, reject) => {
      const activated = () => {
        signal.removeEventListener("abort", onAbort);
        resolvePromise();
      };
      const onAbort = () => {
        this.waiters.delete(activated);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(activated);
    });
  }

  /** Aborted when this instance stops being the active one. */
  get lostSignal(): AbortSignal {
    return this.lost.signal;
  }

  async leave(): Promise<void> {
    this.update(false);
    await this.consumer.disconnect().catch(() => undefined);
  }

  private update(assigned: boolean): void {
    if (assigned === this.active) return;
    this.active = assigned;
    this.options.metrics?.active.set(assigned ? 1 : 0);
    if (assigned) {
      this.lost = new AbortController();
      this.options.logger.info({ group: this.options.groupId }, "this instance is now the active one");
      const waiters = [...this.waiters];
      this.waiters.clear();
      for (const activated of waiters) activated();
    } else {
      this.options.logger.warn({ group: this.options.groupId }, "this instance is no longer the active one");
      this.lost.abort(new Error("leadership lost"));
    }
  }
}

/**
 * Hands the partition (the active role) to the member that already holds it, so a replica that
 * joins or restarts never takes over from a healthy active one; with none holding it, to the
 * first member. Each member says in its subscription whether it is active.
 */
function stickyLeaderAssigner(isActive: () => boolean): PartitionAssigner {
  return (): Assigner => ({
    name: "pstn-sticky-leader",
    version: 1,
    protocol: ({ topics }) => ({
      name: "pstn-sticky-leader",
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: Buffer.from(isActive() ? "active" : "standby"),
      }),
    }),
    async assign({ members, topics }) {
      const sorted = [...members].sort((a, b) => a.memberId.localeCompare(b.memberId));
      const holder =
        sorted.find((member) => {
          const metadata = AssignerProtocol.MemberMetadata.decode(member.memberMetadata);
          return metadata?.userData.toString() === "active";
        }) ?? sorted[0];
      return sorted.map((member) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: member === holder ? Object.fromEntries(topics.map((topic) => [topic, [0]])) : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
  });
}
