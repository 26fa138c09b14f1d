import { createHmac, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { STREAMS, type StreamName } from "../../src/streams/index.js";
import { type GraphSimulator, startGraphSimulator } from "../../tools/simulator/index.js";
import { type AvroRecord, readAvroWithPython } from "./avro-readers.js";
import { CliProcess, cleanEnv } from "./cli.js";
import { connectorEnv } from "./connector.js";
import { readTopicWithJava } from "./java-reader.js";
import { uniqueName } from "./kafka.js";
import { freePort, scrapeMetric, waitForMetric, writeCaFile } from "./processes.js";
import type { TestStack } from "./stack.js";

const DAY = 86_400_000;

export interface CrashLoopOptions {
  stack: TestStack;
  /** SIGKILLs while the backfill runs, then while live polling reads late rows. */
  backfillKills: number;
  liveKills: number;
  historyDays: number;
  callsPerHour: number;
  seed: number;
  log?: (line: string) => void;
  /** Where each instance's log goes (run-N.log), for reading a failure afterwards. */
  logDir?: string;
  /** The streams one process reads at once (CONNECTOR_STREAMS); pstn alone by default. */
  streams?: StreamName[];
  /**
   * Writes each stream under a privacy policy (PRIVACY_POLICY_FILE) with two outputs, its topic
   * raw and `<topic>.siem` with phone numbers and the UPN hashed ({@link SIEM_HASHED}); both are
   * counted, their ids compared, and the SIEM records decoded and their tokens checked.
   */
  privacy?: boolean;
}

export interface KillRecord {
  phase: "backfill" | "live";
  afterMs: number;
  watermark: string | null;
}

/** What one stream's topic holds against the simulator's truth. */
export interface TopicCount {
  rowsExpected: number;
  rowsOnTopic: number;
  duplicates: number;
  missing: number;
  extra: number;
}

/** A stream's SIEM output: counted like its raw one, compared with it, and its tokens checked. */
export interface SiemCount extends TopicCount {
  topic: string;
  /** Ids the raw output holds and this one does not, and the other way round. */
  onlyInRaw: number;
  onlyInSiem: number;
  /** Records decoded with the registry's schema by a reader of its own (Python's confluent-kafka). */
  decoded: number;
  /** Hashed values compared with an HMAC made here. */
  tokensChecked: number;
  /** Records whose tokens or headers are not as the policy says, or that are of no row. */
  problemCount: number;
  /** The first few of them, to read. */
  problems: string[];
}

export interface CrashLoopResult extends TopicCount {
  kills: KillRecord[];
  /**
   * Each stream's count (of its raw output, with `privacy`); the fields above are the sums of every
   * output counted, so that with `privacy` each row is expected once per output.
   */
  streams: Partial<Record<StreamName, TopicCount>>;
  /** With `privacy`: each stream's SIEM output. */
  siem?: Partial<Record<StreamName, SiemCount>>;
  retryAfterViolations: number;
  graphRequests: number;
  elapsedMs: number;
}

/**
 * Runs `pstn-connector run` as a child process against the simulator, SIGKILLs it at random
 * moments (seeded) during the backfill and during live polling with late rows, starts it again
 * each time, lets the last one catch up, and compares the topic with the simulator's ground truth.
 */
export async function crashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const log = options.log ?? (() => undefined);
  const streams = options.streams ?? ["pstn"];
  const started = Date.now();
  // Live calls (one a second, up to 5 s late) start at once and never stop: however long the
  // backfill takes, the live kills land while late rows arrive. The check covers rows that
  // started before a cutoff taken after the last kill.
  const liveSince = Date.now() + 5_000;
  const maxDelayMs = 5_000;
  const sim = await startGraphSimulator({
    seed: options.seed,
    clientSecret: "simulator-secret",
    dataStart: new Date(started - options.historyDays * DAY),
    callsPerHour: options.callsPerHour,
    live: { since: new Date(liveSince), callsPerHour: 3_600 },
    visibilityDelayMs: { min: 0, max: maxDelayMs },
    pageSize: 250,
    faults: { throttleRate: 0.02, unavailableRate: 0.02, pageLatencyMs: { min: 20, max: 80 } },
  });
  const policyDir = options.privacy ? await mkdtemp(join(tmpdir(), "pstn-crash-policy-")) : undefined;
  try {
    const caFile = await writeCaFile(sim.caCertificatePem);
    const base = connectorEnv(sim, options.stack, {
      CONNECTOR_START: new Date(started - options.historyDays * DAY).toISOString(),
      POLL_INTERVAL: "1s",
      LOOKBACK: "30s",
      WINDOW_SLICE: "1d",
      CONNECTOR_STREAMS: streams.join(","),
      KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("direct-routing-calls"),
      KAFKA_TOPIC_SMS: uniqueName("sms-log"),
      GRAPH_MAX_REQUESTS_PER_MINUTE: "1200",
      CONNECTOR_FAILOVER_TIMEOUT: "2s",
      LOG_LEVEL: options.logDir ? "info" : "warn",
    });
    const topics = topicsOf(base);
    const key = randomBytes(32);
    if (policyDir !== undefined) {
      base.PRIVACY_POLICY_FILE = join(policyDir, "privacy.json");
      base.SIEM_HASH_KEY = key.toString("base64");
      await writeFile(
        base.PRIVACY_POLICY_FILE,
        JSON.stringify(
          siemPolicy({
            version: CRASH_POLICY_VERSION,
            keyId: "k1",
            key: { env: "SIEM_HASH_KEY" },
            streams,
            topics,
          }),
        ),
      );
    }
    const env = cleanEnv({ ...base, NODE_EXTRA_CA_CERTS: caFile });
    const random = seeded(options.seed);
    const kills: KillRecord[] = [];
    const plan: Array<"backfill" | "live"> = [
      ...Array<"backfill">(options.backfillKills).fill("backfill"),
      ...Array<"live">(options.liveKills).fill("live"),
    ];
    // Each instance gets its own metrics port, so a figure never comes from another instance.
    let instances = 0;
    const start = async (): Promise<{ child: CliProcess; port: number }> => {
      const port = await freePort();
      const child = new CliProcess(["run"], { ...env, METRICS_PORT: String(port) });
      const number = ++instances;
      if (options.logDir) {
        const logFile = join(options.logDir, `run-${number}.log`);
        void child.done.then((result) => writeFile(logFile, result.stderr));
      }
      return { child, port };
    };
    for (const phase of plan) {
      const { child, port } = await start();
      try {
        // Kill while it works: once elected (the killed one's membership must expire first), and
        // for the live phase once the backfill is behind it.
        await waitForMetric(port, "pstn_connector_active", (v) => v === 1, 120_000, child);
        // The first live instance may have most of the backfill ahead of it: give it time.
        if (phase === "live") await waitForWatermark(port, liveSince, 900_000, child);
        const afterMs = Math.round(200 + random() * 3_000);
        await sleep(afterMs);
        const watermark = await scrapeWatermark(port);
        kills.push({
          phase,
          afterMs,
          watermark: watermark ? new Date(watermark * 1000).toISOString() : null,
        });
        log(
          `kill ${kills.length} (${phase}) after ${afterMs} ms, watermark ${kills.at(-1)?.watermark ?? "-"}`,
        );
      } finally {
        child.kill("SIGKILL");
        await child.done;
      }
    }

    const cutoff = Date.now();
    const last = await start();
    try {
      await waitForWatermark(last.port, cutoff + maxDelayMs + 2_000, 300_000, last.child);
    } finally {
      last.child.kill("SIGTERM");
    }
    const exit = await last.child.done;
    if (exit.code !== 0)
      throw new Error(`the last instance exited ${exit.code}: ${exit.stderr.slice(-1500)}`);

    const counts: Partial<Record<StreamName, TopicCount>> = {};
    const siem: Partial<Record<StreamName, SiemCount>> = {};
    if (policyDir === undefined) {
      for (const stream of streams) {
        counts[stream] = (
          await countTopic(options.stack, streamTruth(sim, stream, cutoff), topics[stream])
        ).count;
        log(`${stream}: ${JSON.stringify(counts[stream])}`);
      }
    } else {
      // Every output at once: a read is mostly a reader starting and a settle period waiting.
      await Promise.all(
        streams.map(async (stream) => {
          const truth = streamTruth(sim, stream, cutoff);
          const [raw, hashed] = await Promise.all([
            countTopic(options.stack, truth, topics[stream]),
            countSiemOutput(options.stack, truth, siemTopic(topics[stream]), key),
          ]);
          const { ids, ...count } = hashed;
          counts[stream] = raw.count;
          siem[stream] = {
            ...count,
            onlyInRaw: [...raw.ids].filter((id) => !ids.has(id)).length,
            onlyInSiem: [...ids].filter((id) => !raw.ids.has(id)).length,
          };
        }),
      );
      for (const stream of streams) {
        log(`${stream}: raw ${JSON.stringify(counts[stream])}`);
        log(`${stream}: siem ${JSON.stringify(siem[stream])}`);
      }
    }
    const outputs: TopicCount[] = [...Object.values(counts), ...Object.values(siem)];
    const total = (field: keyof TopicCount) => outputs.reduce((sum, count) => sum + count[field], 0);
    const stats = sim.stats();
    return {
      kills,
      streams: counts,
      ...(policyDir === undefined ? {} : { siem }),
      rowsExpected: total("rowsExpected"),
      rowsOnTopic: total("rowsOnTopic"),
      duplicates: total("duplicates"),
      missing: total("missing"),
      extra: total("extra"),
      retryAfterViolations: stats.retryAfterViolations,
      graphRequests: stats.graphRequests,
      elapsedMs: Date.now() - started,
    };
  } finally {
    await sim.close();
    if (policyDir !== undefined) await rm(policyDir, { recursive: true, force: true });
  }
}

