/**
 * The fleet benchmark (issue 16): N tenants × 3 streams (pstn, directRouting, sms) on R replicas of
 * `pstn-connector run` (the compiled CLI, dist/src/cli/main.js, started as the image starts it),
 * against one Graph simulator serving all N tenants, with the real Kafka and schema registry.
 *
 * Each replica is measured from the outside, in /proc: its peak RSS (VmHWM), its established TCP
 * connections to the brokers (sampled), its CPU time. The topics are read as they fill by Kafka's
 * Java consumer (read_committed), each record timed as it arrives: freshness is that instant minus
 * the instant the row became visible in Graph, for the rows that became visible after every unit
 * had caught up with its history. At the end every (tenant, stream) is checked against the
 * simulator's truth: each row visible before the cut exactly once, nothing else.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Admin } from "@platformatic/kafka";
import { isStopping, onCleanup, trackChild } from "./cleanup.js";
import { type Endpoints, TMP_DIR, uniqueTopic } from "./connector.js";
import type { BenchResult, Figure } from "./figures.js";
import { round } from "./figures.js";
import { FleetSimulator, type FleetTenantSpec } from "./fleet-simulator.js";
import { type LiveRecord, LiveTopicReader } from "./live-reader.js";
import {
  connectionsTo,
  establishedConnections,
  procCpuSeconds,
  procMemory,
  resolveEndpoints,
} from "./proc.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(ROOT, "dist/src/cli/main.js");

const STREAMS = ["pstn", "directRouting", "sms"] as const;
type Stream = (typeof STREAMS)[number];

/** A sparse tenant: PSTN calls an hour (Direct Routing 25% and SMS 10% of it, the simulator's ratios). */
const SPARSE_CALLS_PER_HOUR = 6;
/** The dense tenants: this share of the fleet, at this many times a sparse tenant's calls. */
const DENSE_SHARE = 0.01;
const DENSE_FACTOR = 50;
/** History each unit reads first (CONNECTOR_START and the simulator's first row). */
const HISTORY_MS = 24 * 3_600_000;
/** Every row becomes visible this long after its start (a range of no width: exact visible-at). */
const VISIBILITY_DELAY_MS = 90_000;
/** /proc is sampled this often; /status while waiting for watermarks. */
const SAMPLE_MS = 2_000;
const STATUS_MS = 5_000;
/** After the replicas stopped, the readers are done once no record came for this long. */
const READ_SETTLE_MS = 5_000;

export interface FleetOptions {
  tenants: number;
  replicas: number;
  /** The measured live phase, after every unit caught up with its history. */
  durationSeconds: number;
  pollIntervalSeconds: number;
  endpoints: Endpoints;
  /** Node flags of each replica (the image's by default). */
  nodeFlags: string[];
  /** Environment added for each replica (the image's by default). */
  env: Record<string, string>;
  log: (line: string) => void;
}

interface ReplicaSample {
  ms: number;
  rssMb: number;
  hwmMb: number;
  cpuS: number;
  brokerConnections: number;
}

interface Replica {
  index: number;
  child: ChildProcess;
  pid: number;
  port: number;
  logFile: string;
  samples: ReplicaSample[];
  maxConnections: number;
  last?: ReplicaSample;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

interface UnitStatus {
  tenant: string;
  stream: string;
  state: string;
  watermark: string | null;
  lastFailure?: string | null;
}

/** A record as read back, per (tenant, stream, id). */
interface Seen {
  firstArrivalMs: number;
  copies: number;
}

export async function fleet(options: FleetOptions): Promise<BenchResult> {
  const teardown = new Teardown(options.log);
  try {
    return await measure(options, teardown);
  } finally {
    await teardown.run();
  }
}

/**
 * What a run started, undone in reverse once it ends, failed or not (before the next benchmark
 * starts); on Ctrl-C the global cleanups undo it. Each task runs once.
 */
class Teardown {
  private readonly tasks: (() => unknown)[] = [];

  constructor(private readonly log: (line: string) => void) {}

  add(task: () => unknown): void {
    const unregister = onCleanup(task);
    this.tasks.push(() => {
      unregister();
      return task();
    });
  }

