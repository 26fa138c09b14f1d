/**
 * 3. Memory: many rows through `run` with a 48 h lookback (so the dedupe set is live), RSS and heap
 * sampled every 250 ms. Dedupe memory must follow the rows inside the horizon, not all rows seen.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { writeHeapSnapshot } from "node:v8";
import { connectorFor, type Endpoints, TMP_DIR, total } from "./connector.js";
import { type BenchResult, round } from "./figures.js";
import { Probe, type Sample } from "./sampler.js";
import { SimulatorProcess } from "./simulator-process.js";

export interface MemoryOptions {
  rows: number;
  endpoints: Endpoints;
  maxBatchRows?: number;
  /** Write a heap snapshot at half the rows (a .heapsnapshot under results/tmp/; `bench/heap.ts`). */
  profile?: boolean;
  log: (line: string) => void;
}

const HOUR = 3_600_000;
const DAYS = 100;
const LOOKBACK_HOURS = 48;
const RSS_LIMIT_MB = 200;
/** No progress for this long: the run is stuck (the connector retries forever on its own). */
const STALL_MS = 180_000;

export async function memory(options: MemoryOptions): Promise<BenchResult> {
  const started = performance.now();
  const callsPerHour = Math.max(1, Math.round(options.rows / (DAYS * 24)));
  const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
  const from = new Date(to.getTime() - DAYS * 24 * HOUR);
  const sim = await SimulatorProcess.start({
    seed: 3,
    dataStart: from.toISOString(),
    dataEnd: to.toISOString(),
    callsPerHour,
    pageSize: 1000,
  });
  const bench = connectorFor(
    sim,
    options.endpoints,
    "memory",
    {
      GRAPH_MAX_REQUESTS_PER_MINUTE: "60000",
      LOOKBACK: `${LOOKBACK_HOURS}h`,
      CONNECTOR_START: from.toISOString(),
      POLL_INTERVAL: "1h",
    },
    { maxBatchRows: options.maxBatchRows },
  );
  const { app } = bench;
  try {
    options.log(
      `memory: run from ${from.toISOString()} at ${callsPerHour} calls/h, LOOKBACK ${LOOKBACK_HOURS}h`,
    );
    await app.source.prepare();
    let dedupeIds = 0;
    const gauge = setInterval(() => {
      void total(app.metrics.dedupeIds).then((value) => {
        dedupeIds = value;
      });
    }, 250);
    const probe = new Probe(() => ({ rows: app.source.stats.published, dedupeIds }));
    const stop = new AbortController();
    const pollStarted = new Date();
    const running = app.source.run(stop.signal);
    let failed: unknown;
    running.catch((error: unknown) => {
      failed = error;
    });
    // The first poll reads from the start up to its `now`; the watermark passing pollStarted means done.
    let last = { rows: -1, at: Date.now() };
    let heapSnapshot: string | undefined;
    for (;;) {
      await sleep(500);
      if (failed) throw failed;
      const { watermark, published } = app.source.stats;
      if (options.profile && heapSnapshot === undefined && published >= options.rows / 2) {
        // Only what is reachable goes in: the live set at this point, not the garbage.
        heapSnapshot = writeHeapSnapshot(`${TMP_DIR}${bench.topic}.heapsnapshot`);
        options.log(`memory: heap snapshot at ${published} rows: ${heapSnapshot}`);
      }
      if (watermark && watermark >= pollStarted) break;
      if (published !== last.rows) last = { rows: published, at: Date.now() };
      else if (Date.now() - last.at > STALL_MS)
        throw new Error(`no progress for ${STALL_MS / 1000} s (see ${bench.log.file})`);
    }
    stop.abort();
    await running;
    clearInterval(gauge);
    dedupeIds = await total(app.metrics.dedupeIds);
    const run = probe.stop();
    const rows = app.source.stats.published;
    const samples = run.samples.filter((s) => (s.rows ?? 0) > 0);
    const at = (share: number) =>
      samples.find((s) => (s.rows ?? 0) >= rows * share) ?? (samples.at(-1) as Sample);
    const point = (s: Sample) => ({
      rows: s.rows,
      seconds: round(s.ms / 1000, 1),
      rssMb: s.rssMb,
      heapUsedMb: s.heapUsedMb,
      heapTotalMb: s.heapTotalMb,
      externalMb: s.externalMb,
      dedupeIds: s.dedupeIds,
    });
    const first = samples[0] as Sample;
    const middle = at(0.5);
    const end = samples.at(-1) as Sample;
    const later = samples.filter((s) => (s.rows ?? 0) >= rows * 0.1);
    const maxDedupe = Math.max(...run.samples.map((s) => s.dedupeIds ?? 0));
    const rowsInHorizon = callsPerHour * LOOKBACK_HOURS;
    const details = {
      /** V8 flags of this process: the image's (src/runtime-flags.ts) unless --node-flags said otherwise. */
      nodeFlags: process.execArgv,
      mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
      rows,
      days: DAYS,
      callsPerHour,
      lookbackHours: LOOKBACK_HOURS,
      wallMs: run.wallMs,
      rowsPerSecond: Math.round(rows / (run.wallMs / 1000)),
      cpuMs: run.cpuMs,
      /** Cores busy on the whole machine meanwhile (connector, simulator, Kafka, anything else). */
      machineBusyCores: run.machineBusyCores,
      start: point(first),
      middle: point(middle),
      end: point(end),
      /** The heap snapshot at half the rows (`--profile`); the pause it takes is in the wall time. */
      heapSnapshot,
      maxRssMb: run.peakRssMb,
      maxHeapUsedMb: run.peakHeapUsedMb,
      /** The V8 heap reserved (young generation included) and Buffers: what RSS is made of. */
      maxHeapTotalMb: Math.max(...run.samples.map((s) => s.heapTotalMb)),
      maxExternalMb: Math.max(...run.samples.map((s) => s.externalMb)),
      /** Least-squares slope over the samples after the first 10% of rows. */
      rssSlopeMbPerMillionRows: round(slope(later, "rssMb") * 1e6, 2),
      heapSlopeMbPerMillionRows: round(slope(later, "heapUsedMb") * 1e6, 2),
      /**
       * Median RSS over the last quarter of the rows minus the median over the second quarter:
       * robust to the GC's sawtooth, which a slope over a short run is not.
       */
      rssGrowthMb: round(
        median(samples, "rssMb", rows * 0.75, Number.POSITIVE_INFINITY) -
          median(samples, "rssMb", rows * 0.25, rows * 0.5),
        1,
      ),
      maxDedupeIds: maxDedupe,
      rowsInHorizon,
      dedupeToHorizon: round(maxDedupe / rowsInHorizon, 2),
      curve: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map((share) => point(at(share))),
    };
    return {
      benchmark: "memory",
      elapsedSeconds: round((performance.now() - started) / 1000),
      figures: [
        {
          name: `rows (run, LOOKBACK 48h; node ${process.execArgv.join(" ") || "without flags"}${process.env.MALLOC_ARENA_MAX ? `, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX}` : ""})`,
          value: rows,
        },
        { name: "throughput", value: details.rowsPerSecond, unit: "rows/s" },
        {
          name: "RSS start / middle / end",
          value: `${first.rssMb} / ${middle.rssMb} / ${end.rssMb}`,
          unit: "MB",
        },
        {
          name: "RSS max",
          value: run.peakRssMb,
          unit: "MB",
          target: `< ${RSS_LIMIT_MB}`,
          pass: run.peakRssMb < RSS_LIMIT_MB,
        },
        {
          name: "heap used start / middle / end (max)",
          value: `${first.heapUsedMb} / ${middle.heapUsedMb} / ${end.heapUsedMb} (${run.peakHeapUsedMb})`,
          unit: "MB",
        },
        {
          name: "V8 heap reserved / Buffers (max)",
          value: `${details.maxHeapTotalMb} / ${details.maxExternalMb}`,
          unit: "MB",
        },
        {
          name: "RSS growth: median over the last quarter of rows − over the second",
          value: details.rssGrowthMb,
          unit: `MB (slope ${details.rssSlopeMbPerMillionRows} MB / 1M rows)`,
          target: "< 10 MB (no growth)",
          pass: details.rssGrowthMb < 10,
        },
        {
          name: "dedupe ids max / rows in 48 h",
          value: `${maxDedupe} / ${rowsInHorizon} (${details.dedupeToHorizon}×)`,
          target: "≈ 1× (bounded)",
          pass: details.dedupeToHorizon <= 1.6,
        },
      ],
      details,
    };
  } finally {
    await bench.close();
    await sim.close();
  }
}

/** Least-squares slope of `key` against rows. */
function slope(samples: readonly Sample[], key: string): number {
  const n = samples.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const s of samples) {
    const x = s.rows as number;
    const y = s[key] as number;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const denominator = n * sxx - sx * sx;
  return denominator === 0 ? 0 : (n * sxy - sx * sy) / denominator;
}

/** Median of `key` over the samples with rows in [from, to). */
function median(samples: readonly Sample[], key: string, from: number, to: number): number {
  const values = samples
    .filter((s) => (s.rows ?? 0) >= from && (s.rows ?? 0) < to)
    .map((s) => s[key] as number)
    .sort((a, b) => a - b);
  if (values.length === 0) return 0;
  const middle = values.length >> 1;
  return values.length % 2 === 1
    ? (values[middle] as number)
    : ((values[middle - 1] as number) + (values[middle] as number)) / 2;
}