/** A stream's ground truth at `cutoff`: the rows visible by then, and every row by id. */
export interface StreamTruth {
  stream: StreamName;
  cutoff: number;
  /** The ids of the rows Graph shows up to the cutoff inclusive. */
  visibleIds: Set<string>;
  /** Every row the simulator will ever show (up to a minute ahead), by id. */
  rows: Map<string, Record<string, unknown>>;
  /** Each of those rows' start, ms. */
  startOf: Map<string, number>;
}

export function streamTruth(sim: GraphSimulator, stream: StreamName, cutoff: number): StreamTruth {
  const truthOf = sim.streams[stream];
  // The version each stream reads by default: getSmsLog exists in beta only.
  const version = stream === "sms" ? "beta" : "v1.0";
  // Graph excludes getDirectRoutingCalls' toDateTime: ask for the rows up to the cutoff inclusive.
  const visible = truthOf.visibleRows(undefined, new Date(cutoff + 1), version) as Array<
    Record<string, unknown>
  >;
  const startField = STREAMS[stream].startField;
  const rows = new Map<string, Record<string, unknown>>();
  const startOf = new Map<string, number>();
  for (const row of truthOf.allRows(undefined, new Date(Date.now() + 60_000), version) as Array<
    Record<string, unknown>
  >) {
    rows.set(row.id as string, row);
    startOf.set(row.id as string, Date.parse(row[startField] as string));
  }
  return { stream, cutoff, visibleIds: new Set(visible.map((row) => row.id as string)), rows, startOf };
}

