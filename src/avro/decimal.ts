/**
 * Exact decimals for Avro's `decimal` logical type: text (as Graph sent it) → unscaled integer →
 * big-endian two's complement bytes, and back. Never rounds, never goes through floating point.
 */

/** Why a text does not fit a decimal(precision, scale); `undefined` from the public helper. */
export const DecimalProblem = {
  NOT_A_NUMBER: "not-a-number",
  TOO_MANY_FRACTION_DIGITS: "too-many-fraction-digits",
  TOO_MANY_DIGITS: "too-many-digits",
} as const;
export type DecimalProblem = (typeof DecimalProblem)[keyof typeof DecimalProblem];

const ZERO = 48; // "0"
const NINE = 57; // "9"

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

/**
 * Parses `[+-]digits[.digits][(e|E)[+-]digits]` into the unscaled integer of decimal(precision, scale),
 * or says why it cannot. Zeros (leading, trailing, "-0") cost nothing and never make a value not fit.
 */
export function parseDecimal(text: string, scale: number, precision: number): bigint | DecimalProblem {
  const length = text.length;
  let i = 0;
  let negative = false;
  const first = text.charCodeAt(0);
  if (first === 45 /* - */ || first === 43 /* + */) {
    negative = first === 45;
    i = 1;
  }
  const intStart = i;
  while (i < length && isDigit(text.charCodeAt(i))) i++;
  const intEnd = i;
  let fracStart = i;
  let fracEnd = i;
  if (i < length && text.charCodeAt(i) === 46 /* . */) {
    fracStart = ++i;
    while (i < length && isDigit(text.charCodeAt(i))) i++;
    fracEnd = i;
  }
  if (intEnd === intStart && fracEnd === fracStart) return DecimalProblem.NOT_A_NUMBER;
  let exponent = 0;
  if (i < length && (text.charCodeAt(i) | 0x20) === 101 /* e or E */) {
    i++;
    let expNegative = false;
    const sign = text.charCodeAt(i);
    if (sign === 45 || sign === 43) {
      expNegative = sign === 45;
      i++;
    }
    const expStart = i;
    while (i < length && isDigit(text.charCodeAt(i))) i++;
    if (i === expStart) return DecimalProblem.NOT_A_NUMBER;
    // A huge exponent becomes Infinity or a large float: still compares correctly below.
    exponent = Number(text.slice(expStart, i)) * (expNegative ? -1 : 1);
  }
  if (i !== length) return DecimalProblem.NOT_A_NUMBER;

  // value = digits × 10^power, with digits stripped of leading and trailing zeros.
  let digits = text.slice(intStart, intEnd) + text.slice(fracStart, fracEnd);
  let power = exponent - (fracEnd - fracStart);
  let lead = 0;
  while (lead < digits.length && digits.charCodeAt(lead) === ZERO) lead++;
  let trail = digits.length;
  while (trail > lead && digits.charCodeAt(trail - 1) === ZERO) trail--;
  if (trail === lead) return 0n;
  power += digits.length - trail;
  digits = digits.slice(lead, trail);

  if (-power > scale) return DecimalProblem.TOO_MANY_FRACTION_DIGITS;
  const shift = power + scale; // zeros to append to reach the unscaled integer
  if (digits.length + shift > precision) return DecimalProblem.TOO_MANY_DIGITS;
  const unscaled = BigInt(shift === 0 ? digits : digits + "0".repeat(shift));
  return negative ? -unscaled : unscaled;
}

/**
 * Exact unscaled value of `text` as decimal(precision, scale), or `undefined` when it does not fit
 * (more non-zero fractional digits than `scale`, more than `precision` digits) or is not a number.
 * Accepts "-0.0123", "1e-3", "1.5E+2", "0", "0.00"; never rounds.
 */
export function decimalToUnscaled(text: string, scale: number, precision: number): bigint | undefined {
  const parsed = parseDecimal(text, scale, precision);
  return typeof parsed === "bigint" ? parsed : undefined;
}

function invertBytes(buffer: Buffer): Buffer {
  for (let i = 0; i < buffer.length; i++) buffer[i] = ~buffer[i]! & 0xff;
  return buffer;
}

/** Avro decimal bytes: big-endian two's complement, the fewest bytes that keep the sign (0 is one byte). */
export function unscaledToBytes(value: bigint): Buffer {
  // A negative v is the bitwise complement of -v - 1, which is non-negative: encode that, then flip.
  const negative = value < 0n;
  const magnitude = negative ? -value - 1n : value;
  let hex = magnitude.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (hex.charCodeAt(0) >= 56 /* "8": the top bit would read as a sign */) hex = `00${hex}`;
  const bytes = Buffer.from(hex, "hex");
  return negative ? invertBytes(bytes) : bytes;
}

/** The unscaled integer held in Avro decimal bytes (empty bytes read as 0). */
export function bytesToUnscaled(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  const negative = (bytes[0]! & 0x80) !== 0;
  const copy = Buffer.from(bytes);
  if (negative) invertBytes(copy);
  const magnitude = BigInt(`0x${copy.toString("hex")}`);
  return negative ? -magnitude - 1n : magnitude;
}

/** Canonical text of unscaled × 10^-scale: no exponent, no trailing fractional zeros ("0.0123", "0", "-12.5"). */
export function unscaledToDecimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale > 0) {
    if (digits.length <= scale) digits = "0".repeat(scale - digits.length + 1) + digits;
    const integer = digits.slice(0, digits.length - scale);
    let end = digits.length;
    while (end > integer.length && digits.charCodeAt(end - 1) === ZERO) end--;
    digits = end === integer.length ? integer : `${integer}.${digits.slice(integer.length, end)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** Inverse of `unscaledToBytes` followed by scaling: canonical decimal text of Avro decimal bytes. */
export function bytesToDecimalText(bytes: Buffer, scale: number): string {
  return unscaledToDecimalText(bytesToUnscaled(bytes), scale);
}
