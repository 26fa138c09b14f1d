/**
 * The Prometheus artifacts checked by promtool: the rules (`check rules`), their unit tests (`test
 * rules`, with a firing and a quiet case for every alert) and the compose configuration (`check
 * config`); every alert's runbook exists in docs/operations.md.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { type AlertRule, alertRules, readYaml, repoPath, runTool } from "./lib.js";

interface RuleTestFile {
  rule_files: string[];
  tests: Array<{
    alert_rule_test?: Array<{ eval_time: string; alertname: string; exp_alerts: unknown[] }>;
  }>;
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
      ["no active instance", /sum by \(job\) \(pstn_connector_active\) < 1/],
      ["more than one active", /sum by \(job\) \(pstn_connector_active\) > 1/],
    ] as const) {
      assert.match(exprs, pattern, what);
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
