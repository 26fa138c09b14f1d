/**
 * Instants at Graph's precision (100 ns ticks). A JavaScript number cannot hold ticks since 1970
 * exactly, so an instant is a pair: whole milliseconds and the ticks below them (0..9999).
 */
export interface Instant {
  ms: number;
  sub: number;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export function compareInstants(aMs: number, aSub: number, bMs: number, bSub: number): number {
  return aMs !== bMs ? aMs - bMs : aSub - bSub;
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))?)?$/i;

/**
 * Parses what Graph accepts for a DateTimeOffset function parameter: a date (`2019-11-01`, midnight
 * UTC) or an instant with 0 to 7 fractional digits and `Z` or an offset (none means UTC).
 */
export function parseInstant(text: string): Instant | undefined {
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", , sign, offH = "0", offM = "0"] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(base).getUTCDate() !== day) return undefined; // 2019-02-30
  const ticks = Number(fraction.padEnd(7, "0"));
  let ms = base + Math.floor(ticks / 10_000);
  if (sign) {
    if (Number(offH) > 14 || Number(offM) > 59) return undefined;
    const offset = (Number(offH) * 60 + Number(offM)) * 60_000;
    ms += sign === "+" ? -offset : offset;
  }
  return { ms, sub: ticks % 10_000 };
}

const FRACTION_DIVISORS = [10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1] as const;

/**
 * The fractional-second ticks (0..9999999) of an instant truncated to `digits` digits: what is left
 * when the text shows only that many.
 */
export function truncateTicks(ticks: number, digits: number): number {
  const divisor = FRACTION_DIVISORS[digits] ?? 1;
  return ticks - (ticks % divisor);
}

const TWO_DIGITS: readonly string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
let cachedHourMs = Number.NaN;
let cachedHourHead = "";

/** `2019-11-01T00:00:08.2589935Z` with exactly `digits` fractional digits (0 = none). */
export function formatInstant(ms: number, sub: number, digits: number): string {
  const msInSecond = ((ms % 1000) + 1000) % 1000;
  const secondMs = ms - msInSecond;
  const secondInHour = ((((secondMs % HOUR_MS) + HOUR_MS) % HOUR_MS) / 1000) | 0;
  const hourMs = secondMs - secondInHour * 1000;
  if (hourMs !== cachedHourMs) {
    cachedHourHead = new Date(hourMs).toISOString().slice(0, 14); // 2019-11-01T00:
    cachedHourMs = hourMs;
  }
  const head = `${cachedHourHead}${TWO_DIGITS[(secondInHour / 60) | 0]}:${TWO_DIGITS[secondInHour % 60]}`;
  if (digits === 0) return `${head}Z`;
  const ticks = msInSecond * 10_000 + sub;
  const shown = Math.floor(ticks / (FRACTION_DIVISORS[digits] ?? 1));
  return `${head}.${String(shown).padStart(digits, "0")}Z`;
}