  async run(): Promise<void> {
    while (this.tasks.length > 0) {
      try {
        await (this.tasks.pop() as () => unknown)();
      } catch (error) {
        this.log(`fleet cleanup failed: ${(error as Error).message}`);
      }
    }
  }
}

async function measure(options: FleetOptions, teardown: Teardown): Promise<BenchResult> {
  const { log } = options;
  const began = performance.now();
  const pollMs = options.pollIntervalSeconds * 1000;
  const distBuilt = checkBuild(log);

  // --- The fleet: tenants, their load, the simulator serving them all ---
  const run = uniqueTopic("fleet");
  const topics: Record<Stream, string> = {
    pstn: `${run}.pstn-calls`,
    directRouting: `${run}.direct-routing-calls`,
    sms: `${run}.sms-log`,
  };
  // The topic whose partitions are the slots the replicas share the units out by: the run's own,
  // when the CLI built has slots (its default name is shared by every deployment of the cluster).
  const slotsTopic = knowsVariable("KAFKA_SLOTS_TOPIC") ? `${run}.slots` : undefined;
  const allTopics = [
    ...Object.values(topics).flatMap((topic) => [topic, `${topic}.dlq`, `${topic}.state`]),
    ...(slotsTopic ? [slotsTopic] : []),
  ];
  const width = String(options.tenants - 1).length;
  const denseCount = Math.max(1, Math.round(options.tenants * DENSE_SHARE));
  const dense = new Set(
    Array.from({ length: denseCount }, (_, j) => Math.floor(((j + 0.5) * options.tenants) / denseCount)),
  );
  const tenants: FleetTenantSpec[] = Array.from({ length: options.tenants }, (_, i) => ({
    tenantId: `t${String(i).padStart(width, "0")}.fleet.example.com`,
    callsPerHour: dense.has(i) ? SPARSE_CALLS_PER_HOUR * DENSE_FACTOR : SPARSE_CALLS_PER_HOUR,
  }));
  const startMs = Math.floor((Date.now() - HISTORY_MS) / 1000) * 1000;
  log(
    `fleet ${run}: ${options.tenants} tenants (${denseCount} dense) × 3 streams on ${options.replicas} replicas, ` +
      `POLL_INTERVAL ${options.pollIntervalSeconds}s, ${options.durationSeconds}s measured after the catch-up`,
  );
  const sim = await FleetSimulator.start({
    seed: 16,
    tenants,
    dataStart: new Date(startMs).toISOString(),
    visibilityDelayMs: VISIBILITY_DELAY_MS,
  });
  teardown.add(() => sim.close());
  const simBefore = await sim.sample();

  const dir = mkdtempSync(join(tmpdir(), "pstn-bench-fleet-"));
  teardown.add(() => rmSync(dir, { recursive: true, force: true }));
  const tenantsFile = join(dir, "tenants.yaml");
  writeFileSync(
    tenantsFile,
    `tenants:\n${tenants
      .map((t, i) => `  - id: ${t.tenantId}\n    name: Fleet ${i}${dense.has(i) ? " (dense)" : ""}\n`)
      .join("")}`,
  );
  const caFile = join(dir, "simulator-ca.pem");
  writeFileSync(caFile, sim.caCertificatePem);

  // --- Kafka: the brokers' addresses (what a broker connection is), the run's topics deleted after ---
  const admin = new Admin({
    clientId: `${run}-admin`,
    bootstrapBrokers: options.endpoints.brokers,
    retries: 5,
    // Asking for the topics' metadata must not create them: the replicas create them as they want.
    autocreateTopics: false,
  });
  teardown.add(() => cleanupKafka(admin, run, allTopics, log));
  const metadata = await admin.metadata({ topics: [] });
  const brokerAddresses = [...metadata.brokers.values()].map((b) => `${b.host}:${b.port}`);
  const brokerEndpoints = await resolveEndpoints([
    ...new Set([...brokerAddresses, ...options.endpoints.brokers]),
  ]);

  // --- The replicas ---
  const env = (port: number): NodeJS.ProcessEnv => ({
    ...pick(process.env, ["PATH", "HOME", "TMPDIR", "LANG"]),
    ...options.env,
    NODE_EXTRA_CA_CERTS: caFile,
    AZURE_CLIENT_ID: sim.clientId,
    AZURE_CLIENT_SECRET: sim.clientSecret,
    AZURE_AUTHORITY_HOST: sim.url,
    GRAPH_ENDPOINT: sim.url,
    KAFKA_BROKERS: options.endpoints.brokers.join(","),
    SCHEMA_REGISTRY_URL: options.endpoints.registryUrl,
    KAFKA_TOPIC: topics.pstn,
    KAFKA_TOPIC_DIRECT_ROUTING: topics.directRouting,
    KAFKA_TOPIC_SMS: topics.sms,
    CONNECTOR_TENANTS_FILE: tenantsFile,
    CONNECTOR_STREAMS: STREAMS.join(","),
    CONNECTOR_NAME: run,
    ...(slotsTopic ? { KAFKA_SLOTS_TOPIC: slotsTopic } : {}),
    CONNECTOR_START: new Date(startMs).toISOString(),
    POLL_INTERVAL: `${options.pollIntervalSeconds}s`,
    METRICS_PORT: String(port),
    METRICS_HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
  });
  const replicas: Replica[] = [];
  const launchMs = Date.now();
  for (let index = 0; index < options.replicas; index++) {
    const port = await freePort();
    const logFile = `${TMP_DIR}${run}-replica-${index}.log`;
    const fd = openSync(logFile, "w");
    const child = spawn(process.execPath, [...options.nodeFlags, CLI, "run"], {
      env: env(port),
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    trackChild(child);
    if (child.pid === undefined) throw new Error(`replica ${index} did not start`);
    const replica: Replica = {
      index,
      child,
      pid: child.pid,
      port,
      logFile,
      samples: [],
      maxConnections: 0,
    };
    child.once("exit", (code, signal) => {
      replica.exit = { code, signal };
    });
    replicas.push(replica);
  }
  teardown.add(() => stopReplicas(replicas, 15_000));
  let readers: LiveTopicReader[] = [];
  /** A replica or a reader that stopped ends the run at once, with why. */
  const checkAlive = () => {
    for (const replica of replicas) {
      if (replica.exit)
        throw new Error(
          `replica ${replica.index} exited (${replica.exit.signal ?? replica.exit.code}): ${tail(replica.logFile)}`,
        );
    }
    for (const reader of readers) {
      if (!reader.running) throw new Error(`the reader of ${reader.topic} stopped: ${reader.lastErrors}`);
    }
  };

  // --- Sampling /proc every SAMPLE_MS ---
  const sampleAll = () => {
    const connections = establishedConnections();
    for (const replica of replicas) {
      if (replica.exit) continue;
      const memory = procMemory(replica.pid);
      const cpuS = procCpuSeconds(replica.pid);
      const brokerConnections = connectionsTo(replica.pid, brokerEndpoints, connections);
      if (memory === undefined || cpuS === undefined || brokerConnections === undefined) continue;
      const sample = { ms: Date.now() - launchMs, ...memory, cpuS: round(cpuS, 2), brokerConnections };
      replica.samples.push(sample);
      replica.last = sample;
      replica.maxConnections = Math.max(replica.maxConnections, brokerConnections);
    }
  };
  sampleAll();
  const sampler = setInterval(sampleAll, SAMPLE_MS);
  teardown.add(() => clearInterval(sampler));

  // --- The readers, as soon as the replicas created the topics ---
  const seen = new Map<string, Seen>();
  const offsets = new Set<string>();
  let redelivered = 0;
  let untagged = 0;
  const onRecord = (stream: Stream) => (record: LiveRecord) => {
    const at = `${stream}/${record.partition}@${record.offset}`;
    if (offsets.has(at)) {
      redelivered++; // the consumer's doing (a refetch), not a second record
      return;
    }
    offsets.add(at);
    if (record.tenant === undefined) untagged++;
    const key = unitKey(record.tenant ?? "", stream, record.key);
    const known = seen.get(key);
    if (known) known.copies++;
    else seen.set(key, { firstArrivalMs: record.arrivedMs, copies: 1 });
  };
  await waitUntil(
    "the replicas to create the topics",
    async () => {
      checkAlive();
      const found = await admin
        .metadata({ topics: Object.values(topics), forceUpdate: true })
        .catch(() => undefined);
      return Object.values(topics).every((topic) =>
        found?.topics.get(topic)?.partitions.every((partition) => partition.leader >= 0),
      );
    },
    180_000,
    1_000,
  );
  readers = await Promise.all(
    STREAMS.map((stream) =>
      LiveTopicReader.start(options.endpoints.brokers, topics[stream], onRecord(stream)),
    ),
  );
  for (const reader of readers) teardown.add(() => reader.stop());
  const readersStartedMs = Date.now();

  // --- Waiting for every unit to catch up with its history ---
  const unitCount = options.tenants * STREAMS.length;
  const watermarks = async (): Promise<{ marks: Map<string, number>; units: UnitStatus[][] }> => {
    const units = await Promise.all(replicas.map((replica) => unitsOf(replica.port)));
    const marks = new Map<string, number>();
    for (const list of units) {
      for (const unit of list) {
        const at = unit.watermark ? Date.parse(unit.watermark) : 0;
        const key = `${unit.tenant}/${unit.stream}`;
        marks.set(key, Math.max(marks.get(key) ?? 0, at));
      }
    }
    return { marks, units };
  };
  const unitsPast = (marks: Map<string, number>, instant: number) =>
    [...marks.values()].filter((at) => at >= instant).length;
  let lastLog = 0;
  const waitForWatermarks = async (what: string, instant: number, timeoutMs: number, fail: boolean) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (isStopping()) throw new Error("stopped");
      checkAlive();
      const { marks, units } = await watermarks();
      const past = unitsPast(marks, instant);
      if (past >= unitCount) return true;
      if (Date.now() - lastLog > 30_000) {
        lastLog = Date.now();
        log(`${what}: ${past} of ${unitCount} units past ${new Date(instant).toISOString()}`);
      }
      if (Date.now() > deadline) {
        const failing = units
          .flat()
          .filter((unit) => unit.lastFailure)
          .slice(0, 5)
          .map((unit) => `${unit.tenant}/${unit.stream}: ${unit.lastFailure}`);
        const message = `${what}: only ${past} of ${unitCount} units past ${new Date(instant).toISOString()} after ${Math.round(timeoutMs / 1000)} s${failing.length ? ` (failing: ${failing.join(", ")})` : ""}`;
        if (fail) throw new Error(message);
        log(message);
        return false;
      }
      await sleep(STATUS_MS);
    }
  };
  await waitForWatermarks("catching up", launchMs, 600_000 + 3 * pollMs, true);
  const caughtMs = Date.now();
  sampleAll();
  const cpuAtCaught = replicas.map((replica) => replica.last?.cpuS ?? 0);
  const readersCpu = () => readers.reduce((sum, reader) => sum + (procCpuSeconds(reader.pid ?? 0) ?? 0), 0);
  const readersAtCaught = readersCpu();
  const simAtCaught = await sim.sample();
  const machineAtCaught = machineCpu();
  log(`caught up in ${Math.round((caughtMs - launchMs) / 1000)} s; measuring ${options.durationSeconds} s`);

  // --- The live phase ---
  const liveEnd = caughtMs + options.durationSeconds * 1000;
  while (Date.now() < liveEnd) {
    if (isStopping()) throw new Error("stopped");
    checkAlive();
    await sleep(Math.min(1000, Math.max(0, liveEnd - Date.now())));
  }
  const cutMs = Date.now();
  sampleAll();
  const cpuAtCut = replicas.map((replica) => replica.last?.cpuS ?? 0);
  const readersAtCut = readersCpu();
  const simAtCut = await sim.sample();
  const machineAtCut = machineCpu();

  // --- Drain: every unit's watermark past the cut, so every row visible by then is published ---
  log("draining: waiting for every unit's watermark to pass the cut");
  const drained = await waitForWatermarks("draining", cutMs, 2 * pollMs + 120_000, false);
  const drainedMs = Date.now();

  // --- Final figures of each replica, then SIGTERM ---
  const finals = await Promise.all(replicas.map((replica) => finalFigures(replica.port)));
  sampleAll();
  clearInterval(sampler);
  log("stopping the replicas (SIGTERM)");
  await stopReplicas(replicas, 60_000);

  // --- Read back: the readers have everything once no record came for a while ---
  const readDeadline = Date.now() + 120_000;
  const stoppedMs = Date.now();
  while (Date.now() < readDeadline) {
    const last = Math.max(stoppedMs, ...readers.map((reader) => reader.lastArrivalMs));
    if (Date.now() - last >= READ_SETTLE_MS) break;
    await sleep(500);
  }
  const readerErrors = readers.filter((reader) => !reader.running).map((r) => `${r.topic}: ${r.lastErrors}`);
  await Promise.all(readers.map((reader) => reader.stop()));
  if (readerErrors.length > 0) throw new Error(`a topic reader stopped early: ${readerErrors.join("; ")}`);

  // --- The simulator's truth: each row visible by the cut exactly once, nothing it never served ---
  const truth = await sim.truth();
  const simEnd = await sim.sample();
  await sim.close();
  let expected = 0;
  let missing = 0;
  let duplicates = 0;
  let extra = 0;
  let liveRows = 0;
  let liveMissing = 0;
  const latencies: number[] = [];
  const badUnits = new Map<string, { missing: number; duplicates: number; extra: number }>();
  const bad = (key: string) => {
    let entry = badUnits.get(key);
    if (!entry) {
      entry = { missing: 0, duplicates: 0, extra: 0 };
      badUnits.set(key, entry);
    }
    return entry;
  };
  const known = new Set<string>();
  for (const unit of truth.units) {
    unit.ids.forEach((id, i) => {
      const key = unitKey(unit.tenant, unit.stream, id);
      known.add(key);
      const visibleAt = unit.visibleAt[i] as number;
      if (visibleAt > cutMs) return;
      expected++;
      const record = seen.get(key);
      if (!record) {
        missing++;
        bad(`${unit.tenant}/${unit.stream}`).missing++;
      }
      if (visibleAt > caughtMs) {
        liveRows++;
        if (record) latencies.push(record.firstArrivalMs - visibleAt);
        else liveMissing++;
      }
    });
  }
  for (const [key, record] of seen) {
    const [tenant, stream] = key.split("\u0000");
    if (record.copies > 1) {
      duplicates += record.copies - 1;
      bad(`${tenant}/${stream}`).duplicates += record.copies - 1;
    }
    if (!known.has(key)) {
      extra++;
      bad(`${tenant}/${stream}`).extra++;
    }
  }
  const recordsRead = [...seen.values()].reduce((sum, record) => sum + record.copies, 0);
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length === 0
      ? Number.NaN
      : round(
          (latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] as number) / 1000,
          1,
        );
  const freshness = { p50: pct(0.5), p95: pct(0.95), max: pct(1), n: latencies.length };
  const freshnessTarget = options.pollIntervalSeconds + 30;

