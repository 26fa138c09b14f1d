import { IdTable } from "./id-table.js";

const HOUR_MS = 3_600_000;

/**
 * The ids already published, kept per hour of the row's start so that whole hours are dropped
 * once the lookback horizon passes them: memory follows the rows inside the horizon, never the
 * total ever seen.
 */
export class HorizonIdSet {
  private readonly buckets = new Map<number, IdTable>();
  private count = 0;

  static bucketOf(startMs: number): number {
    return Math.floor(startMs / HOUR_MS) * HOUR_MS;
  }

  get size(): number {
    return this.count;
  }

  has(id: string, startMs: number): boolean {
    return this.buckets.get(HorizonIdSet.bucketOf(startMs))?.has(id) ?? false;
  }

  /** For the rare id whose start time is unknown: looks in every hour. */
  hasAnywhere(id: string): boolean {
    for (const ids of this.buckets.values()) if (ids.has(id)) return true;
    return false;
  }

  /** Whether the hour starting at `bucket` is still remembered (not forgotten behind the horizon). */
  holds(bucket: number): boolean {
    return this.buckets.has(bucket);
  }

  /** Returns false when the id was already there. */
  add(id: string, startMs: number): boolean {
    const bucket = HorizonIdSet.bucketOf(startMs);
    let ids = this.buckets.get(bucket);
    if (!ids) {
      ids = new IdTable();
      this.buckets.set(bucket, ids);
    }
    if (!ids.add(id)) return false;
    this.count++;
    return true;
  }

  /**
   * Forgets every bucket that ends at or before `horizonMs` (rows that started before the horizon
   * are never fetched again) and returns the bucket starts it dropped.
   */
  forgetBefore(horizonMs: number): number[] {
    const dropped: number[] = [];
    for (const [bucket, ids] of this.buckets) {
      if (bucket + HOUR_MS <= horizonMs) {
        this.count -= ids.size;
        this.buckets.delete(bucket);
        dropped.push(bucket);
      }
    }
    return dropped;
  }

  bucketStarts(): number[] {
    return [...this.buckets.keys()].sort((a, b) => a - b);
  }
}
