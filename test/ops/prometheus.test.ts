/**
 * The Prometheus artifacts checked by promtool: the rules (`check rules`), their unit tests (`test
 * rules`, with a firing and a quiet case for every alert) and the compose configuration (`check
 * config`); every alert's runbook exists in docs/operations.md. Alerts on what a stream does are per
 * stream (grouped by job and stream), the others are not.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { Metrics } from "../../src/metrics/index.js";
import { STREAMS } from "../../src/streams/index.js";
import { type AlertRule, alertRules, readYaml, repoPath, runTool } from "./lib.js";

interface RuleTestFile {
  rule_files: string[];
  tests: Array<{
    input_series?: Array<{ series: string; values: string }>;
    alert_rule_test?: Array<{
      eval_time: string;
      alertname: string;
      exp_alerts: Array<{ exp_labels?: Record<string, string> }>;
    }>;
  }>;
}

/** The connector's metrics whose series carry the `stream` label, read from the code. */
function streamScopedMetrics(): string[] {
  const metrics = new Metrics({ defaultMetrics: false });
  const all = metrics.registry.getMetricsAsArray() as unknown as Array<{
    name: string;
    labelNames?: readonly string[];
  }>;
  return all.filter((m) => m.labelNames?.includes("stream")).map((m) => m.name);
}

/** The connector's metrics an expression reads (a histogram's _bucket/_sum/_count as the histogram). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bpstn_connector_[a-z0-9_]+/g)].map((m) =>
    m[0].replace(/_(bucket|sum|count)$/, ""),
  );
}

/** The label lists of every `by (...)` and `without (...)` of an expression. */
function groupings(expr: string): Array<{ kind: string; labels: string[] }> {
  return [...expr.matchAll(/\b(by|without)\s*\(([^)]*)\)/g)].map((m) => ({
    kind: m[1] ?? "",
    labels: (m[2] ?? "").split(",").map((label) => label.trim()),
  }));
}

