/**
 * 1. CPU-bound pipeline: ~1M rows from a simulator without latency or faults, running in its own
 * process. First the rows paged and encoded without Kafka (the Graph side's share, and the exact
 * messages; the simulator keeps the pages it rendered), then the connector end to end (createApp +
 * backfill, production settings, pacing off), the same pipeline under each privacy policy measured
 * (none, one pseudonymised output, raw + pseudonymised), then the ceilings: the connector's Kafka
 * client alone (@platformatic/kafka) and kcat producing those messages, and the client in each
 * compression.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { cpus } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createRowCodec } from "../../src/avro/index.js";
import { KAFKA_COMPRESSIONS } from "../../src/config/types.js";
import type { Kafka } from "../../src/kafka/index.js";
import { topicLayout } from "../../src/kafka/layout.js";
import { wireHeader } from "../../src/pipeline/page-codec.js";
import { STREAMS } from "../../src/streams/index.js";
import { sliceRange } from "../../src/windows/planner.js";
import { readTopicWithJava } from "../../test/support/java-reader.js";
import { type BenchMessage, type CeilingResult, clientCeiling, kcatCeiling } from "./ceilings.js";
import {
  type BenchApp,
  connectorFor,
  deleteTopics,
  type Endpoints,
  histogram,
  TMP_DIR,
  topicsOf,
  total,
  uniqueTopic,
} from "./connector.js";
import { type BenchResult, type Figure, type FigureTable, round } from "./figures.js";
import { PRIVACY_VARIANTS, type PrivacyVariant, policyFiles } from "./privacy-policy.js";
import { cpuOf, Probe } from "./sampler.js";
import { SimulatorProcess } from "./simulator-process.js";

export interface CpuBoundOptions {
  rows: number;
  endpoints: Endpoints;
  /** kcat's version, or undefined when it is missing (that ceiling is skipped). */
  kcat: string | undefined;
  /** The connector's maxBatchRows (createApp's option); its default when undefined. */
  maxBatchRows?: number;
  /** Write a CPU profile of the pipeline's main thread (a .cpuprofile under results/tmp/). */
  profile?: boolean;
  /**
   * How many times the pipeline and the client's ceilings run, each time one after the other; the
   * ratios are the medians of each round's. One run of each moved by ±15% between runs here.
   */
  rounds?: number;
  log: (line: string) => void;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAYS = 100;
/**
 * Rows each privacy variant reads at most (the first days of the range, whole days): three more
 * pipeline runs, the policies' at under half the pipeline's rate, so the full run's 1M rows each
 * would add about 2.5 min; 300k add under a minute.
 */
export const PRIVACY_MAX_ROWS = 300_000;
/** The connector's default (Connector.readWindows); a transaction is committed at this size. */
const DEFAULT_MAX_BATCH_ROWS = 5000;
/** monitorEventLoopDelay records whole timer intervals of this length: subtracted. */
const LOOP_RESOLUTION_MS = 10;