/**
 * Record keys (row ids, in the order read) against the truth: each visible row once, nothing that
 * is no row, and no row started by the cutoff that Graph did not show by then.
 */
export function countKeys(keys: readonly string[], truth: StreamTruth): TopicCount {
  const beforeCutoff = keys.filter(
    (key) => (truth.startOf.get(key) ?? Number.POSITIVE_INFINITY) <= truth.cutoff,
  );
  const unique = new Set(keys);
  return {
    rowsExpected: truth.visibleIds.size,
    rowsOnTopic: beforeCutoff.length,
    duplicates: keys.length - unique.size,
    missing: [...truth.visibleIds].filter((id) => !unique.has(id)).length,
    extra:
      [...new Set(beforeCutoff)].filter((id) => !truth.visibleIds.has(id)).length +
      keys.filter((k) => !truth.startOf.has(k)).length,
  };
}

/**
 * One output topic, read by Kafka's Java consumer (not by the client that wrote) with
 * read_committed, against the rows the simulator made visible up to the cutoff. A short read is
 * compared all the same, so that the figures say what is missing.
 */
async function countTopic(
  stack: TestStack,
  truth: StreamTruth,
  topic: string,
): Promise<{ count: TopicCount; ids: Set<string>; records: number }> {
  const { records: messages } = await readTopicWithJava(stack.brokers, topic, {
    expected: truth.visibleIds.size,
    timeoutMs: 180_000,
    settleMs: 5_000,
  });
  const keys = messages.map((m) => m.key?.toString() ?? "");
  return { count: countKeys(keys, truth), ids: new Set(keys), records: keys.length };
}

