/**
 * Durations and instants as operators write them: `500ms`, `30s`, `5m`, `2h`, `7d` (also combined,
 * `1h30m`), ISO-8601 durations (`PT5M`, `P1D`, `P1DT2H`, `PT0.5S`, `P2W`), and ISO-8601 instants
 * that carry a zone (`2024-05-01T00:00:00Z`, `2024-05-01T02:00:00+02:00`).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** The largest span a JavaScript Date can move by. */
const MAX_DURATION_MS = 8.64e15;

const SIMPLE_UNITS: Readonly<Record<string, number>> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR, d: DAY };
const SIMPLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const SIMPLE_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

const NUMBER = String.raw`(\d+(?:[.,]\d+)?)`;
const ISO = new RegExp(
  `^P(?:${NUMBER}Y)?(?:${NUMBER}M)?(?:${NUMBER}W)?(?:${NUMBER}D)?(?:T(?:${NUMBER}H)?(?:${NUMBER}M)?(?:${NUMBER}S)?)?$`,
  "i",
);

export type DurationProblem =
  /** Not written in any accepted form. */
  | "syntax"
  /** ISO-8601 years or months: no fixed length. */
  | "calendar"
  /** A minus sign: durations here are lengths of time. */
  | "negative"
  /** Finer than a millisecond. */
  | "precision"
  /** Longer than a Date can represent. */
  | "range";

type DurationResult = { ok: true; ms: number } | { ok: false; problem: DurationProblem };

/** Reads a duration and says why when it is not one. */
export function readDuration(text: string): DurationResult {
  const trimmed = text.trim();
  if (trimmed.startsWith("-")) {
    return readDuration(trimmed.slice(1)).ok
      ? { ok: false, problem: "negative" }
      : { ok: false, problem: "syntax" };
  }
  if (SIMPLE.test(trimmed)) {
    let total = 0;
    for (const [, amount, unit] of trimmed.matchAll(SIMPLE_PART)) {
      total += Number(amount) * (SIMPLE_UNITS[unit ?? ""] ?? Number.NaN);
    }
    return toWholeMilliseconds(total);
  }
  const iso = ISO.exec(trimmed);
  if (iso === null) return { ok: false, problem: "syntax" };
  const [, years, months, weeks, days, hours, minutes, seconds] = iso;
  const timePart = trimmed.toUpperCase().split("T")[1];
  const components = [years, months, weeks, days, hours, minutes, seconds];
  // `P` and `PT` alone, and a `T` with nothing after it, are not durations.
  if (components.every((c) => c === undefined) || timePart === "") return { ok: false, problem: "syntax" };
  if (years !== undefined || months !== undefined) return { ok: false, problem: "calendar" };
  const total =
    isoNumber(weeks) * WEEK +
    isoNumber(days) * DAY +
    isoNumber(hours) * HOUR +
    isoNumber(minutes) * MINUTE +
    isoNumber(seconds) * SECOND;
  return toWholeMilliseconds(total);
}

/** A duration in milliseconds, or `undefined` when `text` is not one (see {@link readDuration} for why). */
export function parseDuration(text: string): number | undefined {
  const result = readDuration(text);
  return result.ok ? result.ms : undefined;
}

/** The shortest simple form of a duration: `90000` → `1m30s`, `86400000` → `1d`, `0` → `0s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = Math.round(ms);
  let text = "";
  for (const [unit, size] of [
    ["d", DAY],
    ["h", HOUR],
    ["m", MINUTE],
    ["s", SECOND],
    ["ms", 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) {
      text += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return text;
}

function isoNumber(text: string | undefined): number {
  return text === undefined ? 0 : Number(text.replace(",", "."));
}

function toWholeMilliseconds(total: number): DurationResult {
  if (!Number.isFinite(total) || total > MAX_DURATION_MS) return { ok: false, problem: "range" };
  const whole = Math.round(total);
  // Decimal fractions in binary leave noise far below a millisecond; anything larger is real precision.
  if (Math.abs(total - whole) > Math.max(1e-9, total * Number.EPSILON * 64))
    return { ok: false, problem: "precision" };
  return { ok: true, ms: whole };
}

type InstantResult = { ok: true; at: Date } | { ok: false; problem: "syntax" | "zone" | "calendar" };

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/**
 * Reads an ISO-8601 instant. It must name its zone (`Z` or an offset): a local time would mean
 * something different on every host. Digits below the millisecond are dropped.
 */
export function readInstant(text: string): InstantResult {
  const match = INSTANT.exec(text.trim());
  if (match === null) return { ok: false, problem: "syntax" };
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, offsetHours, offsetMinutes] = match;
  if (h === undefined || (zulu === undefined && sign === undefined)) return { ok: false, problem: "zone" };
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? "0");
  const offset =
    sign === undefined
      ? 0
      : (sign === "-" ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes ?? "0"));
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    Number(offsetHours ?? "0") > 23 ||
    Number(offsetMinutes ?? "0") > 59
  ) {
    return { ok: false, problem: "calendar" };
  }
  const millis = Number((fraction ?? "").padEnd(3, "0").slice(0, 3));
  const at = new Date(0);
  at.setUTCFullYear(year, month - 1, day);
  at.setUTCHours(hour, minute, second, millis);
  return { ok: true, at: new Date(at.getTime() - offset * MINUTE) };
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return (DAYS_IN_MONTH[month - 1] ?? 0) + (month === 2 && leap ? 1 : 0);
}