  // --- Figures ---
  const published = finals.map((f) => f.published);
  const fleetPublished = published.reduce((sum, n) => sum + n, 0);
  const liveSeconds = (cutMs - caughtMs) / 1000;
  const replicaRows = replicas.map((replica, i) => {
    const last = replica.last;
    const cpuS = last?.cpuS ?? Number.NaN;
    const rows = published[i] ?? 0;
    return {
      replica: replica.index,
      pid: replica.pid,
      peakRssMb: last?.hwmMb ?? Number.NaN,
      rssEndMb: last?.rssMb ?? Number.NaN,
      brokerConnectionsMax: replica.maxConnections,
      brokerConnectionsEnd: last?.brokerConnections ?? Number.NaN,
      cpuSeconds: round(cpuS, 1),
      rowsPublished: rows,
      cpuPer100kRows: rows > 0 ? round(cpuS / (rows / 100_000), 2) : null,
      liveCpuSeconds: round((cpuAtCut[i] ?? 0) - (cpuAtCaught[i] ?? 0), 1),
      liveCores: round(((cpuAtCut[i] ?? 0) - (cpuAtCaught[i] ?? 0)) / liveSeconds, 3),
      unitsActive: finals[i]?.active ?? null,
      unitsStandby: finals[i]?.standby ?? null,
      graphRequests: finals[i]?.graphRequests ?? null,
      exit: replica.exit ? (replica.exit.signal ?? replica.exit.code) : null,
      logLines: lineCount(replica.logFile),
      logFile: replica.logFile,
    };
  });
  const peakRss = Math.max(...replicaRows.map((r) => r.peakRssMb));
  const cores = (machineAtCut && machineAtCaught && cpuCores(machineAtCaught, machineAtCut)) || undefined;
  const replicasCores = replicaRows.reduce((sum, r) => sum + r.liveCores, 0);
  const simCores = (simAtCut.cpuMs - simAtCaught.cpuMs) / 1000 / liveSeconds;
  const readerCores = (readersAtCut - readersAtCaught) / liveSeconds;
  const graph = simEnd.stats;
  const graphLive = simAtCut.stats.graphRequests - simAtCaught.stats.graphRequests;
  const problems = [...badUnits].slice(0, 5).map(([unit, p]) => `${unit} ${JSON.stringify(p)}`);

