/**
 * Parses a Retry-After header value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns the
 * wait in ms from `nowMs`, never negative; undefined when absent or unparseable.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Decimal seconds are outside the RFC but some gateways send them; honour them rather than ignore.
  if (/^\d+\.\d+$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  // An HTTP-date has whole seconds: round up so we never come back early.
  return Math.max(0, at - nowMs);
}