/**
 * A SIEM output read by a reader of its own, read_committed, decoding with the schema the registry
 * holds (Python's confluent-kafka with fastavro, another client than the raw output's count): counted
 * like the raw output, and each record's headers name the policy and the key, and each hashed field
 * is the token this test computes from the simulator's value of that row.
 */
async function countSiemOutput(
  stack: TestStack,
  truth: StreamTruth,
  topic: string,
  key: Uint8Array,
): Promise<Omit<SiemCount, "onlyInRaw" | "onlyInSiem"> & { ids: Set<string> }> {
  const { records } = await readAvroWithPython(stack.brokers, stack.registryUrl, topic, {
    expected: truth.visibleIds.size,
    timeoutMs: 180_000,
    settleMs: 5_000,
  });
  const keys = records.map((record) => String(record.key));
  const problems: string[] = [];
  let tokensChecked = 0;
  for (const record of records) {
    const checked = checkSiemRecord(record, truth, { version: CRASH_POLICY_VERSION, keyId: "k1", key });
    tokensChecked += checked.tokens;
    problems.push(...checked.problems);
  }
  return {
    ...countKeys(keys, truth),
    topic,
    ids: new Set(keys),
    decoded: records.length,
    tokensChecked,
    problemCount: problems.length,
    problems: problems.slice(0, 5),
  };
}

/** The policy version of the crash loop's outputs. */
export const CRASH_POLICY_VERSION = "crash-v1";

/** A field a SIEM output hashes; a phone number's token may keep its country code readable. */
export interface HashedField {
  name: string;
  keepCountryCode: boolean;
}

/** What each stream's SIEM output hashes: the phone numbers (country code readable) and the UPN. */
export const SIEM_HASHED: Record<StreamName, readonly HashedField[]> = {
  pstn: [
    { name: "callerNumber", keepCountryCode: true },
    { name: "calleeNumber", keepCountryCode: true },
    { name: "userPrincipalName", keepCountryCode: false },
  ],
  directRouting: [
    { name: "callerNumber", keepCountryCode: true },
    { name: "calleeNumber", keepCountryCode: true },
    { name: "userPrincipalName", keepCountryCode: false },
  ],
  sms: [
    { name: "sourceNumber", keepCountryCode: true },
    { name: "destinationNumber", keepCountryCode: true },
    { name: "userPrincipalName", keepCountryCode: false },
  ],
};

/** The SIEM output of a stream whose topic is `topic`. */
export function siemTopic(topic: string): string {
  return `${topic}.siem`;
}

/** Each stream's topic, as the connector's environment names it. */
export function topicsOf(env: Record<string, string | undefined>): Record<StreamName, string> {
  return {
    pstn: env.KAFKA_TOPIC ?? "",
    directRouting: env.KAFKA_TOPIC_DIRECT_ROUTING ?? "",
    sms: env.KAFKA_TOPIC_SMS ?? "",
  };
}

/**
 * A policy file's content: per stream, its topic raw (every field kept) and its SIEM output with
 * {@link SIEM_HASHED} hashed under key `keyId`, whose secret `key` names by reference.
 */