  const figures: Figure[] = [
    {
      name: "tenants × streams on replicas",
      value: `${options.tenants} × 3 = ${unitCount} units on ${options.replicas} replicas (${denseCount} dense at ${DENSE_FACTOR}×; POLL_INTERVAL ${options.pollIntervalSeconds} s)`,
    },
    {
      name: "catch-up with 24 h of history (launch to every watermark past it)",
      value: round((caughtMs - launchMs) / 1000),
      unit: "s",
    },
    {
      name: "rows published (replicas' counters) / read back (read_committed)",
      value: `${fleetPublished} / ${recordsRead}`,
    },
    {
      name: "Graph requests: whole run / live phase (429s, tokens issued)",
      value: `${graph.graphRequests - simBefore.stats.graphRequests} / ${graphLive} (${graph.throttled}, ${graph.tokensIssued})`,
    },
    {
      name: `freshness p50 / p95 / max (${freshness.n} rows visible during the ${round(liveSeconds)} s live phase)`,
      value: `${freshness.p50} / ${freshness.p95} / ${freshness.max}`,
      unit: "s",
      target: `p95 ≤ ${freshnessTarget} s`,
      pass: Number.isFinite(freshness.p95) && freshness.p95 <= freshnessTarget && liveMissing === 0,
    },
    {
      name: "duplicates / missing / extra (per tenant and stream, rows visible before the cut)",
      value: `${duplicates} / ${missing} / ${extra} of ${expected} (${badUnits.size} of ${unitCount} units wrong${untagged > 0 ? `, ${untagged} records without pstn.tenant` : ""}${drained ? "" : "; the drain timed out"})`,
      target: "0 / 0 / 0",
      pass: duplicates === 0 && missing === 0 && extra === 0 && untagged === 0,
    },
    {
      name: "peak RSS (VmHWM), highest replica",
      value: round(peakRss, 1),
      unit: "MB",
      target: "< 400 MB",
      pass: peakRss < 400,
    },
    {
      name: "broker connections, highest replica: max / at the end",
      value: `${Math.max(...replicaRows.map((r) => r.brokerConnectionsMax))} / ${Math.max(...replicaRows.map((r) => r.brokerConnectionsEnd))}`,
    },
    {
      name: "replicas' CPU per 100k rows published (all replicas, whole run)",
      value: round(
        replicaRows.reduce((sum, r) => sum + r.cpuSeconds, 0) / Math.max(1e-9, fleetPublished / 100_000),
        2,
      ),
      unit: "CPU s",
    },
    {
      name: "cores busy in the live phase: replicas / simulator / topic readers / rest (Kafka, registry, other loads)",
      value: `${round(replicasCores, 2)} / ${round(simCores, 2)} / ${round(readerCores, 2)} / ${cores === undefined ? "?" : round(cores - replicasCores - simCores - readerCores, 2)} of ${cpus().length}`,
    },
  ];

