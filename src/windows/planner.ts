/** Graph refuses a getPstnCalls range over 90 days. */
export const MAX_GRAPH_RANGE_MS = 90 * 24 * 3_600_000;

export interface Window {
  from: Date;
  to: Date;
}

/**
 * Slices `[from, to]` into consecutive windows of at most `sliceMs` (and never over Graph's 90
 * days). Both bounds of getPstnCalls are inclusive, so consecutive windows share their boundary
 * instant: a row starting exactly there is read twice and dedupe drops the second copy; no instant
 * is ever left out.
 */
export function sliceRange(from: Date, to: Date, sliceMs: number): Window[] {
  const step = Math.min(sliceMs, MAX_GRAPH_RANGE_MS);
  if (!(step > 0)) throw new RangeError(`slice must be positive, got ${sliceMs}`);
  const windows: Window[] = [];
  const end = to.getTime();
  let start = from.getTime();
  if (start > end) return windows;
  for (;;) {
    const stop = Math.min(start + step, end);
    windows.push({ from: new Date(start), to: new Date(stop) });
    if (stop >= end) return windows;
    start = stop;
  }
}

export interface PollPlan {
  /** Everything that started before this was read by earlier polls and may be forgotten. */
  horizon: Date;
  windows: Window[];
}

/**
 * What one poll reads: from the lookback horizon behind the watermark (never before the
 * configured start) up to `now`, sliced.
 */
export function planPoll(options: {
  watermark: Date | undefined;
  start: Date;
  now: Date;
  lookbackMs: number;
  sliceMs: number;
}): PollPlan {
  const { watermark, start, now, lookbackMs, sliceMs } = options;
  const behind = watermark ? watermark.getTime() - lookbackMs : start.getTime();
  const from = new Date(Math.max(start.getTime(), behind));
  return { horizon: from, windows: sliceRange(from, now, sliceMs) };
}
