import {
  barrierKey,
  type Checkpoint,
  decodeBarrier,
  decodeCheckpoint,
  decodeIds,
  parseStateKey,
} from "./records.js";
import { StateTracker } from "./tracker.js";

/** What a restore found, for the log line that reports it. */
export interface RestoreSummary {
  start: string;
  watermark: string | null;
  ids: number;
  liveKeys: number;
  staleKeys: number;
}

/**
 * Rebuilds one source's state from the state topic's records, read from the beginning in offset
 * order up to the barrier its session committed after fencing any older writer: everything
 * committed before the barrier is then visible, and nothing after it belongs to this session.
 */
export class StateRestorer {
  private checkpoint: Checkpoint | undefined;
  private readonly idRecords = new Map<string, { bucket: number; ids: string[] }>();
  private maxSeq = -1;
  private reached = false;

  /** Without a nonce, no barrier ends the read: a `StatesRestorer` decides where it ends. */
  constructor(
    private readonly identity: string,
    private readonly barrierNonce?: string,
  ) {}

  /** Whether the session's own barrier has been read. */
  get done(): boolean {
    return this.reached;
  }

  /**
   * Takes the next record of the topic; returns true at the session's barrier (records after it
   * are not taken). Other sources' records and other sessions' barriers are skipped.
   */
  accept(key: string, value: Buffer | null): boolean {
    if (this.reached) return true;
    const parsed = parseStateKey(this.identity, key);
    if (!parsed) return false;
    if (parsed.kind === "barrier") {
      this.reached =
        this.barrierNonce !== undefined && value !== null && decodeBarrier(value) === this.barrierNonce;
    } else if (parsed.kind === "checkpoint") {
      this.checkpoint = value ? decodeCheckpoint(value) : undefined;
    } else {
      this.maxSeq = Math.max(this.maxSeq, parsed.seq);
      if (value) this.idRecords.set(key, { bucket: parsed.bucket, ids: decodeIds(value) });
      else this.idRecords.delete(key);
    }
    return this.reached;
  }

  /**
   * The tracker: the checkpoint's start (a first run's `start` otherwise) and watermark, the ids
   * of the hours inside the horizon (`lookbackMs` before the watermark), and tombstones pending
   * for the id records of hours before it.
   */
  build(start: Date, lookbackMs: number): { tracker: StateTracker; summary: RestoreSummary } {
    const fixedStart = this.checkpoint?.start ?? start;
    const watermark = this.checkpoint?.watermark;
    const horizon = Math.max(
      fixedStart.getTime(),
      (watermark?.getTime() ?? Number.NEGATIVE_INFINITY) - lookbackMs,
    );
    const staleKeys: string[] = [];
    const live: Array<[string, { bucket: number; ids: string[] }]> = [];
    for (const entry of this.idRecords) {
      if (watermark && entry[1].bucket + HOUR_MS <= horizon) staleKeys.push(entry[0]);
      else live.push(entry);
    }
    const tracker = new StateTracker(this.identity, fixedStart, {
      watermark,
      nextSeq: this.maxSeq + 1,
      staleKeys,
    });
    for (const [key, record] of live) tracker.restoreIds(record.bucket, key, record.ids);
    return {
      tracker,
      summary: {
        start: fixedStart.toISOString(),
        watermark: watermark?.toISOString() ?? null,
        ids: tracker.ids.size,
        liveKeys: live.length,
        staleKeys: staleKeys.length,
      },
    };
  }
}

const HOUR_MS = 3_600_000;

/**
 * Rebuilds the state of many sources in one read of their state topic: each record goes to the
 * restorer of the identity its key starts with, and the read ends once every barrier awaited (one
 * per writer that fenced its predecessors just before) has been read, so that everything those
 * writers' predecessors committed is in.
 */
export class StatesRestorer {
  private readonly restorers = new Map<string, StateRestorer>();
  private readonly awaited: Map<string, string>;

  /** `barriers`: per barrier identity (a writer's), the nonce it committed. */
  constructor(identities: Iterable<string>, barriers: ReadonlyMap<string, string>) {
    for (const identity of identities) this.restorers.set(identity, new StateRestorer(identity));
    this.awaited = new Map(barriers);
  }

  /** Takes the next record of the topic; returns true once every awaited barrier has been read. */
  accept(key: string, value: Buffer | null): boolean {
    if (this.awaited.size === 0) return true;
    const end = key.indexOf("|");
    if (end < 0) return false;
    const identity = key.slice(0, end);
    const nonce = this.awaited.get(identity);
    if (nonce !== undefined) {
      if (key === barrierKey(identity) && value !== null && decodeBarrier(value) === nonce)
        this.awaited.delete(identity);
      return this.awaited.size === 0;
    }
    this.restorers.get(identity)?.accept(key, value);
    return false;
  }

  /** The restorer of one identity given to the constructor. */
  restorer(identity: string): StateRestorer | undefined {
    return this.restorers.get(identity);
  }
}
