/**
 * The benchmarks (a script, not a test): the connector against the real local Kafka + registry and
 * the Graph simulator. Each benchmark runs in a fresh process on compiled code (the connector's
 * figures are that process's alone), its simulator in another.
 *
 *   npm run bench                     CPU-bound 1M rows, Graph-bound 630 pages, memory 10M rows
 *   npm run bench -- --quick          200k rows / 60 pages / 1M rows: a smoke check
 *   npm run bench -- --only cpu --cpu-rows 2000000    one benchmark, another size
 *   npm run bench -- --only fleet     1000 tenants × 3 streams on 3 replicas of `pstn-connector run`
 *
 * Uses KAFKA_BROKERS and SCHEMA_REGISTRY_URL when both are set, else the local stack (stackUp),
 * stopped afterwards if this run started it. Writes bench/results/results.json and RESULTS.md
 * (results-quick.json and RESULTS-QUICK.md with --quick) and prints the table.
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { IMAGE_ENVIRONMENT, IMAGE_NODE_FLAGS } from "../src/runtime-flags.js";
import { stackDown, stackUp } from "../tools/stack/index.js";
import { buildWorker, removeBuild } from "./lib/build.js";
import { kcatVersion } from "./lib/ceilings.js";
import { installSignalHandlers, isStopping, onCleanup, runCleanups } from "./lib/cleanup.js";
import type { Endpoints } from "./lib/connector.js";
import { fleet } from "./lib/fleet.js";
import { lockRuns } from "./lib/lock.js";
import { describeMachine } from "./lib/machine.js";
import { type Report, table, writeReport } from "./lib/report.js";
import { runInWorker } from "./lib/workers.js";

const BENCHMARKS = ["cpu", "graph", "memory", "requests", "fleet"] as const;
type Benchmark = (typeof BENCHMARKS)[number];
/** What `npm run bench` runs without --only: the fleet (long, and heavy on the shared Kafka) only when asked. */
const DEFAULT_BENCHMARKS: Benchmark[] = ["cpu", "graph", "memory", "requests"];
const TITLES: Record<Benchmark, string> = {
  cpu: "cpu-bound pipeline",
  graph: "graph-bound backfill",
  memory: "memory",
  requests: "graph requests per row",
  fleet: "fleet",
};
const SIZES = {
  full: {
    cpu: 1_000_000,
    graph: 630,
    memory: 10_000_000,
    requests: 20,
    cpuRounds: 3,
    fleet: { tenants: 1000, replicas: 3, durationSeconds: 600 },
  },
  quick: {
    cpu: 200_000,
    graph: 60,
    memory: 1_000_000,
    requests: 4,
    cpuRounds: 1,
    fleet: { tenants: 100, replicas: 2, durationSeconds: 120 },
  },
};

const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    "cpu-rows": { type: "string" },
    "graph-pages": { type: "string" },
    "memory-rows": { type: "string" },
    "dense-days": { type: "string" },
    "max-batch-rows": { type: "string" },
    "cpu-rounds": { type: "string" },
    profile: { type: "boolean", default: false },
    "node-flags": { type: "string" },
    "fleet-tenants": { type: "string" },
    "fleet-replicas": { type: "string" },
    "fleet-duration": { type: "string" },
    "fleet-poll-interval": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "usage: npm run bench -- [--quick] [--only cpu,graph,memory,requests,fleet] [--cpu-rows N] [--graph-pages N] [--memory-rows N] [--dense-days N] [--cpu-rounds N] [--max-batch-rows N] [--profile] [--node-flags='--flag ...'] [--fleet-tenants N] [--fleet-replicas R] [--fleet-duration <s>] [--fleet-poll-interval <s>]\n",
  );
  process.exit(0);
}
const size = (name: string, text: string | undefined, fallback: number) => {
  if (text === undefined) return fallback;
  const n = Number(text.replaceAll("_", ""));
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`--${name}: "${text}" is not a positive whole number`);
  return n;
};
const defaults = values.quick ? SIZES.quick : SIZES.full;
const sizes = {
  cpu: size("cpu-rows", values["cpu-rows"], defaults.cpu),
  graph: size("graph-pages", values["graph-pages"], defaults.graph),
  memory: size("memory-rows", values["memory-rows"], defaults.memory),
  requests: size("dense-days", values["dense-days"], defaults.requests),
};
const fleetSize = {
  tenants: size("fleet-tenants", values["fleet-tenants"], defaults.fleet.tenants),
  replicas: size("fleet-replicas", values["fleet-replicas"], defaults.fleet.replicas),
  durationSeconds: size("fleet-duration", values["fleet-duration"], defaults.fleet.durationSeconds),
  pollIntervalSeconds: size("fleet-poll-interval", values["fleet-poll-interval"], 60),
};
const cpuRounds = size("cpu-rounds", values["cpu-rounds"], defaults.cpuRounds);
const only = (values.only?.split(",").map((s) => s.trim()) ?? [...DEFAULT_BENCHMARKS]) as Benchmark[];
for (const name of only) {
  if (!BENCHMARKS.includes(name)) throw new Error(`--only: "${name}" is not one of ${BENCHMARKS.join(", ")}`);
}
const maxBatchRows = values["max-batch-rows"]
  ? size("max-batch-rows", values["max-batch-rows"], 0)
  : undefined;
