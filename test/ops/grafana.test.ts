/**
 * The Grafana dashboard and its provisioning, read as Grafana would: panel layout, datasource
 * references, variables, and coverage of every metric the connector exports. (Every expression is
 * evaluated against a real Prometheus in live-prometheus.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Metrics } from "../../src/metrics/index.js";
import { type DashboardPanel, dashboardPanels, readDashboard, readYaml, repoPath } from "./lib.js";

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

describe("Grafana dashboard", () => {
  const dashboard = readDashboard();
  const panels = dashboardPanels(dashboard);
  const queryPanels = panels.filter((panel) => panel.type !== "row");
  const exprs = queryPanels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

  test("identity, variables and a datasource chosen by variable", () => {
    assert.equal(dashboard.uid, "pstn-connector");
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(variables.get("datasource")?.type, "datasource");
    assert.equal(variables.get("datasource")?.query, "prometheus");
    assert.equal(variables.get("job")?.type, "query");
    assert.match(variables.get("job")?.definition ?? "", /^label_values\(pstn_connector_\w+, job\)$/);
  });

  test("every panel has a unique id, fits the 24-column grid and overlaps no other", () => {
    const ids = panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length);
    const overlaps = (a: DashboardPanel, b: DashboardPanel) =>
      a.gridPos.x < b.gridPos.x + b.gridPos.w &&
      b.gridPos.x < a.gridPos.x + a.gridPos.w &&
      a.gridPos.y < b.gridPos.y + b.gridPos.h &&
      b.gridPos.y < a.gridPos.y + a.gridPos.h;
    for (const [i, panel] of panels.entries()) {
      assert.ok(panel.gridPos.x >= 0 && panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title} fits`);
      for (const other of panels.slice(i + 1)) {
        assert.ok(!overlaps(panel, other), `${panel.title} overlaps ${other.title}`);
      }
    }
  });

  test("every query panel and target uses the datasource variable and filters by $job", () => {
    for (const panel of queryPanels) {
      assert.deepEqual(panel.datasource, DATASOURCE, panel.title);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title} has queries`);
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${panel.title}: unique refIds`);
      for (const target of panel.targets ?? []) {
        assert.deepEqual(target.datasource, DATASOURCE, `${panel.title} ${target.refId}`);
        assert.match(target.expr, /\{job=~"\$job"/, `${panel.title} ${target.refId} filters by job`);
      }
    }
  });

  test("the panels the operations issue asks for are there", () => {
    const all = exprs.join("\n");
    for (const [what, pattern] of [
      ["rows/s fetched", /rate\(pstn_connector_rows_fetched_total\{/],
      ["rows/s published", /rate\(pstn_connector_rows_published_total\{/],
      ["duplicates dropped", /pstn_connector_rows_duplicate_total/],
      ["watermark lag", /time\(\) - max by \(job\) \(pstn_connector_watermark_timestamp_seconds\{/],
      ["Graph requests by status", /sum by \(code\) \(rate\(pstn_connector_graph_requests_total\{/],
      ["throttling", /pstn_connector_graph_throttled_total/],
      [
        "Graph latency percentiles",
        /histogram_quantile\(0\.99, sum by \(le\) \(rate\(pstn_connector_graph_request_duration_seconds_bucket/,
      ],
      [
        "produce latency percentiles",
        /histogram_quantile\(0\.99, sum by \(le\) \(rate\(pstn_connector_kafka_produce_duration_seconds_bucket/,
      ],
      ["DLQ rows", /pstn_connector_rows_dead_lettered_total/],
      ["token errors", /sum by \(outcome\) \(increase\(pstn_connector_token_requests_total\{/],
      ["active instance", /pstn_connector_active\{/],
    ] as const) {
      assert.match(all, pattern, what);
    }
  });

  test("every metric the connector defines is on the dashboard", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    assert.ok(names.length >= 15);
    const all = exprs.join("\n");
    for (const name of names) assert.match(all, new RegExp(`\\b${name}(_bucket)?\\b`), `${name} has a panel`);
  });

  test("provisioning: a Prometheus datasource and a file provider for this dashboard", async () => {
    const datasources = await readYaml<{ apiVersion: number; datasources: Array<{ type: string }> }>(
      repoPath("deploy/grafana/provisioning/datasources/prometheus.yml"),
    );
    assert.equal(datasources.apiVersion, 1);
    assert.equal(datasources.datasources[0]?.type, "prometheus");
    const dashboards = await readYaml<{ apiVersion: number; providers: Array<{ type: string }> }>(
      repoPath("deploy/grafana/provisioning/dashboards/pstn-connector.yml"),
    );
    assert.equal(dashboards.apiVersion, 1);
    assert.equal(dashboards.providers[0]?.type, "file");
  });
});
