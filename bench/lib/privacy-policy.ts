/**
 * The privacy policies the CPU-bound benchmark measures (PRIVACY_POLICY_FILE): none, one output
 * pseudonymised for a SIEM, and two outputs (raw for billing + that SIEM one) written in the same
 * transactions. The files go to a temporary folder outside the repository, removed at the end; the
 * hashing key (32 random bytes, base64) is never written: the policy names it by reference
 * (`{ env: BENCH_SIEM_HASH_KEY }`) and it lives in the app's environment only.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onCleanup } from "./cleanup.js";

/** The environment variable the policies' key reference names. */
export const KEY_VARIABLE = "BENCH_SIEM_HASH_KEY";
const KEY_ID = "bench1";

/**
 * What a SIEM may see of a PSTN row: numbers as keyed tokens with their country calling code, the
 * user as a token, no display name, client addresses cut to their /24 and /48 networks; the rest
 * (times, durations, charges, destinations) as Graph sent it.
 */
export const SIEM_FIELDS: Record<string, unknown> = {
  callerNumber: { action: "hash", keepCountryCode: true },
  calleeNumber: { action: "hash", keepCountryCode: true },
  userPrincipalName: "hash",
  userDisplayName: "drop",
  clientPublicIpV4Address: "truncate-ip",
  clientPublicIpV6Address: "truncate-ip",
  clientLocalIpV4Address: "truncate-ip",
  clientLocalIpV6Address: "truncate-ip",
};

export type PrivacyVariant = "none" | "siem" | "raw+siem";

export const PRIVACY_VARIANTS: readonly PrivacyVariant[] = ["none", "siem", "raw+siem"];

export interface PolicyFiles {
  /** The connector's environment for a variant: PRIVACY_POLICY_FILE and the key, or nothing. */
  env(variant: PrivacyVariant, siemTopic: string): Record<string, string>;
  /** Removes the folder (also done on Ctrl-C). */
  remove(): void;
}

/** A folder for the policy files, and a fresh key for this run. */
export function policyFiles(): PolicyFiles {
  const dir = mkdtempSync(join(tmpdir(), "pstn-bench-privacy-"));
  const key = randomBytes(32).toString("base64");
  let written = 0;
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const unregister = onCleanup(remove);
  return {
    env(variant, siemTopic): Record<string, string> {
      if (variant === "none") return {};
      const siem = { topic: siemTopic, hashKey: KEY_ID, default: "keep", fields: SIEM_FIELDS };
      const file = join(dir, `policy-${++written}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          version: `bench-${variant}`,
          keys: { [KEY_ID]: { env: KEY_VARIABLE } },
          // The raw output: the stream's own topic (KAFKA_TOPIC), rows as Graph sent them.
          streams: { pstn: { outputs: variant === "siem" ? [siem] : [{}, siem] } },
        }),
      );
      return { PRIVACY_POLICY_FILE: file, [KEY_VARIABLE]: key };
    },
    remove() {
      unregister();
      remove();
    },
  };
}
