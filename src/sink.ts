/**
 * The engine's boundary to Kafka: what the pipeline asks of a sink, in its own types. One
 * implementation (src/kafka) holds everything client-specific; the pipeline imports only this.
 */
import type { StreamMetrics } from "./metrics/index.js";
import type { StateTracker } from "./state/tracker.js";

/** A record to write. The key chooses the partition (murmur2, as Java clients and Kafka Connect). */
export interface OutRecord {
  key: string | Buffer;
  value: Buffer | string | null;
  headers?: Record<string, string>;
}

/** The topics of one source (a tenant's stream). */
export interface SourceTopics {
  /**
   * The topics its rows go to, Avro in the Confluent wire format, keyed by row id: one, or one per
   * output of a privacy policy, each of which holds every row.
   */
  outputs: readonly string[];
  /** Rows that could not be encoded, with their reason. */
  dlq: string;
  /** The source's progress and dedupe ids (compacted). */
  state: string;
}

/** What identifies one session of a source in Kafka. */
export interface SessionSpec {
  /** The source's identity: the prefix of its state keys. */
  identity: string;
  /** Fences any older session of the same source. */
  transactionalId: string;
  topics: SourceTopics;
  /** How far behind the watermark the restored dedupe ids reach. */
  lookbackMs: number;
  /** Where a first run begins; a restored checkpoint's own start wins. */
  start: Date;
  /** Where the session counts its transactions. */
  metrics?: StreamMetrics;
}

/** One transaction's records: all of them become visible together, or none does. */
export interface CommitBatch {
  /** Per topic of `SourceTopics.outputs`, in that order: the same rows, as each output writes them. */
  outputs: readonly (readonly OutRecord[])[];
  dlq: OutRecord[];
  state: OutRecord[];
}

/** A fenced writer of one source, holding the state it restored. */
export interface SinkSession {
  readonly state: StateTracker;
  /** Writes the batch in one transaction; rejects with PSTN_KAFKA_FENCED once another session took over. */
  commit(batch: CommitBatch): Promise<void>;
  close(): Promise<void>;
}

/** Membership in the election of one active replica among those sharing a source. */
export interface Election {
  readonly isActive: boolean;
  /** Resolves once this replica is the active one; rejects if `signal` aborts first. */
  waitUntilActive(signal: AbortSignal): Promise<void>;
  /** Aborted when this replica stops being the active one. */
  readonly lostSignal: AbortSignal;
  leave(): Promise<void>;
}

export interface ElectionSpec {
  /** The source's identity (a sink that spreads sources over slots finds the source's slot by it). */
  identity: string;
  /** One group per source: its members compete for the one role. */
  groupId: string;
  /** A single-partition topic the members subscribe to (the state topic). */
  topic: string;
  sessionTimeoutMs: number;
  /** Where the member shows whether it is active. */
  metrics?: StreamMetrics;
}

export interface Sink {
  /** Reaches the cluster: how many brokers it has (the `check` command). */
  describeCluster(): Promise<{ brokers: number }>;
  /** Creates the topics that are missing; returns their names. */
  ensureTopics(topics: SourceTopics): Promise<string[]>;
  /** Opens a session: fences older ones, then restores the source's state as they committed it. */
  openSession(spec: SessionSpec): Promise<SinkSession>;
  joinElection(spec: ElectionSpec): Promise<Election>;
  /** Leaves what the sink joined for all its sources (a group of replicas); sessions close on their own. */
  close?(): Promise<void>;
}