/** An input series of a rule test: `metric{a="1", b="2"}` as its name and labels. */
function parseSeries(series: string): { metric: string; labels: Record<string, string> } {
  const metric = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(series)?.[0] ?? "";
  const labels: Record<string, string> = {};
  for (const m of series.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[m[1] ?? ""] = m[2] ?? "";
  return { metric, labels };
}

/** GitHub's anchor of a Markdown heading. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, "")
    .replace(/\s/g, "-");
}

describe("Prometheus rules and configuration (promtool)", () => {
  let rules: AlertRule[];

  before(async () => {
    rules = await alertRules();
  });

  test("promtool check rules: alerts.yml is valid", async () => {
    const result = await runTool("promtool", ["check", "rules", "deploy/prometheus/alerts.yml"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  test("promtool test rules: every case of alerts.test.yml passes", async () => {
    const result = await runTool("promtool", ["test", "rules", "alerts.test.yml"], {
      cwd: repoPath("deploy/prometheus"),
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS/);
  });

  test("every alert has a unit test that fires and one that stays quiet; no test names an unknown alert", async () => {
    const file = await readYaml<RuleTestFile>(repoPath("deploy/prometheus/alerts.test.yml"));
    assert.deepEqual(file.rule_files, ["alerts.yml"]);
    const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
    const names = new Set(rules.map((rule) => rule.alert));
    for (const c of cases)
      assert.ok(names.has(c.alertname), `unknown alert ${c.alertname} in alerts.test.yml`);
    for (const name of names) {
      const mine = cases.filter((c) => c.alertname === name);
      assert.ok(
        mine.some((c) => c.exp_alerts.length > 0),
        `${name}: no case where it fires`,
      );
      assert.ok(
        mine.some((c) => c.exp_alerts.length === 0),
        `${name}: no case where it stays quiet`,
      );
    }
  });

  test("promtool check config: the compose prometheus.yml and the rule files it loads are valid", async () => {
    const result = await runTool("promtool", ["check", "config", "deploy/prometheus/prometheus.yml"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /SUCCESS: 1 rule files found/);
    const config = await readYaml<{ rule_files: string[] }>(repoPath("deploy/prometheus/prometheus.yml"));
    assert.deepEqual(config.rule_files, ["alerts.yml"]);
  });

  test("the alerts the operations issue asks for are there", () => {
    const exprs = rules.map((rule) => rule.expr).join("\n");
    for (const [what, pattern] of [
      ["connector down", /\bup\{job=~"pstn-connector\.\*"\} == 0/],
      ["watermark stalled", /pstn_connector_watermark_timestamp_seconds/],
      ["throttle storm", /pstn_connector_graph_throttled_total/],
      ["DLQ growing", /pstn_connector_rows_dead_lettered_total/],
      ["auth failing", /pstn_connector_token_requests_total\{outcome="error"\}/],
      ["aborted transactions", /pstn_connector_kafka_transactions_total\{outcome="aborted"\}/],
      ["no active instance, per stream", /sum by \(job, stream\) \(pstn_connector_active\) < 1/],
      ["more than one active, per stream", /sum by \(job, stream\) \(pstn_connector_active\) > 1/],
    ] as const) {
      assert.match(exprs, pattern, what);
    }
  });

  test("alerts on stream-scoped metrics are per stream: grouped by job and stream, naming the stream; the others are not", () => {
    const scoped = streamScopedMetrics();
    assert.ok(
      scoped.includes("pstn_connector_active") && !scoped.includes("pstn_connector_token_requests_total"),
    );
    const perStream: string[] = [];
    for (const rule of rules) {
      const used = metricsIn(rule.expr);
      const onStream = used.filter((metric) => scoped.includes(metric));
      const groups = groupings(rule.expr);
      const texts = `${rule.annotations?.summary ?? ""}\n${rule.annotations?.description ?? ""}`;
      if (onStream.length === 0) {
        for (const group of groups)
          assert.ok(!group.labels.includes("stream"), `${rule.alert}: no stream to group by`);
        assert.doesNotMatch(texts, /\$labels\.stream/, `${rule.alert}: has no stream label`);
        continue;
      }
      perStream.push(rule.alert);
      assert.equal(onStream.length, used.length, `${rule.alert}: stream-scoped and shared metrics mixed`);
      assert.ok(groups.length > 0, `${rule.alert}: aggregated by (job, stream, ...)`);
      for (const group of groups) {
        assert.equal(group.kind, "by", `${rule.alert}: by (...), not without (...)`);
        assert.ok(
          group.labels.includes("job") && group.labels.includes("stream"),
          `${rule.alert}: by (${group.labels.join(", ")}) keeps job and stream`,
        );
      }
      assert.doesNotMatch(
        rule.expr,
        /\b(sum|min|max|avg|count)\s*\((?!\s*by)/,
        `${rule.alert}: no aggregation without by`,
      );
      assert.match(
        rule.annotations?.summary ?? "",
        /\{\{ \$labels\.stream \}\}/,
        `${rule.alert}: the summary names the stream`,
      );
      assert.match(
        rule.annotations?.description ?? "",
        /\{\{ \$labels\.stream \}\}/,
        `${rule.alert}: the description names the stream`,
      );
    }
    assert.deepEqual(perStream.sort(), [
      "PstnConnectorDeadLetters",
      "PstnConnectorNoActiveInstance",
      "PstnConnectorSessionsFailing",
      "PstnConnectorSeveralActive",
      "PstnConnectorTenantStopped",
      "PstnConnectorThrottleStorm",
      "PstnConnectorTransactionsAborted",
      "PstnConnectorWatermarkStalled",
    ]);
  });

  test("the unit tests label stream-scoped series with a real stream, and each per-stream alert fires for one stream while another of the job is quiet", async () => {
    const file = await readYaml<RuleTestFile>(repoPath("deploy/prometheus/alerts.test.yml"));
    const scoped = streamScopedMetrics();
    const streams = Object.keys(STREAMS);
    for (const group of file.tests) {
      for (const input of group.input_series ?? []) {
        const { metric, labels } = parseSeries(input.series);
        const base = metric.replace(/_(bucket|sum|count)$/, "");
        if (scoped.includes(base))
          assert.ok(streams.includes(labels.stream ?? ""), `${input.series}: a stream label`);
        else assert.equal(labels.stream, undefined, `${input.series}: a shared metric has no stream`);
      }
    }
    for (const rule of rules) {
      const used = metricsIn(rule.expr);
      if (!used.some((metric) => scoped.includes(metric))) continue;
      let separated = false;
      for (const group of file.tests) {
        const present = (group.input_series ?? [])
          .map((input) => parseSeries(input.series))
          .filter((series) => used.includes(series.metric.replace(/_(bucket|sum|count)$/, "")))
          .map((series) => `${series.labels.job} ${series.labels.stream}`);
        for (const c of group.alert_rule_test ?? []) {
          if (c.alertname !== rule.alert || c.exp_alerts.length === 0) continue;
          for (const alert of c.exp_alerts)
            assert.ok(
              streams.includes(alert.exp_labels?.stream ?? ""),
              `${rule.alert} at ${c.eval_time}: expects a stream label`,
            );
          const fired = c.exp_alerts.map((alert) => `${alert.exp_labels?.job} ${alert.exp_labels?.stream}`);
          const jobs = new Set(c.exp_alerts.map((alert) => alert.exp_labels?.job));
          if (present.some((key) => jobs.has(key.split(" ")[0]) && !fired.includes(key))) separated = true;
        }
      }
      assert.ok(
        separated,
        `${rule.alert}: no case where it fires for one stream while another stream of the job is quiet`,
      );
    }
  });

  test("every alert has a severity, a summary, a description and a runbook that exists in docs/operations.md", () => {
    const doc = readFileSync(repoPath("docs/operations.md"), "utf8");
    const anchors = new Set(
      doc
        .split("\n")
        .filter((line) => /^#{1,6} /.test(line))
        .map((line) => anchorOf(line.replace(/^#+ /, ""))),
    );
    for (const rule of rules) {
      assert.match(rule.labels?.severity ?? "", /^(critical|warning)$/, rule.alert);
      assert.ok(rule.annotations?.summary, `${rule.alert} summary`);
      assert.ok(rule.annotations?.description, `${rule.alert} description`);
      const runbook = rule.annotations?.runbook_url ?? "";
      const [file, anchor] = runbook.split("#");
      assert.equal(file, "docs/operations.md", rule.alert);
      assert.equal(anchor, rule.alert.toLowerCase(), `${rule.alert}: the anchor is the alert's name`);
      assert.ok(anchors.has(anchor ?? ""), `docs/operations.md has a heading for ${rule.alert}`);
    }
  });
});
