/**
 * A privacy policy as the engine applies it: per output topic of a stream, what happens to each
 * field of a row before it is encoded. Plain data, so that it crosses to the decoder thread as it
 * is; the thread compiles it into a row transform once.
 */
import { createSecretKey } from "node:crypto";
import { type HashKey, hashPhoneToken, hashToken, maskValue, truncateIp } from "./transforms.js";

export const FIELD_ACTIONS = ["keep", "hash", "mask", "truncate-ip", "drop"] as const;

export type FieldAction =
  | { readonly action: "keep" }
  | { readonly action: "drop" }
  | { readonly action: "hash"; readonly keepCountryCode: boolean }
  | { readonly action: "mask"; readonly keep: number }
  | { readonly action: "truncate-ip"; readonly ipv4Prefix: number; readonly ipv6Prefix: number };

/** One output's rules for the fields it changes; a field it leaves out is written as Graph sent it. */
export interface OutputPolicy {
  readonly changes: readonly (readonly [field: string, action: FieldAction])[];
  /** The key its `hash` fields use: its id (in tokens and headers) and its bytes. */
  readonly hashKey?: { readonly id: string; readonly secret: Uint8Array };
}

/** A row → the row this output writes (a new object; the row itself stays as it is). */
export type RowTransform = (row: Record<string, unknown>) => Record<string, unknown>;

/**
 * The transform of `policy`, or undefined when it changes nothing (the output is the raw row).
 * A value that is not text is left for the codec (which dead-letters it, in every output alike),
 * except by `drop`; an empty text stays empty (there is nothing in it to hide).
 */
export function rowTransform(policy: OutputPolicy): RowTransform | undefined {
  const steps = policy.changes
    .filter(([, action]) => action.action !== "keep")
    .map(([field, action]) => [field, remembered(fieldStep(action, policy.hashKey))] as const);
  if (steps.length === 0) return undefined;
  return (row) => {
    const out = { ...row };
    for (const [field, step] of steps) {
      if (step === null) out[field] = null;
      else {
        const value = row[field];
        if (typeof value === "string" && value !== "") out[field] = step(value);
      }
    }
    return out;
  };
}

/**
 * Values a step remembers its answers for. A tenant's numbers, names and addresses repeat from row
 * to row, and an HMAC or an IPv6 parse costs microseconds each; the answers are bounded, and
 * forgotten all at once when full, so a stream of unique values costs one lookup each and no more
 * memory than this. They live in the decoder thread, beside the raw rows they came from.
 */
const REMEMBERED_VALUES = 4096;

function remembered(
  step: ((value: string) => string | null) | null,
): ((value: string) => string | null) | null {
  if (step === null) return null;
  const answers = new Map<string, string | null>();
  return (value) => {
    const known = answers.get(value);
    if (known !== undefined) return known;
    const answer = step(value);
    if (answers.size >= REMEMBERED_VALUES) answers.clear();
    answers.set(value, answer);
    return answer;
  };
}

/** What one action does to a text value; null for `drop`, which does not look at the value. */
function fieldStep(
  action: FieldAction,
  hashKey: OutputPolicy["hashKey"],
): ((value: string) => string | null) | null {
  switch (action.action) {
    case "drop":
      return null;
    case "hash": {
      if (hashKey === undefined) throw new Error("a hash action needs the output's key");
      const key: HashKey = { id: hashKey.id, key: createSecretKey(hashKey.secret) };
      return action.keepCountryCode
        ? (value) => hashPhoneToken(value, key)
        : (value) => hashToken(value, key);
    }
    case "mask":
      return (value) => maskValue(value, action.keep);
    case "truncate-ip":
      return (value) => truncateIp(value, action.ipv4Prefix, action.ipv6Prefix);
    case "keep":
      return (value) => value;
  }
}