  return {
    benchmark: "fleet",
    elapsedSeconds: round((performance.now() - began) / 1000),
    figures,
    tables: [
      {
        title: "replica",
        columns: [
          "peak RSS (VmHWM) MB",
          "broker connections max / end",
          "CPU s",
          "rows published",
          "CPU s / 100k rows",
          "live phase: CPU s (cores)",
          "units active / standby",
          "exit",
        ],
        rows: replicaRows.map((r) => ({
          name: String(r.replica),
          values: [
            r.peakRssMb,
            `${r.brokerConnectionsMax} / ${r.brokerConnectionsEnd}`,
            r.cpuSeconds,
            r.rowsPublished,
            r.cpuPer100kRows ?? "-",
            `${r.liveCpuSeconds} (${r.liveCores})`,
            `${r.unitsActive ?? "?"} / ${r.unitsStandby ?? "?"}`,
            String(r.exit),
          ],
        })),
      },
    ],
    details: {
      run,
      topics,
      slotsTopic: slotsTopic ?? null,
      tenants: options.tenants,
      denseTenants: denseCount,
      sparseCallsPerHour: SPARSE_CALLS_PER_HOUR,
      denseCallsPerHour: SPARSE_CALLS_PER_HOUR * DENSE_FACTOR,
      replicas: options.replicas,
      pollIntervalSeconds: options.pollIntervalSeconds,
      durationSeconds: options.durationSeconds,
      historyHours: HISTORY_MS / 3_600_000,
      visibilityDelayMs: VISIBILITY_DELAY_MS,
      nodeFlags: options.nodeFlags,
      env: options.env,
      cli: CLI,
      distBuilt,
      brokers: [...brokerEndpoints],
      timeline: {
        launch: new Date(launchMs).toISOString(),
        readersStartedSeconds: round((readersStartedMs - launchMs) / 1000, 1),
        caughtUpSeconds: round((caughtMs - launchMs) / 1000, 1),
        cutSeconds: round((cutMs - launchMs) / 1000, 1),
        drainedSeconds: round((drainedMs - launchMs) / 1000, 1),
        drained,
      },
      rows: {
        publishedByCounters: fleetPublished,
        readBack: recordsRead,
        distinctReadBack: seen.size,
        expectedBeforeCut: expected,
        liveVisible: liveRows,
        liveMissing,
        duplicates,
        missing,
        extra,
        untagged,
        consumerRedeliveries: redelivered,
        unitsWithProblems: badUnits.size,
        firstProblems: problems,
        fetchedByCounters: finals.reduce((sum, f) => sum + f.fetched, 0),
        deadLettered: finals.reduce((sum, f) => sum + f.deadLettered, 0),
      },
      freshnessSeconds: freshness,
      freshnessTargetSeconds: freshnessTarget,
      graph: {
        requests: graph.graphRequests - simBefore.stats.graphRequests,
        liveRequests: graphLive,
        byStatus: graph.byStatus,
        throttled: graph.throttled,
        tokensIssued: graph.tokensIssued,
        rowsServed: graph.rowsServed,
        simulatorCpuSeconds: round((simEnd.cpuMs - simBefore.cpuMs) / 1000, 1),
      },
      coresLive: {
        replicas: round(replicasCores, 3),
        simulator: round(simCores, 3),
        readers: round(readerCores, 3),
        machine: cores === undefined ? null : round(cores, 3),
      },
      perReplica: replicaRows,
      // Every 5th sample, for the curves.
      samples: replicas.map((replica) => replica.samples.filter((_, i) => i % 5 === 0)),
    },
  };
}

