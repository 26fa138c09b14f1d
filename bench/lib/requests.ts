/**
 * 4. Graph requests per row: a backfill of a sparse tenant (300 rows a day over 200 days) and of a
 * dense one (50,000 rows a day), pacing off and no latency, counted by the simulator against the
 * least Graph can carry the rows in: ceil(rows / 1000) requests of full pages.
 */

import { connectorFor, type Endpoints } from "./connector.js";
import { type BenchResult, type Figure, round } from "./figures.js";
import { SimulatorProcess } from "./simulator-process.js";

export interface RequestsOptions {
  /** Days of the dense tenant (the sparse one is always 200 days). */
  denseDays: number;
  endpoints: Endpoints;
  log: (line: string) => void;
}

const HOUR = 3_600_000;
const PAGE_SIZE = 1000;

interface Tenant {
  name: string;
  rowsPerDay: number;
  days: number;
}

async function backfill(tenant: Tenant, endpoints: Endpoints, seed: number) {
  // The data ends three days ago: every row is visible, late ones included.
  const to = new Date(Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR);
  const from = new Date(to.getTime() - tenant.days * 24 * HOUR);
  const sim = await SimulatorProcess.start({
    seed,
    dataStart: from.toISOString(),
    dataEnd: to.toISOString(),
    callsPerHour: tenant.rowsPerDay / 24,
    pageSize: PAGE_SIZE,
  });
  const bench = connectorFor(sim, endpoints, "requests", { GRAPH_MAX_REQUESTS_PER_MINUTE: "60000" });
  try {
    await bench.app.source.prepare();
    const before = await sim.sample();
    const started = performance.now();
    const done = await bench.app.source.backfill(from, to, new AbortController().signal);
    const wallMs = performance.now() - started;
    const after = await sim.sample();
    if (!done) throw new Error(`the ${tenant.name} backfill did not finish`);
    const rows = bench.app.source.stats.fetched - bench.app.source.stats.duplicates;
    const requests = after.stats.graphRequests - before.stats.graphRequests;
    const minimum = Math.ceil(rows / PAGE_SIZE);
    // What 1-day windows asked for: at least one request a day, and a day's pages.
    const dailyWindows = tenant.days * Math.max(1, Math.ceil(tenant.rowsPerDay / PAGE_SIZE));
    return {
      ...tenant,
      rows,
      requests,
      minimum,
      ratio: round(requests / minimum, 3),
      dailyWindows,
      wallSeconds: round(wallMs / 1000, 1),
    };
  } finally {
    await bench.close();
    await sim.close();
  }
}

export async function requestsPerRow(options: RequestsOptions): Promise<BenchResult> {
  const started = performance.now();
  const tenants: Tenant[] = [
    { name: "sparse", rowsPerDay: 300, days: 200 },
    { name: "dense", rowsPerDay: 50_000, days: options.denseDays },
  ];
  const results = [];
  for (const [index, tenant] of tenants.entries()) {
    options.log(`requests: ${tenant.name} tenant, ${tenant.rowsPerDay} rows a day over ${tenant.days} days`);
    results.push(await backfill(tenant, options.endpoints, 7 + index));
  }
  const figures: Figure[] = results.flatMap((r) => [
    { name: `${r.name}: rows, requests, ceil(rows / 1000)`, value: `${r.rows}, ${r.requests}, ${r.minimum}` },
    {
      name: `${r.name}: requests / ceil(rows / 1000)`,
      value: r.ratio,
      target: "≤ 1.15",
      pass: r.ratio <= 1.15,
    },
    { name: `${r.name}: requests 1-day windows would make, at least`, value: r.dailyWindows },
  ]);
  return {
    benchmark: "graph requests per row",
    elapsedSeconds: round((performance.now() - started) / 1000),
    figures,
    details: { tenants: results },
  };
}
