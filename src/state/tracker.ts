import { HorizonIdSet } from "../dedupe/id-set.js";
import { checkpointKey, encodeCheckpoint, encodeIds, idsKey, type StateRecord } from "./records.js";

/**
 * What the connector knows it has published: the watermark and the ids inside the horizon, with
 * the state-topic keys that hold them. Ids are added the moment a row is batched; if that batch's
 * transaction fails the whole tracker is thrown away and rebuilt from Kafka, so it never holds an
 * id that is not committed for longer than the failing session lives.
 */
export class StateTracker {
  readonly ids = new HorizonIdSet();
  /** Where reading began; fixed by the first run and kept in every checkpoint. */
  readonly start: Date;
  watermark: Date | undefined;
  private readonly keysByBucket = new Map<number, string[]>();
  private pendingTombstones: string[] = [];
  private nextSeq: number;

  constructor(
    readonly identity: string,
    start: Date,
    restored?: { watermark?: Date; nextSeq: number; staleKeys: string[] },
  ) {
    this.start = start;
    this.watermark = restored?.watermark;
    this.nextSeq = restored?.nextSeq ?? 0;
    this.pendingTombstones = restored?.staleKeys ?? [];
  }

  /** Rebuilds one restored id record. */
  restoreIds(bucket: number, key: string, ids: readonly string[]): void {
    for (const id of ids) this.ids.add(id, bucket);
    const keys = this.keysByBucket.get(bucket);
    if (keys) keys.push(key);
    else this.keysByBucket.set(bucket, [key]);
  }

  /**
   * State records for ids newly published in one transaction, grouped by bucket. Hours that the
   * horizon passed since the rows were batched are left out: the transaction carries the
   * checkpoint that passed them, so no restart reads those hours again.
   */
  idsRecords(newIds: ReadonlyMap<number, string[]>): StateRecord[] {
    const messages: StateRecord[] = [];
    for (const [bucket, ids] of newIds) {
      if (ids.length === 0 || !this.ids.holds(bucket)) continue;
      const key = idsKey(this.identity, bucket, this.nextSeq++);
      const keys = this.keysByBucket.get(bucket);
      if (keys) keys.push(key);
      else this.keysByBucket.set(bucket, [key]);
      messages.push({ key, value: encodeIds(ids) });
    }
    return messages;
  }

  /**
   * Moves the watermark and forgets the hours the horizon has passed; returns the checkpoint
   * record and the tombstones for the forgotten hours' keys.
   */
  advance(watermark: Date, horizon: Date): StateRecord[] {
    if (!this.watermark || watermark > this.watermark) this.watermark = watermark;
    for (const bucket of this.ids.forgetBefore(horizon.getTime())) {
      this.pendingTombstones.push(...(this.keysByBucket.get(bucket) ?? []));
      this.keysByBucket.delete(bucket);
    }
    return [this.checkpointRecord()];
  }

  checkpointRecord(): StateRecord {
    return {
      key: checkpointKey(this.identity),
      value: encodeCheckpoint({ start: this.start, watermark: this.watermark }),
    };
  }

  /** Tombstones not yet sent; the caller sends them in its next transaction. */
  takeTombstones(): StateRecord[] {
    const tombstones = this.pendingTombstones.map((key) => ({ key, value: null }));
    this.pendingTombstones = [];
    return tombstones;
  }

  liveKeyCount(): number {
    let count = 0;
    for (const keys of this.keysByBucket.values()) count += keys.length;
    return count;
  }
}