export async function cpuBound(options: CpuBoundOptions): Promise<BenchResult> {
  const started = performance.now();
  const callsPerHour = Math.max(1, Math.round(options.rows / (DAYS * 24)));
  const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
  const from = new Date(to.getTime() - DAYS * 24 * HOUR);
  const sim = await SimulatorProcess.start({
    seed: 1,
    dataStart: from.toISOString(),
    dataEnd: to.toISOString(),
    callsPerHour,
    pageSize: 1000,
    // Graph's rendering is not the connector's work: a first pass renders each page, the
    // pipeline's runs get them from the cache (TLS and HTTP still on the simulator's side).
    cachePages: true,
  });
  const maxBatchRows = options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
  // Pacing off: Graph's budget is the Graph-bound benchmark's subject.
  const pipelineApp = () =>
    connectorFor(
      sim,
      options.endpoints,
      "cpu",
      { GRAPH_MAX_REQUESTS_PER_MINUTE: "60000" },
      { maxBatchRows: options.maxBatchRows },
    );
  const bench = pipelineApp();
  const ceilingTopics: string[] = [];
  try {
    options.log(`cpu: the simulator renders ${DAYS} days at ${callsPerHour} calls/h`);
    const rendering = await renderPages(bench, sim, from, to);
    options.log(`cpu: pipeline (topic ${bench.topic})`);
    const pipeline = await runPipeline(bench, sim, from, to, options.profile === true);
    options.log(`cpu: pipeline ${pipeline.rows} rows in ${pipeline.wallMs} ms`);
    // Right after the pipeline's first run, in the same state of this process (the captured
    // messages are not held yet), over the first days of the same range: pages the simulator
    // has cached for the pipeline.
    const privacy = await privacyVariants(sim, options, from, pipeline.rows);
    options.log("cpu: paging and encoding without Kafka");
    const paging = await pageAndEncode(bench, from, to, maxBatchRows);
    if (paging.rows !== pipeline.rows) {
      const { fetched, duplicates, deadLettered, transactions, transactionsAborted } = pipeline;
      throw new Error(
        `the pipeline published ${pipeline.rows} rows, paging found ${paging.rows} (pipeline: fetched ${fetched}, ` +
          `duplicates ${duplicates}, dead-lettered ${deadLettered}, transactions ${transactions} committed, ` +
          `${transactionsAborted} aborted; log ${bench.log.file})`,
      );
    }
    const sameBytes = await compareWithTopic(options.endpoints.brokers, bench.topic, paging.transactions);
    // The ceiling (transactions as the pipeline's, its compression), then what transactions cost.
    const compression = bench.app.config.kafka.compression;
    const variants = {
      client: { transactional: true, compression },
      clientPerPartition: { transactional: true, compression, perPartition: true },
      clientNoTransactions: { transactional: false, compression },
    };
    const ceilings: Record<string, CeilingResult> = {};
    for (const [name, variant] of Object.entries(variants)) {
      const topic = uniqueTopic(`cpu-${name.toLowerCase()}`);
      ceilingTopics.push(...topicsOf(topic));
      options.log(`cpu: ${name}, ${paging.transactions.length} batches`);
      ceilings[name] = await clientCeiling(bench.app.kafka, topic, paging.transactions, variant);
    }
    // The ceiling in each compression, sent as a session sends (one partition per request): rows/s,
    // CPU of this process, and the bytes the data topic takes on the broker afterwards.
    const compressions: Record<string, CeilingResult> = {};
    for (const codec of KAFKA_COMPRESSIONS) {
      const topic = uniqueTopic(`cpu-${codec}`);
      ceilingTopics.push(...topicsOf(topic));
      options.log(`cpu: compression ${codec}`);
      compressions[codec] = await clientCeiling(bench.app.kafka, topic, paging.transactions, {
        transactional: true,
        compression: codec,
        perPartition: true,
      });
    }
    const client = ceilings.client as CeilingResult;
    const rounds: Round[] = [
      {
        pipeline: pipeline.rowsPerSecond,
        client: client.rowsPerSecond,
        clientPerPartition: (ceilings.clientPerPartition as CeilingResult).rowsPerSecond,
      },
    ];
    for (let round = 2; round <= (options.rounds ?? 1); round++) {
      const again = pipelineApp();
      options.log(`cpu: round ${round}: pipeline (topic ${again.topic})`);
      let rowsPerSecond: number;
      try {
        const rerun = await runPipeline(again, sim, from, to, false);
        if (rerun.rows !== pipeline.rows) {
          throw new Error(
            `round ${round}: the pipeline published ${rerun.rows} rows, the first ${pipeline.rows}`,
          );
        }
        rowsPerSecond = rerun.rowsPerSecond;
      } finally {
        await again.close();
      }
      const ceilingOf = async (name: "client" | "clientPerPartition") => {
        const topic = uniqueTopic(`cpu-${name.toLowerCase()}`);
        ceilingTopics.push(...topicsOf(topic));
        options.log(`cpu: round ${round}: ${name}`);
        const result = await clientCeiling(bench.app.kafka, topic, paging.transactions, variants[name]);
        return result.rowsPerSecond;
      };
      rounds.push({
        pipeline: rowsPerSecond,
        client: await ceilingOf("client"),
        clientPerPartition: await ceilingOf("clientPerPartition"),
      });
    }
    let kcat: CeilingResult | undefined;
    if (options.kcat) {
      const kcatTopic = uniqueTopic("cpu-kcat");
      ceilingTopics.push(...topicsOf(kcatTopic));
      options.log(`cpu: ${options.kcat}`);
      kcat = await kcatCeiling(
        bench.app.kafka,
        options.endpoints,
        kcatTopic,
        paging.transactions,
        compression,
      );
    } else {
      options.log("cpu: kcat not found on PATH: the kcat ceiling is skipped (apt-get install kcat)");
    }
    const details = {
      /** V8 flags of this process (none unless --node-flags gave some). */
      nodeFlags: process.execArgv,
      rows: pipeline.rows,
      days: DAYS,
      callsPerHour,
      compression,
      maxBatchRows,
      pipeline,
      rendering,
      paging: { ...paging, transactions: paging.transactions.length },
      sameBytes,
      client,
      clientPerPartition: ceilings.clientPerPartition as CeilingResult,
      clientNoTransactions: ceilings.clientNoTransactions as CeilingResult,
      compressions,
      privacy,
      kcat: kcat ?? { skipped: "kcat not found on PATH" },
      kcatVersion: options.kcat,
      /** Rows/s of each round (the first is the one the other figures describe). */
      rounds,
      ratios: {
        pipelineToClient: round(median(rounds.map((r) => r.pipeline / r.client)), 3),
        pipelineToClientPerPartition: round(median(rounds.map((r) => r.pipeline / r.clientPerPartition)), 3),
        pipelineToKcat: kcat ? round(pipeline.rowsPerSecond / kcat.rowsPerSecond, 3) : undefined,
        pipelineCpuToStages: round(
          pipeline.cpuSecondsPer100kRows /
            (paging.pagingCpuSecondsPer100kRows +
              paging.encodeCpuSecondsPer100kRows +
              ((ceilings.clientPerPartition as CeilingResult).cpuSecondsPer100kRows ?? Number.NaN)),
          3,
        ),
      },
    };
    return {
      benchmark: "cpu-bound pipeline",
      elapsedSeconds: round((performance.now() - started) / 1000),
      figures: figures(details),
      tables: [compressionTable(compressions), privacyTable(privacy)],
      details,
    };
  } finally {
    await deleteTopics(bench.app.kafka, ceilingTopics).catch(() => undefined);
    await bench.close();
    await sim.close();
  }
}

