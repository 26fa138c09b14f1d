/**
 * One stream's simulated log, generated lazily one hour at a time. A bucket holds only the starts,
 * visibility instants and draw numbers of its rows (a few dozen bytes each); the rows themselves are
 * built when served (cheaper than keeping their JSON). Buckets are cached within a bound. What a
 * row holds and how it is written is the stream's {@link RowKind}; the store only places rows in
 * time and pages them.
 */

import { hash, Random, Weighted } from "./random.js";
import { hasRowFaults, type RowFaultRates } from "./row-faults.js";
import type { RowSlot } from "./rows.js";
import { compareInstants, HOUR_MS, type Instant, truncateTicks } from "./time.js";

/** What a stream's rows are: how each is identified, built and written. */
export interface RowKind<R> {
  /** Salts of the hour's draws: each stream its own, so that streams do not share starts. */
  readonly bucketSalt: number;
  readonly thinSalt: number;
  /** The row's id, unique within the stream (rows with equal starts are ordered by it). */
  id(seed: number, hour: number, gen: number): string;
  build(seed: number, slot: RowSlot, faults: RowFaultRates): R;
  /** The row's JSON text as the version serves it; `plain` when no row fault is on. */
  json(row: R, beta: boolean, plain: boolean): string;
  /** The row as the version serves it, as an object (the ground truth). */
  served(row: R, beta: boolean): R;
}

export interface StoreOptions {
  seed: number;
  /** Average rows per hour (the name is the PSTN log's; SMS count messages). */
  callsPerHour: number;
  /** Whether a row that starts exactly at `toDateTime` is in the window (getDirectRoutingCalls: no). */
  toInclusive: boolean;
  dataStartMs: number;
  /** Infinity when rows keep coming. */
  dataEndMs: number;
  visibilityDelayMs: { min: number; max: number };
  /** From `sinceMs` on, calls come at this rate instead (a live phase busier than the history). */
  live?: { sinceMs: number; callsPerHour: number };
}

/** What paging needs to step over a whole bucket without its arrays: kept for every bucket built. */
interface BucketSummary {
  n: number;
  firstMs: number;
  firstSub: number;
  lastMs: number;
  lastSub: number;
  /** The instant the bucket's last row becomes visible. */
  maxVisibleAt: number;
}

interface Bucket {
  hour: number;
  n: number;
  /** Start of each row (sorted by start, then id): whole ms and the 100 ns ticks below. */
  ms: Float64Array;
  sub: Uint16Array;
  /** Fractional digits the start is written with. */
  digits: Uint8Array;
  /** The row's number in the bucket's draw (what its content derives from). */
  gen: Uint32Array;
  visibleAt: Float64Array;
  /** `visibleAt` sorted, to count a bucket's visible rows by binary search. */
  sortedVisibleAt: Float64Array;
}

const DIGITS = new Weighted([
  [7, 70],
  [6, 5],
  [5, 4],
  [4, 4],
  [3, 5],
  [2, 4],
  [1, 3],
  [0, 5],
]);

/** Rows whose bucket arrays stay cached (31 bytes each). */
const MAX_BUCKET_ROWS = 2_000_000;
/**
 * Buckets of fewer rows keep their summary only (paging still steps over them), their arrays drawn
 * again when needed: the arrays cost over a KB however few their rows, more than drawing a few rows
 * again costs time. So a sparse log (a tenant of a few calls an hour, a thousand such tenants)
 * holds a summary per hour read, and an empty hour one shared summary.
 */
const MIN_KEPT_ROWS = 32;
const EMPTY_SUMMARY: BucketSummary = Object.freeze({
  n: 0,
  firstMs: 0,
  firstSub: 0,
  lastMs: 0,
  lastSub: 0,
  maxVisibleAt: 0,
});

