/**
 * The Dockerfile without a Docker engine: parsed and checked (stages, non-root user, healthcheck,
 * entry point, what the runtime stage copies, the tools target, .dockerignore), linted by hadolint
 * where installed, and its runtime stage executed by hand: the files it copies plus its
 * `npm ci --omit=dev`, in a temporary folder, then `check`, `run`, the HEALTHCHECK command and SIGTERM
 * from that folder against the simulator of the clone, and the tool commands refused there.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { TOOL_COMMAND_NAMES, toolMissingLine } from "../../src/cli/tool-commands.js";
import { DEFAULTS } from "../../src/config/variables.js";
import { IMAGE_ENVIRONMENT, IMAGE_NODE_FLAGS } from "../../src/runtime-flags.js";
import { CliProcess, type CliResult, cleanEnv, parseEnvLines } from "../support/cli.js";
import { waitFor } from "../support/connector.js";
import { uniqueName } from "../support/kafka.js";
import { freePort, waitForMetric } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";
import { hasCommand, ROOT, repoPath, runTool } from "./lib.js";

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions of a Dockerfile: continuation lines joined, comments dropped. */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("#") || (line === "" && current === "")) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push((current + line).trim());
    current = "";
  }
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical.filter((l) => l !== "")) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    if (instruction.keyword === "FROM") {
      const [image = "", as, name] = rest;
      stages.push({ from: image, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      globalArgs.push(instruction);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args: globalArgs, stages };
}

function jsonForm(args: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(parsed), `exec form (a JSON array): ${args}`);
  return parsed as string[];
}

/** COPY's flags and operands: sources then destination. */
function copyOperands(args: string): { from: string | undefined; sources: string[]; destination: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith("--"));
  const operands = words.filter((w) => !w.startsWith("--"));
  const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
  return { from, sources: operands.slice(0, -1), destination: operands.at(-1) ?? "" };
}

