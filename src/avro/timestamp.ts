/**
 * Graph's DateTimeOffset text ↔ Avro `timestamp-micros` (microseconds since the Unix epoch, UTC).
 * Integer arithmetic only: Date.UTC works in whole milliseconds, everything below is added as an
 * integer, and every result is checked to be a safe integer (avsc's `long` holds JS numbers).
 */

const ZERO = 48;

/** The number held by `count` ASCII digits at `at`, or -1 if any of them is not a digit. */
function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = text.charCodeAt(i) - ZERO;
    if (!(digit >= 0 && digit <= 9)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Microseconds since the epoch of an RFC 3339 / ISO-8601 instant `YYYY-MM-DDTHH:MM:SS[.f…](Z|±hh:mm)`.
 * Any number of fractional digits; those beyond the 6th (Graph sends 7) are truncated, never rounded.
 * `undefined` when the text is not a valid instant (no offset, day 31 in a 30-day month, second 60,
 * …) or lies outside what a safe integer of microseconds holds (years ~1685 to ~2255).
 */
export function isoToMicros(text: string): number | undefined {
  if (text.length < 20) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (
    text.charCodeAt(4) !== 45 /* - */ ||
    text.charCodeAt(7) !== 45 ||
    (text.charCodeAt(10) | 0x20) !== 116 /* T or t */ ||
    text.charCodeAt(13) !== 58 /* : */ ||
    text.charCodeAt(16) !== 58 ||
    // Years below 100 would be read by Date.UTC as 19xx; they are out of range anyway.
    year < 100 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59
  ) {
    return undefined;
  }

  let i = 19;
  let fraction = 0; // microseconds
  if (text.charCodeAt(i) === 46 /* . */) {
    i++;
    const start = i;
    let digit = text.charCodeAt(i) - ZERO;
    while (digit >= 0 && digit <= 9) {
      if (i - start < 6) fraction = fraction * 10 + digit;
      digit = text.charCodeAt(++i) - ZERO;
    }
    const read = i - start;
    if (read === 0) return undefined;
    for (let k = read; k < 6; k++) fraction *= 10;
  }

  let offsetMinutes = 0;
  const zone = text.charCodeAt(i);
  if ((zone | 0x20) === 122 /* Z or z */) {
    i++;
  } else if (zone === 43 /* + */ || zone === 45 /* - */) {
    const offsetHour = digitsAt(text, i + 1, 2);
    const offsetMinute = digitsAt(text, i + 4, 2);
    if (
      text.charCodeAt(i + 3) !== 58 ||
      offsetHour < 0 ||
      offsetHour > 23 ||
      offsetMinute < 0 ||
      offsetMinute > 59
    ) {
      return undefined;
    }
    offsetMinutes = (offsetHour * 60 + offsetMinute) * (zone === 45 ? -1 : 1);
    i += 6;
  } else {
    return undefined;
  }
  if (i !== text.length) return undefined;

  const millis = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  const micros = millis * 1000 + fraction;
  return Number.isSafeInteger(micros) ? micros : undefined;
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fractional digits) of microseconds since the epoch. */
export function microsToIso(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`${micros} is not a whole number of microseconds`);
  const fraction = ((micros % 1_000_000) + 1_000_000) % 1_000_000;
  const millis = (micros - fraction) / 1000; // exact: micros - fraction is a multiple of 10^6
  const whole = new Date(millis).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${whole.slice(0, 19)}.${String(fraction).padStart(6, "0")}Z`;
}
