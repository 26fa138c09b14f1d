/**
 * 2. Graph-bound backfill: pages of 1,000 rows with 300–800 ms latency and Graph's budget of 200
 * requests a minute (429 past it), read by the connector with its default pacer (190 a minute after a burst of 10).
 * The bound: pages ÷ 200 a minute.
 */

import { connectorFor, type Endpoints, histogram } from "./connector.js";
import { type BenchResult, round } from "./figures.js";
import { Probe } from "./sampler.js";
import { SimulatorProcess } from "./simulator-process.js";

export interface GraphBoundOptions {
  /** Pages to read, about: the range is up to 90 one-day slices of a whole number of pages each. */
  pages: number;
  endpoints: Endpoints;
  maxBatchRows?: number;
  log: (line: string) => void;
}

const HOUR = 3_600_000;
const BUDGET = { requests: 200, perMs: 60_000 };
const LATENCY = { min: 300, max: 800 };
const PAGE_SIZE = 1000;

export async function graphBound(options: GraphBoundOptions): Promise<BenchResult> {
  const started = performance.now();
  // One request per page and each day-slice starts its own paging: N days of k pages each, each
  // day a little under k × 1,000 rows so that it never needs a (k+1)th page.
  const pagesPerDay = Math.max(1, Math.ceil(options.pages / 90));
  const days = Math.min(90, Math.max(1, Math.round(options.pages / pagesPerDay)));
  const callsPerHour = (pagesPerDay * PAGE_SIZE - 250) / 24;
  const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - HOUR);
  const from = new Date(to.getTime() - days * 24 * HOUR);
  const sim = await SimulatorProcess.start({
    seed: 2,
    dataStart: from.toISOString(),
    dataEnd: to.toISOString(),
    callsPerHour,
    pageSize: PAGE_SIZE,
    pageLatencyMs: LATENCY,
    budget: BUDGET,
  });
  // GRAPH_MAX_REQUESTS_PER_MINUTE is left at its default: the pacer is part of what is measured.
  const bench = connectorFor(sim, options.endpoints, "graph", {}, { maxBatchRows: options.maxBatchRows });
  try {
    const pacer = bench.app.config.graph.maxRequestsPerMinute;
    options.log(
      `graph: ${days} days × ${pagesPerDay} pages, pacer ${pacer}/min, budget ${BUDGET.requests}/min`,
    );
    await bench.app.source.prepare();
    const before = await sim.sample();
    const probe = new Probe(() => ({ rows: bench.app.source.stats.published }));
    const done = await bench.app.source.backfill(from, to, new AbortController().signal);
    const run = probe.stop();
    const after = await sim.sample();
    if (!done) throw new Error("the backfill did not finish");
    const status = (code: string) => (after.stats.byStatus[code] ?? 0) - (before.stats.byStatus[code] ?? 0);
    const requests = after.stats.graphRequests - before.stats.graphRequests;
    const pages = status("200");
    const throttled = after.stats.throttled - before.stats.throttled;
    const boundMs = (pages / BUDGET.requests) * BUDGET.perMs;
    const ratio = run.wallMs / boundMs;
    const graph = await histogram(bench.app.metrics.graphRequestDuration);
    const kafka = await histogram(bench.app.metrics.kafkaProduceDuration);
    const details = {
      days,
      pagesPerDay,
      callsPerHour: round(callsPerHour, 2),
      rows: bench.app.source.stats.published,
      pageLatencyMs: LATENCY,
      budget: BUDGET,
      pacerPerMinute: pacer,
      requests,
      pages,
      throttled,
      throttledPercent: round((throttled / Math.max(1, requests)) * 100, 2),
      retryAfterViolations: after.stats.retryAfterViolations - before.stats.retryAfterViolations,
      wallMs: run.wallMs,
      boundMs: Math.round(boundMs),
      ratio: round(ratio, 3),
      /** The pacer's own bound: its burst of 10, then its rate a minute. */
      pacerBoundMs: Math.round((Math.max(0, pages - 10) / pacer) * 60_000),
      /** What one request at a time costs: the pages' latencies back to back (mean 550 ms). */
      sequentialLatencyMs: Math.round(pages * ((LATENCY.min + LATENCY.max) / 2)),
      graphSeconds: round(graph.sum, 1),
      meanGraphRequestMs: Math.round((graph.sum / Math.max(1, graph.count)) * 1000),
      kafkaSeconds: round(kafka.sum, 1),
      transactions: kafka.count,
      peakRssMb: run.peakRssMb,
      /** Cores busy on the whole machine meanwhile (connector, simulator, Kafka, anything else). */
      machineBusyCores: run.machineBusyCores,
    };
    return {
      benchmark: "graph-bound backfill",
      elapsedSeconds: round((performance.now() - started) / 1000),
      figures: [
        { name: "pages (requests)", value: `${pages} (${requests})` },
        { name: "wall time", value: round(run.wallMs / 1000, 1), unit: "s" },
        { name: "bound: pages ÷ 200/min", value: round(boundMs / 1000, 1), unit: "s" },
        { name: "wall / bound", value: details.ratio, target: "≤ 1.1", pass: ratio <= 1.1 },
        {
          name: "429s (% of requests)",
          value: `${throttled} (${details.throttledPercent}%)`,
          target: "< 1%",
          pass: details.throttledPercent < 1,
        },
        {
          name: "time in Graph requests / Kafka txns",
          value: `${details.graphSeconds} / ${details.kafkaSeconds}`,
          unit: "s",
        },
        { name: "mean Graph request", value: details.meanGraphRequestMs, unit: "ms" },
      ],
      details,
    };
  } finally {
    await bench.close();
    await sim.close();
  }
}
