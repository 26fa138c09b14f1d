/**
 * Helpers of the operations tests: run the real tools (promtool, prometheus, docker-compose, yamllint,
 * kubectl, hadolint), read YAML through PyYAML (what docker-compose itself uses; the project has no
 * YAML package), and turn alert and dashboard expressions into queries that must return data.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { CliProcess, CliResult } from "../support/cli.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const repoPath = (...parts: string[]): string => join(ROOT, ...parts);

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`), never throwing on a non-zero exit. */
export function runTool(
  command: string,
  args: readonly string[],
  options: { cwd?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      command,
      args,
      {
        cwd: options.cwd ?? ROOT,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
        env: options.env ?? process.env,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Whether `command` is on PATH. */
export function hasCommand(command: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => dir !== "" && existsSync(join(dir, command)));
}

/**
 * A Python with PyYAML: Debian's (python3-yaml, which docker-compose and yamllint depend on, so
 * .ci/run's installs bring it) or the first `python3` on PATH.
 */
function pythonWithYaml(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

const YAML_TO_JSON =
  "import json,sys,yaml\n" +
  "docs=[d for d in yaml.safe_load_all(open(sys.argv[1],encoding='utf-8')) if d is not None]\n" +
  "json.dump(docs,sys.stdout)";

/** Every document of a YAML file, as JSON values (PyYAML's safe loader: YAML 1.1 scalars). */
export async function readYamlDocuments(file: string): Promise<unknown[]> {
  const result = await runTool(pythonWithYaml(), ["-c", YAML_TO_JSON, file]);
  if (result.code !== 0) throw new Error(`reading ${file} as YAML failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as unknown[];
}

export async function readYaml<T>(file: string): Promise<T> {
  const docs = await readYamlDocuments(file);
  if (docs.length !== 1) throw new Error(`${file}: expected one YAML document, found ${docs.length}`);
  return docs[0] as T;
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

// ---- Prometheus rules and Grafana dashboards --------------------------------------------------------

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleFile {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}

export async function alertRules(): Promise<AlertRule[]> {
  const file = await readYaml<RuleFile>(repoPath("deploy/prometheus/alerts.yml"));
  return file.groups.flatMap((group) => group.rules);
}

/**
 * An alert expression without its thresholds: every comparison against a number literal is dropped
 * (`A > 0.2` → `A`, `A > 900 and B <= 0` → `A and B`, `A > 0 unless B > 0` → `A unless B`), and an
 * `absent(X)` becomes `X`. What is left is the series the alert watches, which must hold data on a
 * running connector whether the alert fires or not. Comparisons are written with spaces around the
 * operator in alerts.yml; label matchers (`job=~"..."`) have none, so they are left alone.
 */
export function withoutThresholds(expr: string): string {
  let query = expr
    .replace(/\s+(?:==|!=|>=|<=|>|<)\s+(?:bool\s+)?-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?=\s|\)|$)/gi, "")
    .replace(/\s+/g, " ")
    .trim();
  const absent = /^absent\((.*)\)$/.exec(query);
  if (absent?.[1]) query = absent[1].trim();
  return query;
}

/**
 * The same query with the equality matchers on a value label (`{outcome="aborted"}`) removed: the
 * metric the rule watches, for rules about an outcome a healthy run does not produce.
 */
export function underlyingSeries(query: string): string {
  return query.replace(/,?\s*(outcome|code|reason)=~?"[^"]*"/g, "").replace(/\{\s*,\s*/g, "{");
}

export interface DashboardTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type: string; uid: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown; definition?: string }> };
}

export function readDashboard(): Dashboard {
  return readJson<Dashboard>(repoPath("deploy/grafana/dashboards/pstn-connector.json"));
}

export function dashboardPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/**
 * A dashboard query as Prometheus takes it: Grafana's variables replaced by what Grafana would put
 * there (`$__rate_interval` at least four scrape intervals: 1m; `$__range`: the time range;
 * `$stream` and `$tenant`: their variable's "All", `.*`, unless one is given).
 */
export function grafanaToPromql(expr: string, job: string, stream = ".*", tenant = ".*"): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$__interval", "15s")
    .replaceAll("$__range", "5m")
    .replaceAll("$job", job)
    .replaceAll("$stream", stream)
    .replaceAll("$tenant", tenant);
}

// ---- A real Prometheus ---------------------------------------------------------------------------

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export class PrometheusServer {
  private readonly child: ChildProcess;
  private output = "";
  readonly url: string;

  constructor(config: string, storage: string, port: number) {
    this.url = `http://127.0.0.1:${port}`;
    this.child = spawn(
      "prometheus",
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${storage}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      this.output = (this.output + chunk).slice(-8000);
    });
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.output = (this.output + chunk).slice(-8000);
    });
  }

  get log(): string {
    return this.output;
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`prometheus exited: ${this.output}`);
      try {
        const response = await fetch(`${this.url}/-/ready`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus not ready in ${timeoutMs} ms: ${this.output}`);
      await sleep(200);
    }
  }

  async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const url = new URL(`${this.url}${path}`);
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    const response = await fetch(url);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  }

  /** An instant query; throws on a PromQL error. */
  async query(query: string): Promise<PromSample[]> {
    const data = await this.api<{ resultType: string; result: PromSample[] | [number, string] }>(
      "/api/v1/query",
      { query },
    );
    if (data.resultType === "scalar") return [{ metric: {}, value: data.result as [number, string] }];
    return data.result as PromSample[];
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolvePromise) => this.child.once("exit", () => resolvePromise()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

// ---- docker-compose.yml -------------------------------------------------------------------------

export interface ComposeService {
  image?: string;
  build?: string | { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string | null>;
  env_file?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  volumes?: string[];
  ports?: string[];
  profiles?: string[];
  read_only?: boolean;
  healthcheck?: { test: string[] };
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function readCompose(): Promise<ComposeFile> {
  return readYaml<ComposeFile>(repoPath("docker-compose.yml"));
}

export function service(compose: ComposeFile, name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** The value following `flag` in a command line. */
export function optionValue(args: readonly string[], flag: string): string {
  const at = args.indexOf(flag);
  const value = at === -1 ? undefined : args[at + 1];
  if (value === undefined) throw new Error(`no ${flag} in ${args.join(" ")}`);
  return value;
}

/** `args` with the values of the given flags replaced. */
export function withOptions(args: readonly string[], values: Record<string, string>): string[] {
  const out = [...args];
  for (const [flag, value] of Object.entries(values)) {
    const at = out.indexOf(flag);
    if (at === -1) throw new Error(`no ${flag} in ${args.join(" ")}`);
    out[at + 1] = value;
  }
  return out;
}

/** A compose environment as strings (a null value is passed through from the shell: left out). */
export function environmentOf(svc: ComposeService): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(svc.environment ?? {})) if (value !== null) env[name] = value;
  return env;
}

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
export function readEnvFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const text = line.trim();
    if (text === "" || text.startsWith("#")) continue;
    const at = text.indexOf("=");
    if (at <= 0) throw new Error(`${file}: not KEY=VALUE: ${line}`);
    env[text.slice(0, at)] = text.slice(at + 1);
  }
  return env;
}

/** Stops a CLI child: `signal` first, SIGKILL if it has not exited within `graceMs`. */
export async function stopCli(
  cli: CliProcess | undefined,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 20_000,
): Promise<CliResult | undefined> {
  if (!cli) return undefined;
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.kill(signal);
  const timer = setTimeout(() => cli.kill("SIGKILL"), graceMs);
  try {
    return await cli.done;
  } finally {
    clearTimeout(timer);
  }
}
