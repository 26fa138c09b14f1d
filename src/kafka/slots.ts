import {
  COOPERATIVE_STICKY_ASSIGNOR,
  type CompressionAlgorithmValue,
  type Consumer,
} from "@platformatic/kafka";
import pRetry from "p-retry";
import { ErrorCode, isPstnError, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import type { StreamMetrics } from "../metrics/index.js";
import type { CommitBatch, Election, SessionSpec, SinkSession } from "../sink.js";
import type { StateRestorer } from "../state/restore.js";
import type { StateTracker } from "../state/tracker.js";
import type { Kafka } from "./index.js";
import { partitionOfKey } from "./partition.js";
import { restoreState, restoreStates } from "./restore.js";
import { SlotWriter } from "./slot-writer.js";
import { Waiters } from "./waiters.js";

/** A unit of the deployment as the slots see it. */
export interface SlotUnit {
  identity: string;
  stateTopic: string;
}

export interface SlotGroupOptions {
  kafka: Kafka;
  logger: Logger;
  /** The coordination topic: one partition per slot. Nothing is written to it. */
  topic: string;
  /** How many slots (the topic's partitions) the units are spread over. */
  slots: number;
  groupId: string;
  sessionTimeoutMs: number;
  /** A slot's transactional id, which also names its barriers. */
  transactionalIdOf: (slot: number) => string;
  /** The state topics of the deployment's streams: a slot opens with a barrier in each. */
  stateTopics: () => readonly string[];
  /** The deployment's units (the tenants file's, as loaded now). */
  units: () => readonly SlotUnit[];
  compression: CompressionAlgorithmValue;
  transactionTimeoutMs: number;
  restoreTimeoutMs: number;
  /** Where the number of slots this replica holds is shown. */
  onHeld?: (slots: number) => void;
}

/** One slot as this replica sees it. */
class Slot {
  writer: SlotWriter | undefined;
  /** State restored when the slot was opened, per unit, taken by the unit's first session. */
  readonly restored = new Map<string, StateRestorer>();
  lost = new AbortController();
  readonly waiters = new Waiters();
  readonly views = new Set<StreamMetrics | undefined>();

  constructor(readonly index: number) {}

  get held(): boolean {
    return this.writer !== undefined;
  }
}

/**
 * The replicas of a deployment in one Kafka consumer group on the slots topic: the group's
 * cooperative-sticky assignment spreads the slots (its partitions) over the replicas, balanced,
 * and a rebalance moves only the slots it must. Every unit (tenant, stream) belongs to one slot
 * by the hash of its identity. A replica runs the units of the slots it holds, all through one
 * transactional producer per slot (`SlotWriter`), whose id fences every older writer of the slot:
 * exclusion never rests on the assignment. Opening the slots of an assignment restores their
 * units' state in one read per state topic.
 */
export class SlotGroup {
  private readonly slotList: Slot[];
  /** Assignments are applied one after the other, in the order the group gave them. */
  private applying: Promise<void> = Promise.resolve();
  private assigned = new Set<number>();
  private readonly closing = new AbortController();

  private constructor(
    private readonly consumer: Consumer,
    private readonly options: SlotGroupOptions,
  ) {
    this.slotList = Array.from({ length: options.slots }, (_, index) => new Slot(index));
  }

  static async join(options: SlotGroupOptions): Promise<SlotGroup> {
    const group = {
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(options.sessionTimeoutMs / 5)),
      rebalanceTimeout: Math.max(options.sessionTimeoutMs, 5000),
      // The client encodes the slots each member owns and assigns with Kafka's cooperative-sticky
      // assignor: a slot changes hands only when balance asks for it, after its owner gave it up.
      protocols: [{ name: COOPERATIVE_STICKY_ASSIGNOR, version: 3 }],
    };
    const consumer = options.kafka.consumer({ groupId: options.groupId, autocommit: false, ...group });
    const slots = new SlotGroup(consumer, options);
    consumer.topics.track(options.topic);
    consumer.on("consumer:group:join", ({ assignments }) => {
      const held = new Set<number>();
      for (const assignment of assignments ?? [])
        if (assignment.topic === options.topic) for (const slot of assignment.partitions) held.add(slot);
      slots.assign(held);
    });
    // No answer from the coordinator for a rebalance timeout: the group may have handed the slots
    // on already, so this replica stops writing until it is given slots again.
    consumer.on("consumer:heartbeat:stalled", () => slots.assign(new Set()));
    consumer.on("consumer:group:leave", () => slots.assign(new Set()));
    try {
      // Membership is all that matters: the topic's records (there are none) are not read.
      await consumer.joinGroup(group);
    } catch (error) {
      await consumer.close(true).catch(() => undefined);
      throw error;
    }
    return slots;
  }

  /** The slot of a unit: murmur2 of its identity, as Kafka would partition it. */
  slotOf(identity: string): number {
    return partitionOfKey(identity, this.options.slots);
  }

  /** The slots this replica holds now. */
  held(): number[] {
    return this.slotList.filter((slot) => slot.held).map((slot) => slot.index);
  }

  /** A unit's view of its slot: active while this replica holds the slot. */
  election(identity: string, metrics?: StreamMetrics): Election {
    const slot = this.slot(identity);
    slot.views.add(metrics);
    // A unit of a slot held elsewhere exports nothing here (its series appear when it runs here).
    if (slot.held) metrics?.active.set(1);
    return {
      get isActive() {
        return slot.held;
      },
      waitUntilActive: (signal) => slot.waiters.wait(slot.held, signal),
      get lostSignal() {
        return slot.lost.signal;
      },
      leave: async () => {
        slot.views.delete(metrics);
        metrics?.active.set(0);
      },
    };
  }

  /**
   * A unit's session on its slot's writer, with its state: restored when the slot was opened for
   * its first session, read again up to a barrier of its own after that (a failed session may
   * have held ids it never committed).
   */
  async openSession(spec: SessionSpec): Promise<SinkSession> {
    const slot = this.slot(spec.identity);
    const writer = slot.writer;
    if (writer === undefined) throw notHeld(slot.index);
    const key = restoredKey(spec.topics.state, spec.identity);
    const restorer = slot.restored.get(key);
    slot.restored.delete(key);
    let state: StateTracker;
    if (restorer !== undefined) {
      const built = restorer.build(spec.start, spec.lookbackMs);
      this.options.logger.info({ identity: spec.identity, ...built.summary }, "state restored");
      state = built.tracker;
    } else {
      const nonce = await writer.barrier(spec.topics.state, spec.identity);
      state = await restoreState({
        kafka: this.options.kafka,
        stateTopic: spec.topics.state,
        identity: spec.identity,
        barrierNonce: nonce,
        lookbackMs: spec.lookbackMs,
        start: spec.start,
        timeoutMs: this.options.restoreTimeoutMs,
        logger: this.options.logger,
      });
    }
    return {
      state,
      commit: (batch: CommitBatch) => writer.commit(spec.topics, batch, spec.metrics),
      close: async () => undefined,
    };
  }

  async leave(): Promise<void> {
    this.closing.abort();
    // Closing leaves the group first, so the other replicas take the slots without waiting.
    await this.consumer.close(true).catch(() => undefined);
    this.assigned = new Set();
    await Promise.all(this.slotList.map((slot) => this.release(slot)));
    await this.applying;
  }

  private slot(identity: string): Slot {
    return this.slotList[this.slotOf(identity)] as Slot;
  }

  private assign(held: Set<number>): void {
    this.assigned = new Set([...held].filter((slot) => slot < this.options.slots));
    const beyond = [...held].filter((slot) => slot >= this.options.slots);
    if (beyond.length > 0) {
      this.options.logger.error(
        { topic: this.options.topic, slots: this.options.slots, assigned: beyond },
        "the slots topic has more partitions than when this replica started: restart every replica",
      );
    }
    // Slots given up stop at once, even while an earlier assignment is still opening its slots.
    for (const slot of this.slotList)
      if (slot.held && !this.assigned.has(slot.index)) void this.release(slot);
    this.applying = this.applying.then(() => this.apply()).catch(() => undefined);
  }

  /** Opens the newly assigned slots (retried until they open or are no longer assigned). */
  private async apply(): Promise<void> {
    const wanted = () => this.slotList.filter((slot) => this.assigned.has(slot.index) && !slot.held);
    if (wanted().length === 0 || this.closing.signal.aborted) return this.reportHeld();
    await pRetry(
      async () => {
        const opening = wanted();
        if (opening.length > 0) await this.open(opening);
      },
      {
        retries: Number.POSITIVE_INFINITY,
        minTimeout: 500,
        maxTimeout: 30_000,
        factor: 2,
        randomize: true,
        signal: this.closing.signal,
        shouldRetry: () => !this.closing.signal.aborted,
        onFailedAttempt: ({ error }) =>
          this.options.logger.warn({ err: error }, "opening slots failed; trying again"),
      },
    ).catch(() => undefined);
    this.reportHeld();
  }

  /**
   * Opens slots: each writer fences the slot's older writers and commits its barrier in every
   * state topic, then one read per state topic restores the units of all of them. Throws when any
   * failed to open (those that opened are kept).
   */
  private async open(slots: Slot[]): Promise<void> {
    const { options } = this;
    const stateTopics = [...options.stateTopics()];
    const opened = await Promise.allSettled(
      slots.map((slot) =>
        SlotWriter.open(
          {
            kafka: options.kafka,
            transactionalId: options.transactionalIdOf(slot.index),
            barrierIdentity: options.transactionalIdOf(slot.index),
            compression: options.compression,
            transactionTimeoutMs: options.transactionTimeoutMs,
            logger: options.logger,
          },
          stateTopics,
        ),
      ),
    );
    const ready = slots.flatMap((slot, i) => {
      const outcome = opened[i] as PromiseSettledResult<{ writer: SlotWriter; nonce: string }>;
      return outcome.status === "fulfilled" ? [{ slot, ...outcome.value }] : [];
    });
    try {
      const barriers = new Map(
        ready.map(({ slot, nonce }) => [options.transactionalIdOf(slot.index), nonce]),
      );
      const indexes = new Set(ready.map(({ slot }) => slot.index));
      const units = options.units().filter((unit) => indexes.has(this.slotOf(unit.identity)));
      for (const stateTopic of stateTopics) {
        const identities = units
          .filter((unit) => unit.stateTopic === stateTopic)
          .map((unit) => unit.identity);
        const restored = await restoreStates({
          kafka: options.kafka,
          stateTopic,
          identities,
          barriers,
          timeoutMs: options.restoreTimeoutMs,
        });
        for (const identity of identities) {
          const restorer = restored.restorer(identity);
          if (restorer) this.slot(identity).restored.set(restoredKey(stateTopic, identity), restorer);
        }
      }
    } catch (error) {
      for (const { slot, writer } of ready) {
        slot.restored.clear();
        await writer.close();
      }
      throw error;
    }
    for (const { slot, writer } of ready) {
      if (!this.assigned.has(slot.index) || this.closing.signal.aborted) {
        slot.restored.clear();
        await writer.close();
        continue;
      }
      this.hold(slot, writer);
    }
    options.logger.info(
      { slots: ready.map(({ slot }) => slot.index), held: this.held().length },
      "slots opened: their units start",
    );
    const failed = opened.find((outcome) => outcome.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  private hold(slot: Slot, writer: SlotWriter): void {
    slot.writer = writer;
    slot.lost = new AbortController();
    for (const metrics of slot.views) metrics?.active.set(1);
    writer.ended.addEventListener(
      "abort",
      () => {
        if (slot.writer !== writer) return;
        // Fenced: another replica opened the slot (it believes it holds it); open it again after a
        // session timeout if the group still gives it here. Failed: open it again after a second.
        // Either way a new writer, which fences the old one's and restores the slot's units.
        const fenced = isPstnError(writer.ended.reason, ErrorCode.KAFKA_FENCED);
        void this.release(slot).then(() => {
          setTimeout(
            () => {
              if (this.assigned.has(slot.index) && !this.closing.signal.aborted) this.assign(this.assigned);
            },
            fenced ? this.options.sessionTimeoutMs : 1000,
          ).unref();
        });
      },
      { once: true },
    );
    slot.waiters.release();
  }

  /** Stops the slot's units and closes its writer: all but the close happens at once. */
  private async release(slot: Slot): Promise<void> {
    const writer = slot.writer;
    if (writer === undefined) return;
    slot.writer = undefined;
    slot.restored.clear();
    for (const metrics of slot.views) metrics?.active.set(0);
    slot.lost.abort(notHeld(slot.index));
    await writer.close();
    this.reportHeld();
  }

  private reportHeld(): void {
    this.options.onHeld?.(this.held().length);
  }
}

function restoredKey(stateTopic: string, identity: string): string {
  return `${stateTopic}\n${identity}`;
}

function notHeld(slot: number): PstnError {
  return new PstnError(ErrorCode.KAFKA_FENCED, `slot ${slot} is not held by this replica (any more)`, {
    final: true,
  });
}