export function siemPolicy(options: {
  version: string;
  keyId: string;
  key: { env: string } | { file: string };
  streams: readonly StreamName[];
  topics: Record<StreamName, string>;
}): object {
  return {
    version: options.version,
    keys: { [options.keyId]: options.key },
    streams: Object.fromEntries(
      options.streams.map((stream) => [
        stream,
        {
          outputs: [
            {},
            {
              topic: siemTopic(options.topics[stream]),
              hashKey: options.keyId,
              fields: Object.fromEntries(
                SIEM_HASHED[stream].map(({ name, keepCountryCode }) => [
                  name,
                  keepCountryCode ? { action: "hash", keepCountryCode } : "hash",
                ]),
              ),
            },
          ],
        },
      ]),
    ),
  };
}

/**
 * A decoded SIEM record against the row the simulator made: the headers name `version` and
 * `keyId`, and each hashed field is `<keyId>:<HMAC-SHA256(key, value)>` computed here (behind
 * `+<code>~` for an E.164 number whose code stays readable). Returns the tokens compared and
 * what was wrong.
 */
export function checkSiemRecord(
  record: AvroRecord,
  truth: StreamTruth,
  expected: { version: string; keyId: string; key: Uint8Array },
): { tokens: number; problems: string[] } {
  const where = `${truth.stream} ${record.key}`;
  const row = truth.rows.get(String(record.key));
  if (row === undefined || record.value === null) return { tokens: 0, problems: [`${where}: no such row`] };
  const problems: string[] = [];
  const headers = { version: record.headers["pstn.policy.version"], key: record.headers["pstn.policy.key"] };
  if (headers.version !== expected.version || headers.key !== expected.keyId)
    problems.push(
      `${where}: headers ${JSON.stringify(headers)}, not ${expected.version} and ${expected.keyId}`,
    );
  let tokens = 0;
  for (const field of SIEM_HASHED[truth.stream]) {
    const problem = tokenProblem(row[field.name], record.value[field.name], field, expected);
    if (problem !== undefined) problems.push(`${where}.${field.name}: ${problem}`);
    if (typeof row[field.name] === "string" && row[field.name] !== "") tokens++;
  }
  return { tokens, problems };
}

/** Why `got` is not the token of `plain` under the key, or undefined when it is. */
function tokenProblem(
  plain: unknown,
  got: unknown,
  field: HashedField,
  expected: { keyId: string; key: Uint8Array },
): string | undefined {
  // Nothing to hide in a null or an empty text: it stays as it is.
  if (plain === null || plain === undefined || plain === "")
    return got === (plain ?? null) ? undefined : `${JSON.stringify(got)} for ${JSON.stringify(plain)}`;
  if (typeof plain !== "string") return `the row's value ${JSON.stringify(plain)} is not text`;
  const token = `${expected.keyId}:${createHmac("sha256", expected.key).update(plain, "utf8").digest("hex")}`;
  if (got === token) {
    // A bare token where the country code should be readable is wrong too.
    return field.keepCountryCode && E164.test(plain) ? `${String(got)} lacks the country code` : undefined;
  }
  if (field.keepCountryCode && E164.test(plain) && typeof got === "string") {
    // The code itself is the transform's to choose (1 to 3 digits, the e2e test checks which); it
    // is the start of the number and the token after it is of the whole number.
    const [code, rest] = got.split("~");
    if (code !== undefined && /^\+\d{1,3}$/.test(code) && plain.startsWith(code) && rest === token)
      return undefined;
  }
  return `${JSON.stringify(got)} is not the token of ${plain} under ${expected.keyId}`;
}

/** An E.164 number: `+` and 8 to 15 digits, the first not 0. */
const E164 = /^\+[1-9]\d{7,14}$/;

export async function scrapeWatermark(port: number): Promise<number | undefined> {
  const value = await scrapeMetric(port, "pstn_connector_watermark_timestamp_seconds");
  return value !== undefined && value > 0 ? value : undefined;
}

export function waitForWatermark(
  port: number,
  atLeastMs: number,
  timeoutMs: number,
  child: CliProcess,
): Promise<number> {
  return waitForMetric(
    port,
    "pstn_connector_watermark_timestamp_seconds",
    (v) => v * 1000 >= atLeastMs,
    timeoutMs,
    child,
  );
}

/** mulberry32: kill moments differ by seed and repeat for the same seed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