/** Number of values in the sorted array `sorted` that are <= `value`. */
function countAtMost(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function isPlain(faults: RowFaultRates): boolean {
  return !hasRowFaults(faults);
}

export interface Page {
  /** JSON text of each row. */
  rows: string[];
  /** Whether more visible rows follow this page. */
  more: boolean;
}

export class RowStore<R> {
  private readonly options: StoreOptions;
  private readonly kind: RowKind<R>;
  private faults: RowFaultRates;
  private readonly buckets = new Map<number, Bucket>();
  private readonly summaries = new Map<number, BucketSummary>();
  private bucketRows = 0;
  /** No row faults: every row has the plain shape. */
  private plain: boolean;

  constructor(options: StoreOptions, kind: RowKind<R>, faults: RowFaultRates) {
    this.options = options;
    this.kind = kind;
    this.faults = { ...faults };
    this.plain = isPlain(faults);
  }

  /** Changes the row faults; rows served from now on reflect them. */
  setRowFaults(faults: RowFaultRates): void {
    this.faults = { ...faults };
    this.plain = isPlain(faults);
  }

  private bucket(hour: number): Bucket {
    const cached = this.buckets.get(hour);
    if (cached) {
      this.buckets.delete(hour);
      this.buckets.set(hour, cached);
      return cached;
    }
    const bucket = this.generate(hour);
    const last = bucket.n - 1;
    this.summaries.set(
      hour,
      bucket.n === 0
        ? EMPTY_SUMMARY
        : {
            n: bucket.n,
            firstMs: bucket.ms[0] ?? 0,
            firstSub: bucket.sub[0] ?? 0,
            lastMs: bucket.ms[last] ?? 0,
            lastSub: bucket.sub[last] ?? 0,
            maxVisibleAt: bucket.sortedVisibleAt[last] ?? 0,
          },
    );
    if (bucket.n < MIN_KEPT_ROWS) return bucket;
    this.buckets.set(hour, bucket);
    this.bucketRows += bucket.n + 1;
    for (const [oldHour, old] of this.buckets) {
      if (this.bucketRows <= MAX_BUCKET_ROWS) break;
      this.buckets.delete(oldHour);
      this.bucketRows -= old.n + 1;
    }
    return bucket;
  }

  private generate(hour: number): Bucket {
    const { seed, callsPerHour, dataStartMs, dataEndMs, visibilityDelayMs, live } = this.options;
    const random = new Random(hash(seed, hour, this.kind.bucketSalt));
    const hourStart = hour * HOUR_MS;
    // An hour reaching into the live phase draws at the higher rate; rows before the switch are
    // then thinned back to the history's rate by a hash, leaving the draw sequence untouched.
    const liveHour = live !== undefined && hourStart + HOUR_MS > live.sinceMs;
    const rate = liveHour ? Math.max(callsPerHour, live.callsPerHour) : callsPerHour;
    const keepBefore = rate > 0 ? callsPerHour / rate : 1;
    const drawn = random.poisson(rate);
    const ms = new Float64Array(drawn);
    const sub = new Uint16Array(drawn);
    const digits = new Uint8Array(drawn);
    const visibleAt = new Float64Array(drawn);
    const kept: number[] = [];
    const delaySpan = visibilityDelayMs.max - visibilityDelayMs.min;
    for (let j = 0; j < drawn; j++) {
      // The same number of draws for every row, whatever is kept, so options only filter.
      const offsetMs = Math.floor(random.next() * HOUR_MS);
      const ticks = (offsetMs % 1000) * 10_000 + Math.floor(random.next() * 10_000);
      const shown = random.weighted(DIGITS);
      const delay = random.next();
      const truncated = truncateTicks(ticks, shown);
      const start = hourStart + (offsetMs - (offsetMs % 1000)) + Math.floor(truncated / 10_000);
      ms[j] = start;
      sub[j] = truncated % 10_000;
      digits[j] = shown;
      visibleAt[j] = start + Math.round(visibilityDelayMs.min + delay * delaySpan);
      const subTicks = truncated % 10_000;
      const thinned =
        liveHour && start < live.sinceMs && hash(seed, hour, j, this.kind.thinSalt) / 2 ** 32 >= keepBefore;
      if (!thinned && start >= dataStartMs && (start < dataEndMs || (start === dataEndMs && subTicks === 0)))
        kept.push(j);
    }
    const ids = new Map<number, string>();
    const idOf = (j: number): string => {
      let id = ids.get(j);
      if (id === undefined) {
        id = this.kind.id(seed, hour, j);
        ids.set(j, id);
      }
      return id;
    };
    kept.sort((a, b) => {
      const byStart = compareInstants(ms[a] as number, sub[a] as number, ms[b] as number, sub[b] as number);
      if (byStart !== 0) return byStart;
      const idA = idOf(a);
      const idB = idOf(b);
      return idA < idB ? -1 : idA > idB ? 1 : 0;
    });
    const n = kept.length;
    const bucket: Bucket = {
      hour,
      n,
      ms: new Float64Array(n),
      sub: new Uint16Array(n),
      digits: new Uint8Array(n),
      gen: new Uint32Array(n),
      visibleAt: new Float64Array(n),
      sortedVisibleAt: new Float64Array(n),
    };
    for (let i = 0; i < n; i++) {
      const j = kept[i] as number;
      bucket.ms[i] = ms[j] as number;
      bucket.sub[i] = sub[j] as number;
      bucket.digits[i] = digits[j] as number;
      bucket.gen[i] = j;
      bucket.visibleAt[i] = visibleAt[j] as number;
    }
    bucket.sortedVisibleAt.set(bucket.visibleAt);
    bucket.sortedVisibleAt.sort();
    return bucket;
  }

  private row(bucket: Bucket, i: number): R {
    return this.kind.build(
      this.options.seed,
      {
        hour: bucket.hour,
        gen: bucket.gen[i] as number,
        ms: bucket.ms[i] as number,
        sub: bucket.sub[i] as number,
        digits: bucket.digits[i] as number,
      },
      this.faults,
    );
  }

  private rowJson(bucket: Bucket, i: number, beta: boolean): string {
    const json = this.kind.json(this.row(bucket, i), beta, this.plain);
    // Flatten the string now: a page keeps a thousand of them alive, and as concatenation trees
    // (dozens of pieces each) they would make every young-generation collection copy them all.
    json.charCodeAt(0);
    return json;
  }

  /** Whether an instant lies past the window's end `to` (at it, for an exclusive end). */
  private beyond(ms: number, sub: number, to: Instant, toInclusive: boolean): boolean {
    const order = compareInstants(ms, sub, to.ms, to.sub);
    return toInclusive ? order > 0 : order >= 0;
  }

  /** The hours whose buckets can hold rows starting in [fromMs, toMs] that are visible at `now`. */
  private hours(fromMs: number, toMs: number, now: number): [number, number] {
    const { dataStartMs, dataEndMs } = this.options;
    const first = Math.floor(Math.max(fromMs, dataStartMs) / HOUR_MS);
    const last = Math.floor(Math.min(toMs, dataEndMs, now) / HOUR_MS);
    return [first, last];
  }

  /**
   * One page of the rows starting in [from, to] (`to` exclusive unless the stream's window includes
   * it) that are visible at `now`, sorted by start then id: `limit` rows after the first `skip`.
   */
  page(from: Instant, to: Instant, skip: number, limit: number, now: number, beta: boolean): Page {
    const toInclusive = this.options.toInclusive;
    const rows: string[] = [];
    let toSkip = skip;
    const [first, last] = this.hours(from.ms, to.ms, now);
    for (let hour = first; hour <= last; hour++) {
      const summary = this.summaries.get(hour);
      if (summary !== undefined) {
        if (summary.n === 0) continue;
        // A whole bucket, all visible, that the skip passes: step over it without its arrays.
        if (
          toSkip >= summary.n &&
          summary.maxVisibleAt <= now &&
          compareInstants(summary.firstMs, summary.firstSub, from.ms, from.sub) >= 0 &&
          !this.beyond(summary.lastMs, summary.lastSub, to, toInclusive)
        ) {
          toSkip -= summary.n;
          continue;
        }
      }
      const b = this.bucket(hour);
      if (b.n === 0) continue;
      const inside =
        compareInstants(b.ms[0] as number, b.sub[0] as number, from.ms, from.sub) >= 0 &&
        !this.beyond(b.ms[b.n - 1] as number, b.sub[b.n - 1] as number, to, toInclusive);
      if (inside && toSkip > 0) {
        const visible = countAtMost(b.sortedVisibleAt, now);
        if (toSkip >= visible) {
          toSkip -= visible;
          continue;
        }
      }
      for (let i = 0; i < b.n; i++) {
        if ((b.visibleAt[i] as number) > now) continue;
        if (!inside) {
          const ms = b.ms[i] as number;
          const sub = b.sub[i] as number;
          if (compareInstants(ms, sub, from.ms, from.sub) < 0 || this.beyond(ms, sub, to, toInclusive))
            continue;
        }
        if (toSkip > 0) {
          toSkip--;
          continue;
        }
        if (rows.length === limit) return { rows, more: true };
        rows.push(this.rowJson(b, i, beta));
      }
    }
    return { rows, more: false };
  }

  /**
   * The rows starting in [from, to] as objects, as the version serves them, sorted by start then
   * id: those visible at `now`, or all of them when `now` is undefined. `to` is in the range as in
   * the stream's window, unless `toInclusive` says otherwise (a range open to the end of the data).
   */
  rows(
    from: Instant,
    to: Instant,
    now: number | undefined,
    beta: boolean,
    toInclusive = this.options.toInclusive,
  ): R[] {
    const out: R[] = [];
    const [first, last] = this.hours(from.ms, to.ms, now ?? Number.POSITIVE_INFINITY);
    if (!Number.isFinite(last)) throw new RangeError("rows without an end: give `to`, `dataEnd` or a clock");
    for (let hour = first; hour <= last; hour++) {
      const b = this.bucket(hour);
      for (let i = 0; i < b.n; i++) {
        if (now !== undefined && (b.visibleAt[i] as number) > now) continue;
        const ms = b.ms[i] as number;
        const sub = b.sub[i] as number;
        if (compareInstants(ms, sub, from.ms, from.sub) < 0 || this.beyond(ms, sub, to, toInclusive))
          continue;
        out.push(this.kind.served(this.row(b, i), beta));
      }
    }
    return out;
  }
}
