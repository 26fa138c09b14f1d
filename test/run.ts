/**
 * The test command's driver: starts the local stack once for the whole run (unless the caller gave
 * KAFKA_BROKERS and SCHEMA_REGISTRY_URL, or PSTN_TEST_STACK picks another stack), runs the suites
 * with Node's test runner, and stops the stack again if it started it.
 *
 *   tsx test/run.ts [unit] [integration] [e2e] [faults] [ops] [stack]     (default: all)
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stackDown, stackUp } from "../tools/stack/index.js";

const SUITES = ["unit", "integration", "e2e", "faults", "ops", "stack"] as const;
type Suite = (typeof SUITES)[number];
const NEEDS_SHARED_STACK: ReadonlySet<Suite> = new Set(["integration", "e2e", "faults", "ops"]);

const root = fileURLToPath(new URL("..", import.meta.url));

function testFiles(suite: Suite): string[] {
  const dir = join(root, "test", suite);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".test.ts"))
    .map((file) => relative(root, join(dir, file)))
    .sort();
}

function runNodeTests(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files], {
      cwd: root,
      env,
      stdio: "inherit",
    });
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
  try {
    return await runNodeTests(files, env);
  } finally {
    if (stopStack) await stackDown({ nodes: 1 });
  }
}

process.exitCode = await main();
