/**
 * A real Prometheus (the `prometheus` binary) scraping running connectors every second, loading
 * deploy/prometheus/alerts.yml, and answering every expression of the Grafana dashboard and of the
 * alert rules through its HTTP API. The connectors are `pstn-connector run` processes against the
 * simulator and the shared stack:
 *   - job pstn-connector: an active instance and a standby of the same identity (a simulator with
 *     throttling, 503s, token revocation and malformed rows, so that retries and dead letters exist);
 *   - job pstn-connector-badauth: an instance whose Entra ID endpoint does not answer (token errors);
 *   - job pstn-connector-fleet: two tenants from a tenants file, one of which Entra ID does not
 *     know (it stops alone: pstn_connector_unit_stopped).
 * An alert expression is evaluated without its thresholds (see withoutThresholds in lib.ts): the
 * series the rule watches must hold data, whether it fires or not. The one rule about an outcome a
 * healthy run never produces (aborted transactions) is evaluated on its underlying series.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { CliProcess, cleanEnv, parseEnvLines } from "../support/cli.js";
import { waitFor } from "../support/connector.js";
import { uniqueName } from "../support/kafka.js";
import { freePort, sampleOf, waitForMetric } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";
import {
  type AlertRule,
  alertRules,
  dashboardPanels,
  grafanaToPromql,
  PrometheusServer,
  type PromSample,
  readDashboard,
  repoPath,
  runTool,
  stopCli,
  underlyingSeries,
  withoutThresholds,
} from "./lib.js";

/** Rules about an outcome a healthy run does not produce: evaluated on the metric itself. */
const UNDERLYING_ONLY: Record<string, string> = {
  PstnConnectorTransactionsAborted: "no transaction aborts while the broker is healthy",
};

/**
 * The value of one exposition line: `series` with its labels, or a prefix ending in `{` for any
 * labelled series of a metric (the first one's value). Undefined when absent or unreachable.
 */
async function metricLine(port: number, series: string): Promise<number | undefined> {
  try {
    const response = await request(`http://127.0.0.1:${port}/metrics`, { headersTimeout: 2000 });
    return sampleOf(await response.body.text(), series);
  } catch {
    return undefined;
  }
}

