/**
 * The test command's driver: starts the local stack once for the whole run (unless the caller gave
 * KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or PSTN_TEST_STACK picks another stack), runs the suites
 * with Node's test runner under its built-in coverage, and stops the stack again if it started it.
 *
 *   tsx test/run.ts [unit] [integration] [e2e] [faults] [ops] [stack]     (default: all)
 *
 * PSTN_TEST_COVERAGE=0 runs the suites without coverage.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, matchesGlob, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stackDown, stackUp } from "../tools/stack/index.js";

const SUITES = ["unit", "integration", "e2e", "faults", "ops", "stack"] as const;
type Suite = (typeof SUITES)[number];
const NEEDS_SHARED_STACK: ReadonlySet<Suite> = new Set(["integration", "e2e", "faults", "ops"]);

const root = fileURLToPath(new URL("..", import.meta.url));

/** Percentage of lines of the connector's own code that a full run must execute. */
const COVERAGE_FLOOR_LINES = 85;

/**
 * The connector's own code: src/ as the unit and integration tests load it through tsx, and the
 * built dist/src/ that e2e and faults tests start as processes. Node propagates NODE_V8_COVERAGE
 * to those processes even when a test replaces their environment, and with --enable-source-maps
 * the runner maps dist/src/x.js back to src/x.ts, so both count in one figure per source file.
 * The include globs match the path a script was loaded from, hence both trees; the exclude globs
 * are matched after the mapping too, hence both forms of each tool's path.
 *
 * For a file both loaded through tsx and run from dist/, Node's merge keeps, line by line, the view
 * of the process it reads last (the two compilations' functions do not match up), so the figure is
 * a lower bound of the lines some process ran: a line a unit test ran can show as uncovered.
 */
const COVERAGE_INCLUDE = ["src/**", "dist/src/**"];
/** What is not the connector: the tools (simulator, stack, demo), the tests, the benchmarks. */
const COVERAGE_EXCLUDE = [
  ...["tools", "test", "bench", "scripts"].flatMap((dir) => [`${dir}/**`, `dist/${dir}/**`]),
  "**/node_modules/**",
];

function testFiles(suite: Suite): string[] {
  const dir = join(root, "test", suite);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".test.ts"))
    .map((file) => relative(root, join(dir, file)))
    .sort();
}

interface Coverage {
  /** A directory of this run's own, removed at the end. */
  dir: string;
  /** Where Node's lcov reporter writes the per-file counts that the summary line adds up. */
  lcovFile: string;
  /** The floor in % of lines, enforced by Node and by the summary line; undefined: reported only. */
  floor: number | undefined;
}

function coverageArgs(coverage: Coverage | undefined): string[] {
  if (coverage === undefined) return ["--test-reporter=spec"];
  return [
    "--enable-source-maps",
    "--experimental-test-coverage",
    ...COVERAGE_INCLUDE.map((glob) => `--test-coverage-include=${glob}`),
    ...COVERAGE_EXCLUDE.map((glob) => `--test-coverage-exclude=${glob}`),
    ...(coverage.floor === undefined ? [] : [`--test-coverage-lines=${coverage.floor}`]),
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=lcov",
    `--test-reporter-destination=${coverage.lcovFile}`,
  ];
}

/** Lines found and hit per source file, from an lcov report. */
function readLcov(file: string): Map<string, { found: number; hit: number }> {
  const files = new Map<string, { found: number; hit: number }>();
  if (!existsSync(file)) return files;
  let current: { found: number; hit: number } | undefined;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.startsWith("SF:")) {
      current = { found: 0, hit: 0 };
      files.set(line.slice(3), current);
    } else if (current && line.startsWith("LF:")) current.found = Number(line.slice(3));
    else if (current && line.startsWith("LH:")) current.hit = Number(line.slice(3));
  }
  return files;
}

/** The connector's own source files, as the coverage report names them. */
function ownSourceFiles(): string[] {
  return readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => relative(root, join(root, "src", file)))
    .filter((file) => !COVERAGE_EXCLUDE.some((glob) => matchesGlob(file, glob)))
    .sort();
}