const custom =
  values.only !== undefined ||
  values["cpu-rows"] ||
  values["graph-pages"] ||
  values["memory-rows"] ||
  values["dense-days"] ||
  values["cpu-rounds"] ||
  maxBatchRows !== undefined ||
  values.profile ||
  values["node-flags"] !== undefined ||
  values["fleet-tenants"] !== undefined ||
  values["fleet-replicas"] !== undefined ||
  values["fleet-duration"] !== undefined ||
  values["fleet-poll-interval"] !== undefined;
const mode = values.quick ? "quick" : custom ? "custom" : "full";
const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(" ")}` : ""}`;
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

installSignalHandlers();
onCleanup(await lockRuns(log));
const began = performance.now();
const date = new Date().toISOString();
const kcat = kcatVersion();
if (!kcat) log("kcat is not installed: the kcat ceiling will be skipped (apt-get install -y kcat)");

let endpoints: Endpoints;
let kafkaVersion: string;
if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL) {
  endpoints = { brokers: process.env.KAFKA_BROKERS.split(","), registryUrl: process.env.SCHEMA_REGISTRY_URL };
  kafkaVersion = "external (KAFKA_BROKERS)";
} else {
  const stack = await stackUp({ progress: (line) => log(`stack: ${line}`) });
  endpoints = { brokers: stack.brokers, registryUrl: stack.registryUrl };
  kafkaVersion = `${stack.state.kafkaVersion} (local stack, ${stack.state.nodes} node${stack.state.nodes > 1 ? "s" : ""})`;
  if (!stack.reused) onCleanup(() => stackDown({ nodes: stack.state.nodes === 3 ? 3 : 1 }));
  log(`stack ${stack.reused ? "reused" : "started"}: ${stack.brokers.join(",")}, ${stack.registryUrl}`);
}

const report: Report = {
  command,
  date,
  source: sourceVersion(),
  machine: describeMachine(kafkaVersion, kcat),
  mode,
  elapsedSeconds: 0,
  results: [],
  errors: [],
};
try {
  // The fleet runs the CLI as built by `npm run build`; the others run in a compiled worker.
  const needsWorker = only.some((name) => name !== "fleet");
  if (needsWorker) log("compiling the worker");
  onCleanup(removeBuild);
  const worker = needsWorker ? await buildWorker() : "";
  for (const name of only) {
    if (isStopping()) break;
    const started = new Date().toISOString();
    try {
      // Another load on this machine (e.g. the crash loop on the same Kafka) disturbs the figures.
      const loadAverage = loadavg()[0]?.toFixed(2);
      // The memory and fleet benchmarks run the connector as the image does (its V8 flags and
      // environment), the others as `npx` does.
      const asImage = name === "memory" || name === "fleet";
      const env: Record<string, string> = asImage ? { ...IMAGE_ENVIRONMENT } : {};
      const nodeFlags =
        values["node-flags"] !== undefined
          ? values["node-flags"].split(/\s+/).filter(Boolean)
          : asImage
            ? [...IMAGE_NODE_FLAGS]
            : [];
      const result =
        name === "fleet"
          ? // Its replicas are processes of their own, measured from outside: it runs in this one.
            await fleet({ ...fleetSize, endpoints, nodeFlags, env, log })
          : await runInWorker(worker, {
              benchmark: name,
              size: sizes[name],
              endpoints,
              kcat,
              maxBatchRows,
              profile: values.profile,
              rounds: cpuRounds,
              env,
              nodeFlags,
            });
      report.results.push({
        ...result,
        command,
        source: report.source,
        date: started,
        loadAverageBefore: Number(loadAverage),
      });
      log(`${result.benchmark} done in ${result.elapsedSeconds} s`);
    } catch (error) {
      if (isStopping()) break;
      const message = error instanceof Error ? error.message : String(error);
      report.errors.push({ benchmark: TITLES[name], error: message });
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
    }
  }
} finally {
  await runCleanups();
}
// Stopped by a signal: the handler exits once the cleanups are done; nothing is written.
if (isStopping()) await new Promise(() => undefined);
report.elapsedSeconds = Math.round((performance.now() - began) / 1000);
const files = writeReport(report, values.quick ? "results-quick" : "results");
process.stdout.write(`${table(report)}\n\nwrote ${files.join(", ")}\n`);
process.exitCode = report.errors.length > 0 ? 1 : 0;

/** The code measured: the commit, and whether src/ had changes not committed yet. */
function sourceVersion(): string {
  const git = (...args: string[]) => spawnSync("git", args, { encoding: "utf8" }).stdout?.trim() ?? "";
  const commit = git("rev-parse", "--short", "HEAD") || "unknown";
  return git("status", "--porcelain", "--", "src") ? `${commit} + uncommitted changes in src/` : commit;
}