const clean = (path: string): string => path.replace(/^\.\//, "").replace(/\/$/, "");

describe("Dockerfile", () => {
  const text = readFileSync(repoPath("Dockerfile"), "utf8");
  const { args, stages } = parseDockerfile(text);
  const build = stages.find((s) => s.name === "build");
  const tools = stages.find((s) => s.name === "tools");
  const runtime = stages.at(-1);
  const all = (stage: Stage | undefined, keyword: string) =>
    (stage?.instructions ?? []).filter((i) => i.keyword === keyword);
  const last = (stage: Stage | undefined, keyword: string) => all(stage, keyword).at(-1)?.args;

  test("Node 24 slim, pinned by digest: build, tools on top of it, then runtime (the default target)", () => {
    assert.deepEqual(
      stages.map((s) => s.name),
      ["build", "tools", "runtime"],
    );
    assert.equal(tools?.from, "build", "the tools image is the build stage as is");
    const nodeImage = args
      .find((a) => a.keyword === "ARG" && a.args.startsWith("NODE_IMAGE="))
      ?.args.split("=")[1];
    assert.match(nodeImage ?? "", /^node:24(\.\d+)*-(bookworm-)?slim@sha256:[0-9a-f]{64}$/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's own variable syntax
    for (const stage of [build, runtime]) assert.equal(stage?.from, "${NODE_IMAGE}");
  });

  test("the build stage installs with npm ci (scripts off: prepare would build too early) and builds", () => {
    const runs = all(build, "RUN").map((r) => r.args);
    assert.ok(runs.some((r) => /^npm ci\b.*--ignore-scripts/.test(r)));
    assert.ok(runs.some((r) => r === "npm run build"));
    const sources = all(build, "COPY").flatMap((c) => copyOperands(c.args).sources.map(clean));
    for (const dir of ["src", "tools", "schemas"]) assert.ok(sources.includes(dir), `build copies ${dir}`);
  });

  test("the tools target: the build's dist/tools and dev dependencies, the same bin, as uid 1000", () => {
    const instructions = tools?.instructions ?? [];
    assert.ok(!instructions.some((i) => i.keyword === "COPY"), "nothing beyond what the build stage holds");
    const runs = instructions.filter((i) => i.keyword === "RUN").map((r) => r.args);
    assert.ok(!runs.some((r) => /--omit=dev|npm prune/.test(r)), "dev dependencies kept (selfsigned)");
    assert.ok(
      runs.some((r) => /chown 1000:1000 \/shared/.test(r)),
      "the CA volume is writable by the simulator",
    );
    const userAt = instructions.findLastIndex((i) => i.keyword === "USER");
    assert.ok(userAt > instructions.findLastIndex((i) => i.keyword === "RUN"), "USER after the last RUN");
    assert.equal(instructions[userAt]?.args, "1000:1000");
    const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { bin: Record<string, string> };
    assert.deepEqual(jsonForm(last(tools, "ENTRYPOINT") ?? ""), ["node", pkg.bin["pstn-connector"]]);
  });

  test("the runtime stage ships dist/src, schemas/, package.json and production dependencies only", () => {
    const runs = all(runtime, "RUN").map((r) => r.args);
    assert.ok(
      runs.some((r) => /^npm ci --omit=dev --ignore-scripts\b/.test(r)),
      "production dependencies only",
    );
    const copies = all(runtime, "COPY").map((c) => copyOperands(c.args));
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources.map(clean));
    assert.deepEqual(fromContext.sort(), ["package-lock.json", "package.json", "schemas"]);
    const fromBuild = copies.filter((c) => c.from !== undefined);
    assert.deepEqual(
      fromBuild.map((c) => [c.from, c.sources.join(" "), clean(c.destination)]),
      [["build", "/app/dist/src", "dist/src"]],
    );
    for (const copy of copies) {
      for (const source of copy.sources) {
        assert.doesNotMatch(
          source,
          /node_modules|^\.?\/?src\b|test|bench|tsconfig|tools|simulator|stack|demo/,
          `runtime copies ${source}`,
        );
      }
    }
  });

  test("a numeric non-root USER after the last RUN; entry point = package.json's bin, CMD run, STOPSIGNAL SIGTERM", () => {
    const instructions = runtime?.instructions ?? [];
    const userAt = instructions.findLastIndex((i) => i.keyword === "USER");
    const lastRunAt = instructions.findLastIndex((i) => i.keyword === "RUN");
    assert.ok(userAt > lastRunAt, "USER comes after the last RUN");
    const user = instructions[userAt]?.args ?? "";
    assert.match(user, /^\d+(:\d+)?$/, "numeric, so Kubernetes' runAsNonRoot can verify it");
    assert.notEqual(user.split(":")[0], "0");

    const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { bin: Record<string, string> };
    assert.deepEqual(jsonForm(last(runtime, "ENTRYPOINT") ?? ""), [
      "node",
      ...IMAGE_NODE_FLAGS,
      pkg.bin["pstn-connector"],
    ]);
    assert.deepEqual(jsonForm(last(runtime, "CMD") ?? ""), ["run"]);
    assert.equal(last(runtime, "STOPSIGNAL"), "SIGTERM");
    assert.equal(last(runtime, "EXPOSE"), DEFAULTS.METRICS_PORT);
  });

  test("the runtime stage sets the image's environment (src/runtime-flags.ts) and NODE_ENV=production", () => {
    const set = new Map<string, string>();
    for (const { args } of all(runtime, "ENV")) {
      for (const pair of args.split(/\s+/)) {
        const at = pair.indexOf("=");
        if (at > 0) set.set(pair.slice(0, at), pair.slice(at + 1));
      }
    }
    for (const [name, value] of Object.entries({ ...IMAGE_ENVIRONMENT, NODE_ENV: "production" })) {
      assert.equal(set.get(name), value, `ENV ${name}`);
    }
  });

  test("HEALTHCHECK: node itself fetching /healthz on METRICS_PORT", () => {
    const healthcheck = last(runtime, "HEALTHCHECK") ?? "";
    const cmd = /\bCMD\s+(\[.*\])$/.exec(healthcheck)?.[1];
    assert.ok(cmd, "HEALTHCHECK ... CMD [exec form]");
    const command = jsonForm(cmd);
    assert.equal(command[0], "node");
    assert.match(command.join(" "), /process\.env\.METRICS_PORT\|\|9464.*\/healthz/);
    assert.match(healthcheck, /--interval=\d+s/);
  });

  test(".dockerignore is an allow-list that admits every COPY source and nothing of the work tree", () => {
    const patterns = readFileSync(repoPath(".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    assert.equal(patterns[0], "*", "everything excluded first");
    const allowed = new Set(patterns.filter((p) => p.startsWith("!")).map((p) => clean(p.slice(1))));
    const contextSources = stages
      .flatMap((s) => all(s, "COPY"))
      .map((c) => copyOperands(c.args))
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources.map(clean));
    for (const source of contextSources) assert.ok(allowed.has(source), `${source} is in the build context`);
    for (const never of ["node_modules", "dist", ".git", ".cache", "test", "bench", ".env"]) {
      assert.ok(!allowed.has(never), `${never} stays out of the build context`);
    }
  });

  test("hadolint finds nothing", {
    skip: !hasCommand("hadolint") && "hadolint is not installed",
  }, async () => {
    const result = await runTool("hadolint", ["Dockerfile"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });
});

describe("the Dockerfile's runtime stage, assembled without Docker, runs the connector", () => {
  const { stages } = parseDockerfile(readFileSync(repoPath("Dockerfile"), "utf8"));
  const runtime = stages.at(-1) as Stage;
  let app: string;
  let work: string;
  let stack: TestStack;
  const children: Array<{ kill(signal: NodeJS.Signals): void; done: Promise<CliResult> }> = [];

  /** A process from the assembled image: ENTRYPOINT + args, in WORKDIR. */
  function imageProcess(argv: string[], env: NodeJS.ProcessEnv) {
    const entrypoint = jsonForm(runtime.instructions.findLast((i) => i.keyword === "ENTRYPOINT")?.args ?? "");
    // The image's own V8 flags included: the connector runs here as it runs there.
    const child = spawn(process.execPath, [...entrypoint.slice(1), ...argv], { cwd: app, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    const handle = {
      get stdout() {
        return stdout;
      },
      get stderr() {
        return stderr;
      },
      kill: (signal: NodeJS.Signals) => child.kill(signal),
      done: new Promise<CliResult>((resolvePromise) =>
        child.on("close", (code, signal) => resolvePromise({ code, signal, stdout, stderr })),
      ),
    };
    children.push(handle);
    return handle;
  }

  before(async () => {
    stack = await startTestStack();
    work = await mkdtemp(join(tmpdir(), "pstn-image-"));
    // WORKDIR of the runtime stage.
    app = join(work, "app");
    for (const instruction of runtime.instructions) {
      if (instruction.keyword === "WORKDIR") {
        assert.equal(instruction.args, "/app");
        await mkdir(app, { recursive: true });
      } else if (instruction.keyword === "COPY") {
        const copy = copyOperands(instruction.args);
        for (const source of copy.sources) {
          // The build stage's WORKDIR /app is the repository, built before the tests.
          const from =
            copy.from === "build" ? join(ROOT, source.replace(/^\/app\//, "")) : join(ROOT, source);
          const target = copy.destination.endsWith("/")
            ? join(app, copy.destination, source.split("/").at(-1) ?? "")
            : join(app, copy.destination);
          await mkdir(dirname(target), { recursive: true });
          await cp(from, target, { recursive: true });
        }
      } else if (instruction.keyword === "RUN") {
        // Only the npm part: the rest (cache clean, /shared) touches the image's system folders.
        const npm = instruction.args
          .split("&&")
          .map((s) => s.trim())
          .find((s) => s.startsWith("npm ci"));
        if (!npm) continue;
        const [command, ...npmArgs] = npm.split(/\s+/);
        const result = await runTool(command ?? "npm", [...npmArgs, "--prefer-offline"], {
          cwd: app,
          timeoutMs: 180_000,
        });
        assert.equal(result.code, 0, result.stderr);
      }
    }
  });
  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(children.map((c) => c.done));
    if (work) await rm(work, { recursive: true, force: true });
    await stack?.stop();
  });

  test("the image holds dist/src, schemas, package files and production node_modules, no dev tooling", () => {
    assert.deepEqual(readdirSync(app).sort(), [
      "dist",
      "node_modules",
      "package-lock.json",
      "package.json",
      "schemas",
    ]);
    assert.deepEqual(readdirSync(join(app, "dist")), ["src"]);
    const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    for (const dev of Object.keys(pkg.devDependencies).filter((d) => d !== "@types/node")) {
      assert.ok(!existsSync(join(app, "node_modules", dev)), `${dev} is not shipped`);
    }
    assert.ok(!existsSync(join(app, "node_modules", ".bin", "tsc")), "no TypeScript compiler");
  });

  test("the tool commands are refused there with one line and exit 2; --help lists none of them", async () => {
    const help = await imageProcess(["--help"], cleanEnv({})).done;
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^ {2}check /m, "the runtime commands are listed");
    for (const name of TOOL_COMMAND_NAMES) {
      assert.doesNotMatch(help.stdout, new RegExp(`^ {2}${name} `, "m"), `--help lists ${name}`);
      const result = await imageProcess([name, "--help"], cleanEnv({})).done;
      assert.equal(result.code, 2, name);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr, toolMissingLine(name));
    }
  });

  test("check and run work from it against the clone's simulator; the HEALTHCHECK passes; SIGTERM (STOPSIGNAL) exits 0", async () => {
    // The simulator is a tool: it runs from the clone's build, the connector from the assembled image.
    const simulator = new CliProcess(
      ["simulate", "--port", "0", "--history", "1d", "--ca-out", join(work, "simulator-ca.pem")],
      cleanEnv({}),
    );
    children.push(simulator);
    await waitFor(
      "the simulator's settings",
      () => simulator.stdout.includes("NODE_EXTRA_CA_CERTS="),
      30_000,
    );
    const env = cleanEnv({
      ...parseEnvLines(simulator.stdout),
      KAFKA_BROKERS: stack.brokers.join(","),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      KAFKA_TOPIC: uniqueName("image-calls"),
      ...IMAGE_ENVIRONMENT,
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
    });

    const check = imageProcess(["check"], env);
    const checked = await check.done;
    assert.equal(checked.code, 0, checked.stderr);

    const port = await freePort();
    const run = imageProcess(["run"], { ...env, METRICS_PORT: String(port), POLL_INTERVAL: "2s" });
    await waitForMetric(port, "pstn_connector_rows_published_total", (v) => v > 0, 60_000);

    const healthcheck = runtime.instructions.findLast((i) => i.keyword === "HEALTHCHECK")?.args ?? "";
    const cmd = /\bCMD\s+(\[.*\])$/.exec(healthcheck)?.[1];
    assert.ok(cmd);
    const [node, ...healthArgs] = jsonForm(cmd);
    assert.equal(node, "node");
    const healthy = await runTool(process.execPath, healthArgs, {
      env: { ...process.env, METRICS_PORT: String(port) },
    });
    assert.equal(healthy.code, 0, healthy.stderr);
    const wrongPort = await runTool(process.execPath, healthArgs, {
      env: { ...process.env, METRICS_PORT: String(await freePort()) },
    });
    assert.equal(wrongPort.code, 1, "nothing listening: unhealthy");

    run.kill("SIGTERM");
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    simulator.kill("SIGINT");
    await simulator.done;
    await sleep(0);
  });
});
