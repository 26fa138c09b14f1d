/**
 * The demo's privacy policy (PRIVACY_POLICY_FILE, written in its temporary folder): every stream
 * writes its topic raw and `<topic>.siem` pseudonymised, in the same transactions; and the pairing
 * of a raw record with the SIEM record of the same row, read back from both topics, for the view.
 */
import { randomBytes } from "node:crypto";
import type { StreamName } from "../../src/streams/index.js";
import { changedFields, type PrivacyPair } from "./view.js";

/** The id of the demo's hashing key: in every token (`k1:…`) and in the `pstn.policy.key` header. */
export const DEMO_KEY_ID = "k1";
/**
 * The variable the policy names its key by (`keys: { k1: { env: … } }`). The demo sets it only in the
 * environment it hands the connector's configuration, never in its own process's or a file.
 */
export const DEMO_KEY_VARIABLE = "PSTN_DEMO_SIEM_KEY";
/** The SIEM output of a stream is its topic with this suffix. */
export const SIEM_SUFFIX = ".siem";

type Rule = "hash" | "drop" | "truncate-ip" | { action: "hash"; keepCountryCode: true };
const PHONE: Rule = { action: "hash", keepCountryCode: true };

/**
 * What each stream's SIEM output does: phone numbers hashed with their country code left readable,
 * the UPN hashed, the display name dropped, public addresses cut to their network (/24, /48), local
 * ones dropped; every other field as Graph sent it.
 */
export const SIEM_FIELDS: Readonly<Record<StreamName, Readonly<Record<string, Rule>>>> = {
  pstn: {
    callerNumber: PHONE,
    calleeNumber: PHONE,
    userPrincipalName: "hash",
    userDisplayName: "drop",
    clientPublicIpV4Address: "truncate-ip",
    clientPublicIpV6Address: "truncate-ip",
    clientLocalIpV4Address: "drop",
    clientLocalIpV6Address: "drop",
  },
  directRouting: {
    callerNumber: PHONE,
    calleeNumber: PHONE,
    userPrincipalName: "hash",
    userDisplayName: "drop",
  },
  sms: {
    sourceNumber: PHONE,
    destinationNumber: PHONE,
    userPrincipalName: "hash",
    userDisplayName: "drop",
  },
};

/** A fresh key for one demo run: 32 random bytes, base64 (what `openssl rand -base64 32` prints). */
export function demoKey(): string {
  return randomBytes(32).toString("base64");
}

/** The SIEM topic of a stream whose raw topic is `topic`. */
export function siemTopic(topic: string): string {
  return `${topic}${SIEM_SUFFIX}`;
}

/** The policy's version, in every record's `pstn.policy.version` header: the run's start, to the second. */
export function demoPolicyVersion(now: number): string {
  return `demo-${new Date(now).toISOString().slice(0, 19).replace(/[-:]/g, "")}Z`;
}

/**
 * The policy file's contents (JSON, which is YAML too) for the streams whose raw topics are
 * `topics`: each writes its own topic as Graph sent the rows, and `<topic>.siem` under SIEM_FIELDS.
 * The key is named by reference only; its bytes are never in the file.
 */
export function demoPolicy(version: string, topics: Readonly<Record<StreamName, string>>): string {
  const streams = Object.fromEntries(
    (Object.keys(SIEM_FIELDS) as StreamName[]).map((stream) => [
      stream,
      {
        outputs: [
          { topic: topics[stream] },
          {
            topic: siemTopic(topics[stream]),
            default: "keep",
            hashKey: DEMO_KEY_ID,
            fields: SIEM_FIELDS[stream],
          },
        ],
      },
    ]),
  );
  return `${JSON.stringify({ version, keys: { [DEMO_KEY_ID]: { env: DEMO_KEY_VARIABLE } }, streams }, null, 2)}\n`;
}

/** What the SIEM output does to each field it changes, as the view names it. */
export function actionLabels(stream: string): Record<string, string> {
  const rules = (SIEM_FIELDS as Record<string, Record<string, Rule> | undefined>)[stream] ?? {};
  return Object.fromEntries(
    Object.entries(rules).map(([field, rule]) => [
      field,
      typeof rule === "object"
        ? "hash, country code kept"
        : rule === "truncate-ip"
          ? "truncate-ip (/24, /48)"
          : rule,
    ]),
  );
}

/** The `pstn.policy.*` headers of a record (Kafka headers as the client gives them). */
export function policyHeaders(headers: ReadonlyMap<unknown, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of headers ?? []) {
    const name = String(key);
    if (name.startsWith("pstn.policy.")) out[name] = String(value);
  }
  return out;
}

/** One record of a pair as read: its stream, tenant, topic, key (the row's id) and headers. */
export interface ReadRecord {
  stream: string;
  tenant?: string;
  topic: string;
  /** The record's key: the row's id. */
  key: string;
  headers: Record<string, string>;
}

