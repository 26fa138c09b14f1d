/**
 * A Sink held in memory, with Kafka's semantics as the engine relies on them: a commit's records
 * become visible together or not at all, a new session fences the one before (its commits then
 * fail with PSTN_KAFKA_FENCED), and a session restores its state from the committed state records.
 * Tests of the engine run against it; the Kafka sink runs the same engine in the e2e suites.
 */
import { randomUUID } from "node:crypto";
import { ErrorCode, PstnError } from "../../../src/errors.js";
import type {
  CommitBatch,
  Election,
  OutRecord,
  SessionSpec,
  Sink,
  SinkSession,
  SourceTopics,
} from "../../../src/sink.js";
import { barrierKey, encodeBarrier } from "../../../src/state/records.js";
import { StateRestorer } from "../../../src/state/restore.js";
import type { StateTracker } from "../../../src/state/tracker.js";

export class MemorySink implements Sink {
  /** Committed records by topic, in commit order. */
  readonly topics = new Map<string, OutRecord[]>();
  readonly commits: CommitBatch[] = [];
  sessionsOpened = 0;
  /** How long a transaction takes. */
  commitMs = 1;
  /** Fails the commit with this index (0-based, counting every commit), once. */
  failCommitAt: number | undefined;
  private readonly epochs = new Map<string, number>();

  async describeCluster(): Promise<{ brokers: number }> {
    return { brokers: 1 };
  }

  async ensureTopics(topics: SourceTopics): Promise<string[]> {
    const created = [...topics.outputs, topics.dlq, topics.state].filter((name) => !this.topics.has(name));
    for (const name of created) this.topics.set(name, []);
    return created;
  }

  async openSession(spec: SessionSpec): Promise<SinkSession> {
    this.sessionsOpened++;
    const epoch = (this.epochs.get(spec.transactionalId) ?? 0) + 1;
    this.epochs.set(spec.transactionalId, epoch);
    const nonce = randomUUID();
    this.append(spec.topics.state, [{ key: barrierKey(spec.identity), value: encodeBarrier(nonce) }]);
    const restorer = new StateRestorer(spec.identity, nonce);
    for (const record of this.records(spec.topics.state)) {
      const value = typeof record.value === "string" ? Buffer.from(record.value) : record.value;
      if (restorer.accept(String(record.key), value)) break;
    }
    const { tracker } = restorer.build(spec.start, spec.lookbackMs);
    return new MemorySession(this, spec, epoch, tracker);
  }

  async joinElection(): Promise<Election> {
    return {
      isActive: true,
      waitUntilActive: async () => undefined,
      lostSignal: new AbortController().signal,
      leave: async () => undefined,
    };
  }

  records(topic: string): OutRecord[] {
    return this.topics.get(topic) ?? [];
  }

  /** The data topic's keys, in the order they were committed. */
  keys(topic: string): string[] {
    return this.records(topic).map((record) => String(record.key));
  }

  commit(spec: SessionSpec, epoch: number, batch: CommitBatch): void {
    if (this.epochs.get(spec.transactionalId) !== epoch) {
      throw new PstnError(ErrorCode.KAFKA_FENCED, "fenced by a newer session", { final: true });
    }
    const index = this.commits.length;
    if (this.failCommitAt === index) {
      this.failCommitAt = undefined;
      this.commits.push({ outputs: [], dlq: [], state: [] });
      throw new PstnError(ErrorCode.KAFKA_PUBLISH_FAILED, "the broker went away", { retriable: true });
    }
    this.commits.push(batch);
    spec.topics.outputs.forEach((topic, index) => {
      this.append(topic, batch.outputs[index] ?? []);
    });
    this.append(spec.topics.dlq, batch.dlq);
    this.append(spec.topics.state, batch.state);
  }

  private append(topic: string, records: readonly OutRecord[]): void {
    const list = this.topics.get(topic) ?? [];
    list.push(...records);
    this.topics.set(topic, list);
  }
}

class MemorySession implements SinkSession {
  closed = false;

  constructor(
    private readonly sink: MemorySink,
    private readonly spec: SessionSpec,
    private readonly epoch: number,
    readonly state: StateTracker,
  ) {}

  async commit(batch: CommitBatch): Promise<void> {
    if (this.closed) throw new Error("commit after close");
    // A transaction takes a moment: the engine must not start the next one before this settles.
    await new Promise((resolve) => setTimeout(resolve, this.sink.commitMs));
    this.sink.commit(this.spec, this.epoch, batch);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