interface Round {
  pipeline: number;
  client: number;
  clientPerPartition: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function runPipeline(bench: BenchApp, sim: SimulatorProcess, from: Date, to: Date, profile: boolean) {
  const { app } = bench;
  await app.source.prepare();
  const profiler = profile ? await startProfiler() : undefined;
  const simBefore = await sim.sample();
  // How long the event loop was blocked (page parse, encode) while the Kafka client waited on it.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loopDelay.enable();
  const probe = new Probe(() => ({ rows: app.source.stats.published }));
  const done = await app.source.backfill(from, to, new AbortController().signal);
  const run = probe.stop();
  loopDelay.disable();
  const profilePath = profiler ? await profiler.stop(`${TMP_DIR}${bench.topic}.cpuprofile`) : undefined;
  const simAfter = await sim.sample();
  if (!done) throw new Error("the backfill did not finish");
  const stats = app.source.stats;
  const rows = stats.published;
  const produce = await histogram(app.metrics.kafkaProduceDuration);
  const graph = await histogram(app.metrics.graphRequestDuration);
  return {
    rows,
    fetched: stats.fetched,
    duplicates: stats.duplicates,
    deadLettered: stats.deadLettered,
    wallMs: run.wallMs,
    rowsPerSecond: Math.round(rows / (run.wallMs / 1000)),
    cpuMs: run.cpuMs,
    cpuSecondsPer100kRows: round(run.cpuMs / 1000 / (rows / 100_000), 2),
    peakRssMb: run.peakRssMb,
    peakHeapUsedMb: run.peakHeapUsedMb,
    graphRequests: simAfter.stats.graphRequests - simBefore.stats.graphRequests,
    simulatorCpuMs: round(simAfter.cpuMs - simBefore.cpuMs),
    /** Cores busy on the machine: the connector, the simulator, and the rest (Kafka, registry, other loads). */
    machineCores: {
      connector: round(run.cpuMs / run.wallMs, 2),
      simulator: round((simAfter.cpuMs - simBefore.cpuMs) / run.wallMs, 2),
      rest:
        run.machineBusyCores === undefined
          ? undefined
          : round(run.machineBusyCores - (run.cpuMs + simAfter.cpuMs - simBefore.cpuMs) / run.wallMs, 2),
    },
    transactions: produce.count,
    transactionsAborted: (await total(app.metrics.kafkaTransactions)) - produce.count,
    /**
     * Sums of the time inside Kafka transactions (send + commit) and Graph requests (to the body's
     * end); they overlap when the pipeline works on both at once, so they may add up to more than
     * the wall time. Their difference with the wall time shows the critical path.
     */
    kafkaSeconds: round(produce.sum, 1),
    graphSeconds: round(graph.sum, 1),
    /** Beyond the sampling timer's own interval: how long the loop was blocked at a time. */
    eventLoopDelayMs: {
      mean: round(loopDelay.mean / 1e6 - LOOP_RESOLUTION_MS, 1),
      p99: round(loopDelay.percentile(99) / 1e6 - LOOP_RESOLUTION_MS, 1),
      max: round(loopDelay.max / 1e6 - LOOP_RESOLUTION_MS, 1),
    },
    meanTransactionMs: round((produce.sum / Math.max(1, produce.count)) * 1000),
    /** The main thread's CPU profile (`--profile`): open it in Chrome DevTools or `bench/profile.ts`. */
    profile: profilePath,
  };
}

/** V8's sampling profiler on this thread, through the inspector; the profile is written at stop. */
async function startProfiler() {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return {
    async stop(path: string): Promise<string> {
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(path, JSON.stringify(profile));
      session.disconnect();
      return path;
    },
  };
}

/**
 * Pages the range once so that the simulator renders (and keeps) every page before the pipeline
 * reads them: the simulator's CPU for it is Graph's share, reported apart.
 */
async function renderPages(bench: BenchApp, sim: SimulatorProcess, from: Date, to: Date) {
  let rows = 0;
  const before = await sim.sample();
  for (const window of sliceRange(from, to, bench.app.config.connector.windowSliceMs)) {
    for await (const page of bench.app.graph.pages(STREAMS.pstn.function, window.from, window.to)) {
      rows += page.rows.length;
    }
  }
  const after = await sim.sample();
  return {
    rows,
    pagesFromCache: after.stats.pagesFromCache - before.stats.pagesFromCache,
    simulatorCpuSecondsPer100kRows: round((after.cpuMs - before.cpuMs) / 1000 / (rows / 100_000), 2),
  };
}

/**
 * The Graph side alone: the app's GraphClient pages the same windows; the rows are deduped and
 * encoded exactly as the pipeline does, into transactions of 5,000 rows or more (whole pages) as
 * the pipeline's when Kafka is its bottleneck (windows' ends ride along then), timed apart from
 * the paging.
 */
async function pageAndEncode(bench: BenchApp, from: Date, to: Date, maxBatchRows: number) {
  const { app } = bench;
  const codec = createRowCodec();
  const schemaId = await app.registry.getLatestSchemaId(`${bench.topic}-value`);
  const seen = new Set<string>();
  const transactions: BenchMessage[][] = [];
  let batch: BenchMessage[] = [];
  let encodeCpuMs = 0;
  let rows = 0;
  const header = wireHeader(schemaId);
  const probe = new Probe();
  for (const window of sliceRange(from, to, app.config.connector.windowSliceMs)) {
    for await (const page of app.graph.pages(STREAMS.pstn.function, window.from, window.to)) {
      encodeCpuMs += cpuOf(() => {
        for (const row of page.rows) {
          const id = row.id as string;
          if (seen.has(id)) continue;
          seen.add(id);
          const encoded = codec.encode(row, header);
          if (!encoded.ok) continue;
          batch.push({ key: id, value: encoded.value });
          rows++;
        }
      });
      if (batch.length >= maxBatchRows) {
        transactions.push(batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) transactions.push(batch);
  const run = probe.stop();
  const pagingCpuMs = run.cpuMs - encodeCpuMs;
  return {
    rows,
    wallMs: run.wallMs,
    /** Graph client + JSON parse, in this process. */
    pagingCpuMs: round(pagingCpuMs),
    pagingCpuSecondsPer100kRows: round(pagingCpuMs / 1000 / (rows / 100_000), 2),
    /** Dedupe (a Set) + Avro encode + wire format, in this process. */
    encodeCpuMs: round(encodeCpuMs),
    encodeCpuSecondsPer100kRows: round(encodeCpuMs / 1000 / (rows / 100_000), 2),
    /** Paging alone: rows/s with the encode time taken out. */
    pagingRowsPerSecond: Math.round(rows / ((run.wallMs - encodeCpuMs) / 1000)),
    transactions,
  };
}

/** Reads back the start of the pipeline's topic (Kafka's Java consumer, read_committed) and compares it with the captured bytes. */
async function compareWithTopic(
  brokers: readonly string[],
  topic: string,
  transactions: readonly BenchMessage[][],
  want = 300,
) {
  const captured = new Map<string, Buffer>();
  for (const batch of transactions) for (const m of batch) captured.set(m.key, m.value);
  const { records } = await readTopicWithJava(brokers, topic, {
    expected: want,
    timeoutMs: 30_000,
    settleMs: 0,
  });
  const sample = records.slice(0, want);
  const equal = sample.filter((record) => {
    const value = captured.get(record.key?.toString("utf8") ?? "");
    return value !== undefined && record.value?.equals(value) === true;
  }).length;
  return { checked: sample.length, equal };
}

function figures(d: {
  pipeline: Awaited<ReturnType<typeof runPipeline>>;
  rendering: Awaited<ReturnType<typeof renderPages>>;
  paging: Omit<Awaited<ReturnType<typeof pageAndEncode>>, "transactions">;
  compression: string;
  client: CeilingResult;
  clientPerPartition: CeilingResult;
  clientNoTransactions: CeilingResult;
  compressions: Record<string, CeilingResult>;
  kcat: CeilingResult | { skipped: string };
  rounds: Round[];
  ratios: {
    pipelineToClient: number;
    pipelineToClientPerPartition: number;
    pipelineToKcat: number | undefined;
    pipelineCpuToStages: number;
  };
  sameBytes: { checked: number; equal: number };
}): Figure[] {
  const p = d.pipeline;
  const kcat = "skipped" in d.kcat ? undefined : d.kcat;
  const client = (c: CeilingResult) =>
    `${c.rowsPerSecond} rows/s, ${c.cpuSecondsPer100kRows} CPU s / 100k rows`;
  const codec = d.compression;
  return [
    { name: `rows (pipeline; node ${process.execArgv.join(" ") || "without flags"})`, value: p.rows },
    {
      name: "pipeline throughput",
      value: p.rowsPerSecond,
      unit: "rows/s",
      // What Graph's budget can feed one replica serving four tenants (about 3,300 rows/s each).
      target: "≥ 13200",
      pass: p.rowsPerSecond >= 13_200,
    },
    {
      name: "pipeline CPU (connector process only)",
      value: p.cpuSecondsPer100kRows,
      unit: "CPU s / 100k rows",
    },
    { name: "pipeline peak RSS", value: p.peakRssMb, unit: "MB" },
    {
      name: "pipeline wall / time in Kafka txns / in Graph HTTP (sums)",
      value: `${round(p.wallMs / 1000, 1)} / ${p.kafkaSeconds} / ${p.graphSeconds}`,
      unit: "s",
    },
    {
      name: "cores busy during it: connector / simulator / rest (Kafka, registry, other loads)",
      value: `${p.machineCores.connector} / ${p.machineCores.simulator} / ${p.machineCores.rest ?? "?"}`,
      unit: `of ${cpus().length}`,
    },
    {
      name: "event loop delay mean / p99 / max",
      value: `${p.eventLoopDelayMs.mean} / ${p.eventLoopDelayMs.p99} / ${p.eventLoopDelayMs.max}`,
      unit: "ms",
    },
    { name: "pipeline transactions (mean ms)", value: `${p.transactions} (${p.meanTransactionMs})` },
    {
      name: "simulator CPU rendering the pages (its own process, before the pipeline)",
      value: d.rendering.simulatorCpuSecondsPer100kRows,
      unit: "CPU s / 100k rows",
    },
    {
      name: "Graph paging + JSON parse alone (connector side)",
      value: `${d.paging.pagingRowsPerSecond} rows/s, ${d.paging.pagingCpuSecondsPer100kRows} CPU s / 100k rows`,
    },
    {
      name: "dedupe + Avro encode alone",
      value: d.paging.encodeCpuSecondsPer100kRows,
      unit: "CPU s / 100k rows",
    },
    {
      name: "messages identical to the pipeline's (sample read back)",
      value: `${d.sameBytes.equal}/${d.sameBytes.checked}`,
    },
    { name: `raw client, same txns, ${codec}`, value: client(d.client) },
    {
      name: `raw client, same txns, ${codec}, one partition per request (as the pipeline sends)`,
      value: client(d.clientPerPartition),
    },
    {
      name: `raw client, same batches, no txns (idempotent), ${codec}`,
      value: client(d.clientNoTransactions),
    },
    {
      name: `kcat (librdkafka; idempotent, no txns), ${codec}`,
      value: kcat ? kcat.rowsPerSecond : "skipped: no kcat",
      unit: kcat ? "rows/s" : undefined,
    },
    ...(d.rounds.length > 1
      ? [
          {
            name: `rows/s in ${d.rounds.length} rounds, each: pipeline, raw client, one partition per request`,
            value: d.rounds.map((r) => `${r.pipeline} / ${r.client} / ${r.clientPerPartition}`).join("; "),
          },
        ]
      : []),
    {
      name: `pipeline / raw client${d.rounds.length > 1 ? ` (median of ${d.rounds.length} rounds)` : ""}`,
      value: d.ratios.pipelineToClient,
    },
    {
      name: `pipeline / raw client with one partition per request${d.rounds.length > 1 ? " (median)" : ""}`,
      value: d.ratios.pipelineToClientPerPartition,
    },
    { name: "pipeline / kcat", value: d.ratios.pipelineToKcat ?? "skipped" },
    {
      // The stages alone: paging + JSON parse, dedupe + encode, and the client as a session sends.
      // What the pipeline spends above their sum is its own: batching, state, metrics, hand-offs.
      name: "pipeline CPU / its stages' CPU alone (paging + encode + client, one partition per request)",
      value: d.ratios.pipelineCpuToStages,
      target: "≤ 1.2",
      pass: d.ratios.pipelineCpuToStages <= 1.2,
    },
  ];
}

/**
 * The transactional raw-client ceiling in each compression. Bytes on the wire: the data topic's
 * size in the broker's log dir afterwards (DescribeLogDirs), which holds the record batches as the
 * client sent them (the broker keeps a producer's compression) and the transactions' markers.
 */
function compressionTable(compressions: Record<string, CeilingResult>): FigureTable {
  return {
    title: "compression",
    columns: ["rows/s", "CPU s per 100k rows", "MB on the wire per 100k rows"],
    rows: Object.entries(compressions).map(([name, c]) => ({
      name,
      values: [
        c.rowsPerSecond,
        c.cpuSecondsPer100kRows ?? "?",
        c.mbPer100kRows ?? "? (DescribeLogDirs refused)",
      ],
    })),
  };
}

/** One privacy variant's pipeline run, and the bytes its outputs' topics took on the brokers. */
interface PrivacyRun {
  topics: string[];
  pipeline: Awaited<ReturnType<typeof runPipeline>>;
  /** Pages the simulator answered from its cache during the run, of all requests. */
  pagesFromCache: number;
  /** All output topics' record batches on the brokers' disks (DescribeLogDirs), per 100k rows. */
  mbPer100kRows: number | undefined;
}

interface PrivacyResults {
  /** Rows each variant published (the first `days` of the range), and the pipeline's whole run. */
  rows: number;
  days: number;
  pipelineRows: number;
  /** The three runs' wall time, setup (apps, topics, schemas) and cleanup included. */
  elapsedSeconds: number;
  runs: Record<PrivacyVariant, PrivacyRun>;
}

/**
 * The pipeline (a fresh app, production settings, pacing off) over the first days of the range in
 * each privacy variant: no policy, one output pseudonymised for a SIEM, two outputs (raw and that
 * SIEM one) in the same transactions. Each run's CPU is this process's (the connector's main
 * thread, its decoder thread and libuv pool); the simulator is another process.
 */
async function privacyVariants(
  sim: SimulatorProcess,
  options: CpuBoundOptions,
  from: Date,
  pipelineRows: number,
): Promise<PrivacyResults> {
  const days = Math.max(1, Math.min(DAYS, Math.round((DAYS * PRIVACY_MAX_ROWS) / options.rows)));
  const until = new Date(from.getTime() + days * DAY);
  const started = performance.now();
  const files = policyFiles();
  const runs: Partial<Record<PrivacyVariant, PrivacyRun>> = {};
  try {
    for (const variant of PRIVACY_VARIANTS) {
      // The SIEM output's own topic; the raw output is the stream's (KAFKA_TOPIC, the app's topic).
      const siemTopic = `${uniqueTopic("cpu-privacy")}.siem`;
      const bench = connectorFor(
        sim,
        options.endpoints,
        "cpu-privacy",
        { GRAPH_MAX_REQUESTS_PER_MINUTE: "60000", ...files.env(variant, siemTopic) },
        { maxBatchRows: options.maxBatchRows },
      );
      try {
        const topics = [...bench.app.source.unit.topics.outputs];
        options.log(`cpu: privacy ${variant}: ${days} days into ${topics.join(", ")}`);
        const before = await sim.sample();
        // --profile: each variant's main thread too (results/tmp/<its topic>.cpuprofile).
        const pipeline = await runPipeline(bench, sim, from, until, options.profile === true);
        const after = await sim.sample();
        const bytes = await topicsBytes(bench.app.kafka, topics);
        runs[variant] = {
          topics,
          pipeline,
          pagesFromCache: after.stats.pagesFromCache - before.stats.pagesFromCache,
          mbPer100kRows: bytes === undefined ? undefined : round(bytes / 1e6 / (pipeline.rows / 100_000), 2),
        };
        options.log(
          `cpu: privacy ${variant}: ${pipeline.rows} rows in ${pipeline.wallMs} ms, ${pipeline.cpuSecondsPer100kRows} CPU s / 100k rows`,
        );
      } finally {
        await deleteTopics(bench.app.kafka, [siemTopic]).catch(() => undefined);
        await bench.close();
      }
    }
  } finally {
    files.remove();
  }
  const done = runs as Record<PrivacyVariant, PrivacyRun>;
  const rows = new Set(PRIVACY_VARIANTS.map((variant) => done[variant].pipeline.rows));
  if (rows.size !== 1)
    throw new Error(
      `the privacy variants published different rows: ${PRIVACY_VARIANTS.map((v) => `${v} ${done[v].pipeline.rows}`).join(", ")}`,
    );
  const elapsedSeconds = round((performance.now() - started) / 1000);
  options.log(`cpu: privacy variants done in ${elapsedSeconds} s`);
  return { rows: done.none.pipeline.rows, days, pipelineRows, elapsedSeconds, runs: done };
}

/** The bytes the topics' partitions take on the brokers' disks (DescribeLogDirs); undefined if refused. */
async function topicsBytes(kafka: Kafka, topics: readonly string[]): Promise<number | undefined> {
  const counts = (await topicLayout(kafka, topics)).partitions;
  const admin = kafka.admin();
  try {
    const brokers = await admin.describeLogDirs({
      topics: topics.map((name) => ({
        name,
        partitions: Array.from({ length: counts.get(name) ?? 1 }, (_, i) => i),
      })),
    });
    let bytes = 0;
    for (const broker of brokers)
      for (const dir of broker.results)
        for (const topic of dir.topics) {
          if (!topics.includes(topic.name)) continue;
          for (const partition of topic.partitions)
            if (!partition.isFutureKey) bytes += Number(partition.partitionSize);
        }
    return bytes;
  } catch {
    return undefined;
  } finally {
    await admin.close();
  }
}

const PRIVACY_NAMES: Record<PrivacyVariant, string> = {
  none: "no policy (one topic, rows as Graph sent them)",
  siem: "one output: SIEM (hash ×3, drop ×1, truncate-ip ×4)",
  "raw+siem": "two outputs: raw + SIEM, same transactions",
};

/** The pipeline under each privacy policy: CPU and bytes per 100k rows, against no policy. */
function privacyTable(p: PrivacyResults): FigureTable {
  const base = p.runs.none.pipeline.cpuSecondsPer100kRows;
  const size =
    p.rows === p.pipelineRows
      ? `${p.rows} rows each`
      : `${p.rows} rows each (the first ${p.days} of the ${DAYS} days; the pipeline read ${p.pipelineRows})`;
  return {
    title: `privacy policy, ${size}`,
    columns: [
      "rows/s",
      "CPU s per 100k rows",
      "CPU ÷ no policy",
      "MB on the wire per 100k rows (all outputs)",
      "peak RSS MB",
      "cores busy: connector / simulator / rest",
    ],
    rows: PRIVACY_VARIANTS.map((variant) => {
      const run = p.runs[variant];
      const cores = run.pipeline.machineCores;
      return {
        name: PRIVACY_NAMES[variant],
        values: [
          run.pipeline.rowsPerSecond,
          run.pipeline.cpuSecondsPer100kRows,
          round(run.pipeline.cpuSecondsPer100kRows / base, 2),
          run.mbPer100kRows ?? "? (DescribeLogDirs refused)",
          run.pipeline.peakRssMb,
          `${cores.connector} / ${cores.simulator} / ${cores.rest ?? "?"}`,
        ],
      };
    }),
  };
}
