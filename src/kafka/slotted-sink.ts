import type { Election, ElectionSpec, SessionSpec, Sink, SinkSession, SourceTopics } from "../sink.js";
import { KafkaSink, type KafkaSinkOptions } from "./sink.js";
import { SlotGroup, type SlotUnit } from "./slots.js";
import { ensureSlotsTopic } from "./topics.js";

export interface SlottedSinkOptions extends KafkaSinkOptions {
  /** The slots topic (KAFKA_SLOTS_TOPIC): its partitions are the slots. */
  slotsTopic: string;
  /** Slots of a slots topic this sink creates (CONNECTOR_SLOTS). */
  slots: number;
  /** Names the deployment: its group and its slots' transactional ids (CONNECTOR_NAME). */
  name: string;
  sessionTimeoutMs: number;
  stateTopics: () => readonly string[];
  units: () => readonly SlotUnit[];
  onHeld?: (slots: number) => void;
}

/**
 * The Sink of a deployment whose units are spread over its replicas (a tenants file): sessions
 * and elections are the slots' (`SlotGroup`), joined at the first election; topics and the
 * cluster are the KafkaSink's.
 */
export class SlottedSink implements Sink {
  private readonly topics: KafkaSink;
  private group: Promise<SlotGroup> | undefined;
  /** The group once joined, for what asks without waiting (/status). */
  private joinedGroup: SlotGroup | undefined;

  constructor(private readonly options: SlottedSinkOptions) {
    this.topics = new KafkaSink(options);
  }

  describeCluster(): Promise<{ brokers: number }> {
    return this.topics.describeCluster();
  }

  ensureTopics(topics: SourceTopics): Promise<string[]> {
    return this.topics.ensureTopics(topics);
  }

  async openSession(spec: SessionSpec): Promise<SinkSession> {
    return (await this.joined()).openSession(spec);
  }

  async joinElection(spec: ElectionSpec): Promise<Election> {
    return (await this.joined()).election(spec.identity, spec.metrics);
  }

  /** The slot of a unit, once the group is joined (the slots topic's partition count is known). */
  slotOf(identity: string): number | undefined {
    return this.joinedGroup?.slotOf(identity);
  }

  async close(): Promise<void> {
    const group = this.group;
    this.group = undefined;
    this.joinedGroup = undefined;
    await (await group?.catch(() => undefined))?.leave();
  }

  /** The group, joined once; a failed join is tried again by the next caller. */
  private joined(): Promise<SlotGroup> {
    this.group ??= this.join();
    const joining = this.group;
    joining.catch(() => {
      if (this.group === joining) this.group = undefined;
    });
    return joining;
  }

  private async join(): Promise<SlotGroup> {
    const { kafka, logger, slotsTopic, name } = this.options;
    const admin = kafka.admin();
    const slots = await ensureSlotsTopic(admin, slotsTopic, this.options.slots).finally(() => admin.close());
    if (slots !== this.options.slots) {
      logger.warn(
        { slotsTopic, slots, configured: this.options.slots },
        "the slots topic exists with another partition count: its count is the number of slots",
      );
    }
    const prefix = `pstn-connector:${slotsTopic}:${name}`;
    const group = await SlotGroup.join({
      kafka,
      logger: logger.child({ component: "slots" }),
      topic: slotsTopic,
      slots,
      groupId: `${prefix}:slots`,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      transactionalIdOf: (slot) => `${prefix}:slot-${slot}`,
      stateTopics: this.options.stateTopics,
      units: this.options.units,
      compression: this.options.compression ?? "zstd",
      transactionTimeoutMs: this.options.transactionTimeoutMs ?? 60_000,
      restoreTimeoutMs: this.options.restoreTimeoutMs ?? 120_000,
      onHeld: this.options.onHeld,
    });
    this.joinedGroup = group;
    return group;
  }
}
