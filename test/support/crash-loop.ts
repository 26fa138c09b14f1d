import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { STREAMS, type StreamName } from "../../src/streams/index.js";
import { type GraphSimulator, startGraphSimulator } from "../../tools/simulator/index.js";
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

export interface CrashLoopResult extends TopicCount {
  kills: KillRecord[];
  /** Each stream's count; the fields above are their sums. */
  streams: Partial<Record<StreamName, TopicCount>>;
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
  try {
    const caFile = await writeCaFile(sim.caCertificatePem);
    const env = cleanEnv({
      ...connectorEnv(sim, options.stack, {
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
      }),
      NODE_EXTRA_CA_CERTS: caFile,
    });
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

    const topics: Record<StreamName, string> = {
      pstn: env.KAFKA_TOPIC!,
      directRouting: env.KAFKA_TOPIC_DIRECT_ROUTING!,
      sms: env.KAFKA_TOPIC_SMS!,
    };
    const counts: Partial<Record<StreamName, TopicCount>> = {};
    for (const stream of streams) {
      counts[stream] = await countTopic(sim, options.stack, stream, topics[stream], cutoff);
      log(`${stream}: ${JSON.stringify(counts[stream])}`);
    }
    const total = (field: keyof TopicCount) =>
      Object.values(counts).reduce((sum, count) => sum + count[field], 0);
    const stats = sim.stats();
    return {
      kills,
      streams: counts,
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
  }
}

/**
 * One stream's topic, read by Kafka's Java consumer (not by the client that wrote) with
 * read_committed, against the rows the simulator made visible up to `cutoff`. A short read is
 * compared all the same, so that the figures say what is missing.
 */
async function countTopic(
  sim: GraphSimulator,
  stack: TestStack,
  stream: StreamName,
  topic: string,
  cutoff: number,
): Promise<TopicCount> {
  const truthOf = sim.streams[stream];
  // The version each stream reads by default: getSmsLog exists in beta only.
  const version = stream === "sms" ? "beta" : "v1.0";
  // Graph excludes getDirectRoutingCalls' toDateTime: ask for the rows up to the cutoff inclusive.
  const truth = truthOf.visibleRows(undefined, new Date(cutoff + 1), version) as Array<
    Record<string, unknown>
  >;
  const startField = STREAMS[stream].startField;
  const startOf = new Map<string, number>();
  for (const row of truthOf.allRows(undefined, new Date(Date.now() + 60_000), version) as Array<
    Record<string, unknown>
  >) {
    startOf.set(row.id as string, Date.parse(row[startField] as string));
  }
  const { records: messages } = await readTopicWithJava(stack.brokers, topic, {
    expected: truth.length,
    timeoutMs: 180_000,
    settleMs: 5_000,
  });
  const keys = messages.map((m) => m.key?.toString() ?? "");
  const beforeCutoff = keys.filter((key) => (startOf.get(key) ?? Number.POSITIVE_INFINITY) <= cutoff);
  const unique = new Set(keys);
  const truthIds = new Set(truth.map((row) => row.id as string));
  return {
    rowsExpected: truth.length,
    rowsOnTopic: beforeCutoff.length,
    duplicates: keys.length - unique.size,
    missing: [...truthIds].filter((id) => !unique.has(id)).length,
    extra:
      [...new Set(beforeCutoff)].filter((id) => !truthIds.has(id)).length +
      keys.filter((k) => !startOf.has(k)).length,
  };
}

async function scrapeWatermark(port: number): Promise<number | undefined> {
  const value = await scrapeMetric(port, "pstn_connector_watermark_timestamp_seconds");
  return value !== undefined && value > 0 ? value : undefined;
}

function waitForWatermark(
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
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
