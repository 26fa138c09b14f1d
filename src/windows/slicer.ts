import { MAX_GRAPH_RANGE_MS, type Window } from "./planner.js";

/** Graph's largest page: what a request can carry at most. */
export const GRAPH_PAGE_ROWS = 1000;

/**
 * The rows a window aims at: 10 full pages. A window costs its pages plus at most one page that is
 * not full, so 10 pages keep that waste near 5% on average. A window's pages come one after
 * another (each nextLink from the page before), so Graph's budget is filled by the windows read
 * ahead, which hold few pages in all (READ_AHEAD_PAGES): windows much longer than that would
 * leave it unused. At Graph's budget 10 pages take about 3 s: the watermark moves that often.
 */
export const TARGET_WINDOW_ROWS = 10 * GRAPH_PAGE_ROWS;

/**
 * Rows after which a window is cut shorter (WindowSlicer.split): twice what it aims at (20 of
 * Graph's full pages), so that a density the last window foretold badly (a quiet spell, then a
 * busy one) neither holds the watermark for long nor runs into GRAPH_MAX_PAGES_PER_WINDOW. Counted
 * in rows, not pages: a Graph that pages by fewer rows is not made to split windows it reads well.
 */
export const SPLIT_AFTER_ROWS = 2 * TARGET_WINDOW_ROWS;

/** A window is at most this many times longer than the one before: a guess never runs away. */
const MAX_GROWTH = 4;

/** The shortest window a dense tenant gets, so that its watermark moves often. */
const MIN_WINDOW_MS = 3_600_000;

export interface SlicerOptions {
  /** The length of windows until rows have been seen (WINDOW_SLICE). */
  initialMs: number;
  /** Rows per millisecond seen earlier (the last poll), if any. */
  density?: number;
  targetRows?: number;
}

/**
 * Slices `[from, to]` into consecutive windows whose length follows the tenant's density: each
 * window aims at `targetRows` at the density of the last window read, so a sparse tenant's
 * requests carry full pages (up to Graph's 90 days) and a dense tenant's windows shrink (to an hour
 * at the least) so that its watermark keeps moving. Windows
 * meet at their bounds, as sliceRange's do. Windows are made when asked for (it is an iterable),
 * so a window begun after another ended is sized by what that one held.
 */
export class WindowSlicer implements Iterable<Window> {
  private nextFrom: number;
  private readonly end: number;
  private readonly initialMs: number;
  private readonly shortestMs: number;
  private readonly targetRows: number;
  private lastMs: number;
  private rowsPerMs: number | undefined;

  constructor(from: Date, to: Date, options: SlicerOptions) {
    if (!(options.initialMs > 0)) throw new RangeError(`slice must be positive, got ${options.initialMs}`);
    this.nextFrom = from.getTime();
    this.end = to.getTime();
    this.initialMs = Math.min(options.initialMs, MAX_GRAPH_RANGE_MS);
    this.shortestMs = Math.min(this.initialMs, MIN_WINDOW_MS);
    this.targetRows = options.targetRows ?? TARGET_WINDOW_ROWS;
    this.rowsPerMs = options.density;
    this.lastMs = this.initialMs;
  }

  /** Rows per millisecond of the last window read; undefined before one was. */
  get density(): number | undefined {
    return this.rowsPerMs;
  }

  /** A window was read whole and held `rows` rows (duplicates included: Graph sent them). */
  observe(window: Window, rows: number): void {
    const ms = window.to.getTime() - window.from.getTime();
    if (ms > 0) this.rowsPerMs = rows / ms;
  }

  /**
   * A window being read holds far more rows than its length was chosen for (`rows` so far, of
   * Graph's pages): if it can be shorter, the slicer goes back to its start with at least that
   * density, so that it is read again in windows that fit. False when it is as short as it gets.
   */
  split(window: Window, rows: number): boolean {
    const ms = window.to.getTime() - window.from.getTime();
    if (ms <= this.shortestMs) return false;
    this.rowsPerMs = Math.max(this.rowsPerMs ?? 0, rows / ms);
    // The next window is at most half this one, whatever the pages held: splits end.
    this.lastMs = ms / (2 * MAX_GROWTH);
    this.nextFrom = window.from.getTime();
    return true;
  }

  next(): Window | undefined {
    if (this.nextFrom > this.end) return undefined;
    const start = this.nextFrom;
    const length = this.lengthAt();
    const stop = Math.min(start + length, this.end);
    this.lastMs = length;
    this.nextFrom = stop >= this.end ? this.end + 1 : stop;
    return { from: new Date(start), to: new Date(stop) };
  }

  *[Symbol.iterator](): Iterator<Window> {
    for (let window = this.next(); window !== undefined; window = this.next()) yield window;
  }

  private lengthAt(): number {
    const density = this.rowsPerMs;
    if (density === undefined) return this.initialMs;
    const aimed = density > 0 ? this.targetRows / density : MAX_GRAPH_RANGE_MS;
    return Math.round(
      Math.max(this.shortestMs, Math.min(aimed, this.lastMs * MAX_GROWTH, MAX_GRAPH_RANGE_MS)),
    );
  }
}