describe("a real Prometheus scraping running connectors answers every dashboard and alert expression", () => {
  let stack: TestStack;
  let dir: string;
  let simulator: CliProcess | undefined;
  const connectors: CliProcess[] = [];
  let prometheus: PrometheusServer | undefined;
  const ports = { active: 0, standby: 0, badAuth: 0, fleet: 0 }; // active and standby as started
  let baseEnv: Record<string, string> = {};
  let topic = "";

  before(async () => {
    stack = await startTestStack();
    dir = await mkdtemp(join(tmpdir(), "pstn-prometheus-"));
    simulator = new CliProcess(
      [
        "simulate",
        "--port",
        "0",
        "--history",
        "2d",
        "--calls-per-hour",
        "300",
        "--throttle-rate",
        "0.1",
        "--unavailable-rate",
        "0.05",
        "--revoke-every",
        "25",
        "--malformed-rate",
        "0.01",
        "--extra-property-rate",
        "0.02",
        "--page-size",
        "500",
        "--client-secret",
        "s3cret",
        "--ca-out",
        join(dir, "simulator-ca.pem"),
      ],
      cleanEnv({}),
    );
    await waitFor(
      "the simulator's settings",
      () => simulator!.stdout.includes("NODE_EXTRA_CA_CERTS="),
      30_000,
    );
    baseEnv = {
      ...parseEnvLines(simulator.stdout),
      KAFKA_BROKERS: stack.brokers.join(","),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      CONNECTOR_START: "2d",
      POLL_INTERVAL: "2s",
      WINDOW_SLICE: "12h",
      LOG_LEVEL: "warn",
    };
    topic = uniqueName("prom-calls");
    ports.active = await freePort();
    ports.standby = await freePort();
    ports.badAuth = await freePort();
    ports.fleet = await freePort();

    // Prometheus first, so that it sees every counter move from the connectors' start on.
    const promPort = await freePort();
    const config = join(dir, "prometheus.yml");
    await writeFile(
      config,
      JSON.stringify({
        global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        rule_files: [repoPath("deploy/prometheus/alerts.yml")],
        scrape_configs: [
          {
            job_name: "pstn-connector",
            static_configs: [{ targets: [`127.0.0.1:${ports.active}`, `127.0.0.1:${ports.standby}`] }],
          },
          {
            job_name: "pstn-connector-badauth",
            static_configs: [{ targets: [`127.0.0.1:${ports.badAuth}`] }],
          },
          {
            job_name: "pstn-connector-fleet",
            static_configs: [{ targets: [`127.0.0.1:${ports.fleet}`] }],
          },
        ],
      }),
    );
    const checked = await runTool("promtool", ["check", "config", config]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    prometheus = new PrometheusServer(config, join(dir, "data"), promPort);
    await prometheus.ready();

    const active = new CliProcess(
      ["run"],
      cleanEnv({ ...baseEnv, KAFKA_TOPIC: topic, METRICS_PORT: String(ports.active) }),
    );
    connectors.push(active);
    await waitForMetric(ports.active, "pstn_connector_active", (v) => v === 1, 60_000, active);
    // Same identity: it stands by.
    const standby = new CliProcess(
      ["run"],
      cleanEnv({ ...baseEnv, KAFKA_TOPIC: topic, METRICS_PORT: String(ports.standby) }),
    );
    connectors.push(standby);
    // Entra ID does not answer: every token request fails, and is retried.
    const badAuth = new CliProcess(
      ["run"],
      cleanEnv({
        ...baseEnv,
        AZURE_AUTHORITY_HOST: `https://127.0.0.1:${await freePort()}`,
        KAFKA_TOPIC: uniqueName("prom-badauth"),
        METRICS_PORT: String(ports.badAuth),
      }),
    );
    connectors.push(badAuth);
    // Two tenants from a file: the simulator's, and one Entra ID does not know, which stops alone.
    const tenantsFile = join(dir, "tenants.yaml");
    await writeFile(tenantsFile, `tenants:\n  - id: ${baseEnv.AZURE_TENANT_ID}\n  - id: gone.example.com\n`);
    const { AZURE_TENANT_ID: _single, ...fleetEnv } = baseEnv;
    const fleet = new CliProcess(
      ["run"],
      cleanEnv({
        ...fleetEnv,
        CONNECTOR_TENANTS_FILE: tenantsFile,
        KAFKA_TOPIC: uniqueName("prom-fleet"),
        METRICS_PORT: String(ports.fleet),
      }),
    );
    connectors.push(fleet);

    // What the expressions need to exist: rows published, dead letters, Graph retries, one active
    // instance and one standby. A joining member can take the election over, so either may be the
    // active one now, and either may have published (dead letters are written once, by whichever).
    const replicas = [ports.active, ports.standby];
    const anyHas = async (series: string) =>
      (await Promise.all(replicas.map((p) => metricLine(p, series)))).some((v) => v !== undefined && v > 0);
    await waitFor(
      "rows published with dead letters and Graph retries, one instance active and one standing by",
      async () => {
        const states = await Promise.all(replicas.map((p) => metricLine(p, "pstn_connector_active")));
        return (
          [...states].sort().join() === "0,1" &&
          (await anyHas("pstn_connector_rows_published_total")) &&
          (await anyHas("pstn_connector_rows_dead_lettered_total")) &&
          (await anyHas("pstn_connector_graph_retries_total"))
        );
      },
      90_000,
    );
    await waitFor(
      "the fleet instance's unknown tenant stopped",
      async () => ((await metricLine(ports.fleet, "pstn_connector_unit_stopped")) ?? 0) > 0,
      60_000,
    );
    await waitFor(
      "token errors on the instance without Entra ID",
      async () =>
        ((await metricLine(ports.badAuth, 'pstn_connector_token_requests_total{outcome="error"}')) ?? 0) > 0,
      60_000,
    );
  });

  after(async () => {
    await prometheus?.stop();
    await Promise.all(connectors.map((c) => stopCli(c)));
    await stopCli(simulator, "SIGINT");
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Polls an instant query until it returns data (rates need a few scrapes); undefined if never. */
  async function queryUntilData(query: string, timeoutMs: number): Promise<PromSample[] | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await prometheus!.query(query);
      if (result.length > 0) return result;
      if (Date.now() > deadline) return undefined;
      await sleep(500);
    }
  }

  test("Prometheus scrapes the four instances", async () => {
    const up = await queryUntilData('sum(up{job=~"pstn-connector.*"}) == 4', 20_000);
    assert.ok(up, `four targets up: ${JSON.stringify(await prometheus!.query("up"))}`);
  });

  test("every dashboard expression returns data", async () => {
    const targets = dashboardPanels(readDashboard()).flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ panel: panel.title, refId: target.refId, expr: target.expr })),
    );
    assert.ok(targets.length >= 25);
    const empty: string[] = [];
    for (const target of targets) {
      const query = grafanaToPromql(target.expr, "pstn-connector.*");
      if (!(await queryUntilData(query, 30_000))) empty.push(`${target.panel} ${target.refId}: ${query}`);
    }
    assert.deepEqual(empty, [], "queries without data");
    // The job variable's own query.
    const jobs = await prometheus!.api<string[]>("/api/v1/label/job/values", {
      "match[]": "pstn_connector_process_start_time_seconds",
    });
    assert.deepEqual(jobs.sort(), ["pstn-connector", "pstn-connector-badauth", "pstn-connector-fleet"]);
  });

  test("every alert expression, without its thresholds, returns data", async () => {
    const rules: AlertRule[] = await alertRules();
    const empty: string[] = [];
    for (const rule of rules) {
      const query = withoutThresholds(rule.expr);
      assert.doesNotMatch(query, /\s(==|!=|>=|<=|>|<)\s+\d/, `${rule.alert}: thresholds left in ${query}`);
      if (rule.alert in UNDERLYING_ONLY) {
        await prometheus!.query(query); // valid PromQL, even while empty
        const underlying = underlyingSeries(query);
        assert.notEqual(underlying, query);
        if (!(await queryUntilData(underlying, 30_000)))
          empty.push(`${rule.alert} (underlying): ${underlying}`);
      } else if (!(await queryUntilData(query, 30_000))) {
        empty.push(`${rule.alert}: ${query}`);
      }
    }
    assert.deepEqual(empty, [], "alert expressions without data");
  });

  test("Prometheus loads and evaluates every rule without error; real failures make the right alerts active", async () => {
    const rules = await alertRules();
    let loaded: Array<{ name: string; health: string; lastError?: string; lastEvaluation: string }> = [];
    await waitFor(
      "every rule evaluated",
      async () => {
        const data = await prometheus!.api<{ groups: Array<{ rules: typeof loaded }> }>("/api/v1/rules");
        loaded = data.groups.flatMap((g) => g.rules);
        return loaded.length === rules.length && loaded.every((r) => !r.lastEvaluation.startsWith("0001"));
      },
      20_000,
    );
    for (const rule of loaded) assert.equal(rule.health, "ok", `${rule.name}: ${rule.lastError}`);

    const active = async () =>
      (
        await prometheus!.api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>(
          "/api/v1/alerts",
        )
      ).alerts;
    await waitFor(
      "token errors to make PstnConnectorAuthFailing pending for the job without Entra ID",
      async () =>
        (await active()).some(
          (a) =>
            a.labels.alertname === "PstnConnectorAuthFailing" && a.labels.job === "pstn-connector-badauth",
        ),
      30_000,
    );
    await waitFor(
      "dead letters to fire PstnConnectorDeadLetters",
      async () =>
        (await active()).some(
          (a) =>
            a.labels.alertname === "PstnConnectorDeadLetters" &&
            a.labels.job === "pstn-connector" &&
            a.state === "firing",
        ),
      30_000,
    );
    // Quiet on the healthy job. Pending alerts of the first seconds (a watermark gauge still 0 before
    // the first slice completes, targets not yet up) clear at the next evaluation once the condition
    // no longer holds, so these are waited for, not sampled once.
    const quiet: Array<[string, string, string]> = [
      ["PstnConnectorAuthFailing", "pstn-connector", "the healthy job gets its tokens"],
      ["PstnConnectorWatermarkStalled", "pstn-connector", "its watermark moves"],
      ["PstnConnectorSeveralActive", "pstn-connector", "one active, one standby"],
      ["PstnConnectorNoActiveInstance", "pstn-connector", "one active, one standby"],
      ["PstnConnectorThrottleStorm", "pstn-connector", "10% throttled is below the storm"],
      ["PstnConnectorDown", "", "every target is up"],
      ["PstnConnectorAbsent", "", "targets are up"],
    ];
    await waitFor(
      "no alert on what is healthy",
      async () => {
        const alerts = await active();
        return quiet.every(
          ([name, job]) =>
            !alerts.some((a) => a.labels.alertname === name && (job === "" || a.labels.job === job)),
        );
      },
      30_000,
    ).catch(async (error: Error) => {
      const alerts = await active();
      const left = quiet.filter(([name, job]) =>
        alerts.some((a) => a.labels.alertname === name && (job === "" || a.labels.job === job)),
      );
      throw new Error(`${error.message}: ${left.map(([n, , why]) => `${n} (${why})`).join(", ")}`);
    });
  });

  test("a standby replica that never was active is ready (/readyz 200), as the Deployment's readinessProbe needs", async (t) => {
    // A replica that stands by and never was active has talked to Kafka and the registry only:
    // its /readyz shows graph null. One of the two, or else a fresh third replica.
    const neverActive = async (candidate: number) => {
      if ((await metricLine(candidate, "pstn_connector_active")) !== 0) return false;
      const ready = await request(`http://127.0.0.1:${candidate}/readyz`);
      const state = (await ready.body.json()) as { dependencies: { graph: boolean | null } };
      return state.dependencies.graph === null;
    };
    let port = 0;
    for (const candidate of [ports.active, ports.standby]) if (await neverActive(candidate)) port = candidate;
    if (port === 0) {
      port = await freePort();
      const fresh = new CliProcess(
        ["run"],
        cleanEnv({ ...baseEnv, KAFKA_TOPIC: topic, METRICS_PORT: String(port) }),
      );
      connectors.push(fresh);
      await waitForMetric(port, "pstn_connector_active", () => true, 30_000, fresh);
      await sleep(5000);
      if (!(await neverActive(port))) {
        t.skip("the election moved to the new replica: no never-active standby to look at this time");
        return;
      }
    }
    const response = await request(`http://127.0.0.1:${port}/readyz`);
    const body = await response.body.text();
    t.diagnostic(`standby /readyz: ${response.statusCode} ${body}`);
    assert.equal(response.statusCode, 200, body);
  });
});
