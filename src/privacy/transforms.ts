/**
 * What a privacy policy does to one field's text: a keyed token, a mask, a truncated address. Pure
 * functions of the value (and the key), so the same input always gives the same output and a reader
 * can check any of them on its own.
 */
import { createHmac, type KeyObject } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

/** A hashing key: its id travels with every token it made; its bytes never leave the process. */
export interface HashKey {
  readonly id: string;
  readonly key: KeyObject;
}

/**
 * `<key id>:<HMAC-SHA256 of the value, hex>`. The key id tells tokens of different keys apart, so
 * that after a rotation old and new tokens are never mistaken for the same person.
 */
export function hashToken(value: string, key: HashKey): string {
  return `${key.id}:${createHmac("sha256", key.key).update(value, "utf8").digest("hex")}`;
}

/**
 * A phone number's token with its country calling code left readable (`+44~k1:…`), for routing
 * and fraud rules that look at the destination country. The token is of the whole number, so it
 * joins with the plain token of the same number. A value that is not `+` and digits has no code.
 */
export function hashPhoneToken(value: string, key: HashKey): string {
  const code = countryCallingCode(value);
  return code === undefined ? hashToken(value, key) : `${code}~${hashToken(value, key)}`;
}

/**
 * Two-digit country calling codes (ITU-T E.164 assignments). `1` and `7` are the one-digit ones;
 * every other code is three digits, so the first digits of a number decide its code's length.
 */
const TWO_DIGIT_CODES: ReadonlySet<string> = new Set(
  (
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 " +
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98"
  ).split(" "),
);

/** `+<country calling code>` of an E.164 number (`+` and 8 to 15 digits), or undefined. */
export function countryCallingCode(value: string): string | undefined {
  if (!/^\+[1-9]\d{7,14}$/.test(value)) return undefined;
  const first = value[1] as string;
  if (first === "1" || first === "7") return `+${first}`;
  const two = value.slice(1, 3);
  return TWO_DIGIT_CODES.has(two) ? `+${two}` : `+${value.slice(1, 4)}`;
}

/**
 * Every letter and digit but the last `keep` of them becomes `*`; other characters (`+`, `@`, `.`,
 * `-`, spaces) stay, so a masked number or address keeps its shape.
 */
export function maskValue(value: string, keep: number): string {
  let shown = 0;
  const characters = [...value];
  for (let i = characters.length - 1; i >= 0; i--) {
    const character = characters[i] as string;
    if (!/[\p{L}\p{N}]/u.test(character)) continue;
    if (shown < keep) shown++;
    else characters[i] = "*";
  }
  return characters.join("");
}

/**
 * The network of an address: the first `ipv4Prefix` bits of an IPv4 address (zeros after), the first
 * `ipv6Prefix` of an IPv6 one, written canonically (RFC 5952). A value that is not an address is
 * null: a field meant for an address that holds something else is not passed on.
 */
export function truncateIp(value: string, ipv4Prefix: number, ipv6Prefix: number): string | null {
  if (isIPv4(value)) {
    const octets = value.split(".").map(Number);
    return keepBits(octets, 8, ipv4Prefix).join(".");
  }
  if (!isIPv6(value) || value.includes("%")) return null;
  const groups = ipv6Groups(value);
  if (groups === undefined) return null;
  const kept = keepBits(groups, 16, ipv6Prefix);
  // The URL parser writes IPv6 hosts in RFC 5952's canonical form.
  return new URL(`http://[${kept.map((group) => group.toString(16)).join(":")}]`).hostname.slice(1, -1);
}

/** `parts` of `width` bits each, all bits after the first `prefix` set to zero. */
function keepBits(parts: number[], width: number, prefix: number): number[] {
  return parts.map((part, index) => {
    const bits = Math.min(width, Math.max(0, prefix - index * width));
    return bits === 0 ? 0 : part & (((1 << bits) - 1) << (width - bits));
  });
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail included). */
function ipv6Groups(value: string): number[] | undefined {
  let canonical: string;
  try {
    canonical = new URL(`http://[${value}]`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const [head = "", tail] = canonical.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return undefined;
  const groups = [...left, ...Array<string>(missing).fill("0"), ...right].map((group) =>
    Number.parseInt(group, 16),
  );
  return groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff)
    ? groups
    : undefined;
}