interface PendingSiem extends ReadRecord {
  value: Buffer;
}

interface Shown {
  pair: PrivacyPair;
  at: number;
  /** How many fields differ: the more, the more the pair shows. */
  score: number;
}

export interface PairTrackerOptions {
  /** Decodes a SIEM record's value into its row in Graph's JSON form (the registry's schema). */
  decode: (stream: string, value: Buffer) => Promise<Record<string, unknown>>;
  /** Records of each side kept while their other half is awaited (default 500 per side). */
  pending?: number;
  /**
   * A pair gives way to one as telling (as many fields changed) after `refreshMs` (default 5 s), to
   * a more telling one at once, and to one field less telling for each `holdMs` it has been shown
   * (default 10 s): the view's event stays recent without turning to rows with little to hide.
   */
  refreshMs?: number;
  holdMs?: number;
}

/**
 * Pairs each stream's raw records with the SIEM records of the same rows (by tenant and key; both
 * halves come in the same transaction, in either order) and keeps one recent pair per stream, the
 * most telling of late (PairTrackerOptions). Only the SIEM records of rows that may be shown are
 * decoded, one at a time per stream (the raw ones the demo decodes anyway, for its events).
 */
export class PairTracker {
  private readonly raws = new Map<string, { record: ReadRecord; row: Record<string, unknown> }>();
  private readonly siems = new Map<string, PendingSiem>();
  private readonly shown = new Map<string, Shown>();
  private readonly decoding = new Set<string>();
  private readonly limit: number;
  private readonly refreshMs: number;
  private readonly holdMs: number;

  constructor(private readonly options: PairTrackerOptions) {
    this.limit = options.pending ?? 500;
    this.refreshMs = options.refreshMs ?? 5000;
    this.holdMs = options.holdMs ?? 10_000;
  }

  /** A raw record read back, decoded. */
  async raw(record: ReadRecord, row: Record<string, unknown>, at: number): Promise<void> {
    const id = pairId(record);
    const siem = this.siems.get(id);
    if (siem === undefined) {
      remember(this.raws, id, { record, row }, this.limit);
      return;
    }
    this.siems.delete(id);
    await this.pair(record, row, siem, at);
  }

  /** A SIEM record read back, as its bytes: decoded only when its pair may be shown. */
  async siem(record: ReadRecord, value: Buffer, at: number): Promise<void> {
    const id = pairId(record);
    const raw = this.raws.get(id);
    if (raw === undefined) {
      remember(this.siems, id, { ...record, value }, this.limit);
      return;
    }
    this.raws.delete(id);
    await this.pair(raw.record, raw.row, { ...record, value }, at);
  }

  /** The pair of the first of `streams` that has one (the view shows one event). */
  latest(streams: readonly string[]): PrivacyPair | undefined {
    for (const stream of streams) {
      const shown = this.shown.get(stream);
      if (shown !== undefined) return shown.pair;
    }
    return [...this.shown.values()][0]?.pair;
  }

  private async pair(
    raw: ReadRecord,
    row: Record<string, unknown>,
    siem: PendingSiem,
    at: number,
  ): Promise<void> {
    const { stream } = raw;
    if (this.decoding.has(stream)) return;
    const actions = actionLabels(stream);
    // The most it can show: the fields the policy changes that the raw row has a value in.
    const hopeful = Object.keys(actions).filter(
      (field) => row[field] !== null && row[field] !== undefined && row[field] !== "",
    ).length;
    const current = this.shown.get(stream);
    if (current !== undefined) {
      if (hopeful < this.bar(current, at)) return;
      if (hopeful <= current.score && at - current.at < this.refreshMs) return;
    }
    this.decoding.add(stream);
    try {
      const pair: PrivacyPair = {
        stream,
        ...(raw.tenant === undefined ? {} : { tenant: raw.tenant }),
        id: raw.key,
        topics: { raw: raw.topic, siem: siem.topic },
        raw: row,
        siem: await this.options.decode(stream, siem.value),
        rawHeaders: raw.headers,
        siemHeaders: siem.headers,
        actions,
      };
      const score = changedFields(pair).length;
      const shown = this.shown.get(stream);
      if (shown === undefined || score >= this.bar(shown, at)) this.shown.set(stream, { pair, at, score });
    } finally {
      this.decoding.delete(stream);
    }
  }

  /** How many fields a pair must change to replace `shown` at `at`: one fewer per `holdMs` shown. */
  private bar(shown: Shown, at: number): number {
    return shown.score - Math.floor(Math.max(0, at - shown.at) / this.holdMs);
  }
}

function pairId(record: ReadRecord): string {
  return `${record.stream}\u0000${record.tenant ?? ""}\u0000${record.key}`;
}

/** Sets `key` in `map`, dropping the oldest entries past `limit`. */
function remember<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > limit) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}