const unitKey = (tenant: string, stream: string, id: string) => `${tenant}\u0000${stream}\u0000${id}`;

/** The units one replica lists on /status (empty while it does not answer). */
async function unitsOf(port: number): Promise<UnitStatus[]> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) return [];
    const body = (await response.json()) as { units?: UnitStatus[] };
    return body.units ?? [];
  } catch {
    return [];
  }
}

interface FinalFigures {
  published: number;
  fetched: number;
  deadLettered: number;
  graphRequests: number;
  active: number | null;
  standby: number | null;
}

/** A replica's counters from /metrics (summed over tenants and streams) and its units by state. */
async function finalFigures(port: number): Promise<FinalFigures> {
  let text = "";
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(30_000) });
    text = await response.text();
  } catch {
    // counted as zeros below
  }
  const sum = (name: string) => {
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (rest[0] !== "{" && rest[0] !== " ") continue;
      total += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
    }
    return total;
  };
  const state = (name: string) => {
    const match = new RegExp(`^pstn_connector_units\\{state="${name}"\\} (\\S+)$`, "m").exec(text);
    return match ? Number(match[1]) : null;
  };
  return {
    published: sum("pstn_connector_rows_published_total"),
    fetched: sum("pstn_connector_rows_fetched_total"),
    deadLettered: sum("pstn_connector_rows_dead_lettered_total"),
    graphRequests: sum("pstn_connector_graph_requests_total"),
    active: state("active"),
    standby: state("standby"),
  };
}

