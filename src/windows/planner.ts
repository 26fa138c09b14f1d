/** Graph refuses a call-log range over 90 days. */
export const MAX_GRAPH_RANGE_MS = 90 * 24 * 3_600_000;

export interface Window {
  from: Date;
  to: Date;
}

/**
 * Slices `[from, to]` into consecutive windows of at most `sliceMs` (and never over Graph's 90
 * days). Consecutive windows share their boundary instant: where `toDateTime` is inclusive
 * (getPstnCalls, getSmsLog) a row starting exactly there is read twice and dedupe drops the second
 * copy; where it is exclusive (getDirectRoutingCalls) the next window's inclusive `fromDateTime`
 * reads it once. No instant is ever left out.
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

/**
 * What one poll reads: from the lookback horizon behind the watermark (never before the
 * configured start) up to `now`. Everything that started before `from` was read by earlier polls.
 */
export function planPoll(options: {
  watermark: Date | undefined;
  start: Date;
  now: Date;
  lookbackMs: number;
}): Window {
  const { watermark, start, now, lookbackMs } = options;
  const behind = watermark ? watermark.getTime() - lookbackMs : start.getTime();
  return { from: new Date(Math.max(start.getTime(), behind)), to: now };
}