/**
 * The summary line at the end of the log; false when a floor applies and the figure is below it.
 * Node reports only the files some process loaded, so an own file that no test loads counts here
 * with all its lines uncovered (Node counts every line of a source-mapped file) and is named.
 */
function reportCoverage(coverage: Coverage): boolean {
  const loaded = readLcov(coverage.lcovFile);
  if (loaded.size === 0) {
    process.stderr.write("coverage: no lines of src/ measured\n");
    return coverage.floor === undefined;
  }
  let found = 0;
  let hit = 0;
  for (const counts of loaded.values()) {
    found += counts.found;
    hit += counts.hit;
  }
  const neverLoaded = ownSourceFiles().filter((file) => !loaded.has(file));
  for (const file of neverLoaded) {
    found += readFileSync(join(root, file), "utf8").replace(/\n$/, "").split("\n").length;
  }
  const percent = (100 * hit) / found;
  const below = coverage.floor !== undefined && percent < coverage.floor;
  const floor =
    coverage.floor === undefined
      ? `floor ${COVERAGE_FLOOR_LINES}% applies to a full run only`
      : `floor ${coverage.floor}%${below ? ": BELOW THE FLOOR" : ""}`;
  const count = loaded.size + neverLoaded.length;
  process.stderr.write(
    `coverage: ${percent.toFixed(1)}% of lines in src/ (${hit} of ${found} in ${count} files, ${neverLoaded.length} never loaded; ${floor})\n`,
  );
  // A subset of suites leaves files unloaded by design; in a full run each one is a gap to name.
  if (coverage.floor !== undefined && neverLoaded.length > 0)
    process.stderr.write(`coverage: never loaded, counted as 0%: ${neverLoaded.join(" ")}\n`);
  return !below;
}

function runNodeTests(
  files: string[],
  env: NodeJS.ProcessEnv,
  coverage: Coverage | undefined,
): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--test", ...coverageArgs(coverage), ...files],
      {
        cwd: root,
        env,
        stdio: "inherit",
      },
    );
    child.on("close", (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const asked = process.argv.slice(2);
  // CI machines may have an older Node on PATH; the log says which one the suites run on.
  process.stderr.write(`test/run: node ${process.version}\n`);
  for (const name of asked) {
    if (!SUITES.includes(name as Suite)) {
      process.stderr.write(`unknown suite "${name}"; choose from ${SUITES.join(", ")}\n`);
      return 2;
    }
  }
  const suites = (asked.length > 0 ? asked : SUITES) as Suite[];
  const files = suites.flatMap(testFiles);
  if (files.length === 0) {
    process.stderr.write("no test files found\n");
    return 1;
  }

  const env = { ...process.env };
  const local = (env.PSTN_TEST_STACK ?? "local") === "local";
  const wantsStack = suites.some((suite) => NEEDS_SHARED_STACK.has(suite));
  let stopStack = false;
  if (local && wantsStack && !(env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL)) {
    const started = Date.now();
    const info = await stackUp({ progress: (message) => process.stderr.write(`stack: ${message}\n`) });
    process.stderr.write(
      `stack: ${info.reused ? "reusing" : "started"} ${info.brokers.join(",")} and ${info.registryUrl} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    env.KAFKA_BROKERS = info.brokers.join(",");
    env.SCHEMA_REGISTRY_URL = info.registryUrl;
    stopStack = !info.reused;
  }
  let coverage: Coverage | undefined;
  if (env.PSTN_TEST_COVERAGE !== "0") {
    // Only all suites together reach the floor; a subset still gets its figure.
    const full = SUITES.every((suite) => suites.includes(suite));
    const dir = mkdtempSync(join(tmpdir(), "pstn-coverage-"));
    coverage = { dir, lcovFile: join(dir, "lcov.info"), floor: full ? COVERAGE_FLOOR_LINES : undefined };
  }
  try {
    const code = await runNodeTests(files, env, coverage);
    if (coverage === undefined) return code;
    const reached = reportCoverage(coverage);
    return code !== 0 ? code : reached ? 0 : 1;
  } finally {
    if (coverage) rmSync(coverage.dir, { recursive: true, force: true });
    if (stopStack) await stackDown({ nodes: 1 });
  }
}

process.exitCode = await main();