/** SIGTERM (the replicas abandon their open transactions and exit 0), SIGKILL after `graceMs`. */
async function stopReplicas(replicas: Replica[], graceMs: number): Promise<void> {
  await Promise.all(
    replicas.map(async (replica) => {
      const { child } = replica;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/**
 * Deletes the run's topics and its consumer groups (the elections': their ids hold the run's unique
 * name). Its transactional ids cannot be deleted: unused, the broker expires them
 * (transactional.id.expiration.ms, 7 days by default).
 */
async function cleanupKafka(
  admin: Admin,
  run: string,
  topics: string[],
  log: (line: string) => void,
): Promise<void> {
  try {
    const existing = new Set(await admin.listTopics());
    const ours = topics.filter((topic) => existing.has(topic));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  } catch (error) {
    log(`deleting the fleet's topics failed: ${(error as Error).message}`);
  }
  try {
    const groups = [...(await admin.listGroups()).keys()].filter((id) => id.includes(run));
    // In batches: one request for thousands of groups is more than a broker wants at once.
    for (let at = 0; at < groups.length; at += 500)
      await admin.deleteGroups({ groups: groups.slice(at, at + 500) });
  } catch (error) {
    log(`deleting the fleet's consumer groups failed: ${(error as Error).message}`);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function waitUntil(
  what: string,
  predicate: () => Promise<boolean>,
  timeoutMs: number,
  everyMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (isStopping()) throw new Error("stopped");
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The compiled CLI must exist; a src/ file newer than it means `npm run build` was forgotten. */
function checkBuild(log: (line: string) => void): string {
  let built: number;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  }
  const newer = sourceFiles(join(ROOT, "src")).filter((file) => statSync(file).mtimeMs > built);
  if (newer.length > 0)
    log(
      `warning: ${newer.length} file(s) of src/ are newer than dist/ (e.g. ${newer[0]?.slice(ROOT.length)}): \`npm run build\` to measure them`,
    );
  return new Date(built).toISOString();
}

/** Whether the CLI built knows an environment variable (it refuses the ones it does not know). */
function knowsVariable(name: string): boolean {
  try {
    return readFileSync(join(ROOT, "dist/src/config/variables.js"), "utf8").includes(`"${name}"`);
  } catch {
    return false;
  }
}

/** Every .ts file under `dir`. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function pick(env: NodeJS.ProcessEnv, names: string[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const name of names) if (env[name] !== undefined) out[name] = env[name];
  return out;
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").slice(-1500);
  } catch {
    return "(no log)";
  }
}

function lineCount(file: string): number {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** Busy and total jiffies of all CPUs since boot (/proc/stat). */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function cpuCores(before: { busy: number; total: number }, after: { busy: number; total: number }): number {
  return ((after.busy - before.busy) / (after.total - before.total)) * cpus().length;
}
