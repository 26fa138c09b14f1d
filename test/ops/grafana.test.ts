/**
 * The Grafana dashboard and its provisioning, read as Grafana would: panel layout, datasource
 * references, variables (job, and stream for what each stream does), and coverage of every metric
 * the connector exports. (Every expression is evaluated against a real Prometheus in
 * live-prometheus.test.ts.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Metrics } from "../../src/metrics/index.js";
import { STREAMS } from "../../src/streams/index.js";
import { type DashboardPanel, dashboardPanels, readDashboard, readYaml, repoPath } from "./lib.js";

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax
const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

/** The metrics whose series carry `stream` (what one stream does), as the connector defines them. */
const STREAM_SCOPED = [
  "rows_fetched_total",
  "rows_published_total",
  "rows_duplicate_total",
  "rows_dead_lettered_total",
  "rows_unknown_properties_total",
  "graph_requests_total",
  "graph_throttled_total",
  "graph_retries_total",
  "graph_request_duration_seconds",
  "graph_responses_refused_total",
  "kafka_produce_duration_seconds",
  "kafka_transactions_total",
  "watermark_timestamp_seconds",
  "last_success_timestamp_seconds",
  "session_failures_total",
  "dedupe_ids",
  "active",
  "unit_stopped",
].map((name) => `pstn_connector_${name}`);

/** The connector's metrics by whether their series carry the `stream` label (read from the code). */
function metricsByStreamLabel(): { scoped: string[]; shared: string[] } {
  const metrics = new Metrics({ defaultMetrics: false });
  const all = metrics.registry.getMetricsAsArray() as unknown as Array<{
    name: string;
    labelNames?: readonly string[];
  }>;
  const scoped = all.filter((m) => m.labelNames?.includes("stream")).map((m) => m.name);
  const shared = all.filter((m) => !m.labelNames?.includes("stream")).map((m) => m.name);
  return { scoped: scoped.sort(), shared: shared.sort() };
}

/** The metric a selector names: a histogram's _bucket/_sum/_count series belong to the histogram. */
const metricOf = (series: string): string => series.replace(/_(bucket|sum|count)$/, "");

/** Every metric selector of a PromQL expression: the connector's metric name and its `{...}`. */
function selectors(expr: string): Array<{ metric: string; matchers: string }> {
  return [...expr.matchAll(/\b(pstn_connector_[a-z0-9_]+)(\{[^}]*\})?/g)].map((m) => ({
    metric: metricOf(m[1] ?? ""),
    matchers: m[2] ?? "",
  }));
}

/** The label lists of every `by (...)` and `without (...)` of an expression. */
function groupings(expr: string): Array<{ kind: string; labels: string[] }> {
  return [...expr.matchAll(/\b(by|without)\s*\(([^)]*)\)/g)].map((m) => ({
    kind: m[1] ?? "",
    labels: (m[2] ?? "").split(",").map((label) => label.trim()),
  }));
}

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

  test("a stream variable after job: the streams of the jobs chosen, several or all (any stream)", () => {
    const list = dashboard.templating.list as Array<
      (typeof dashboard.templating.list)[number] & {
        datasource?: { type: string; uid: string };
        multi?: boolean;
        includeAll?: boolean;
        allValue?: string;
      }
    >;
    const names = list.map((v) => v.name);
    assert.equal(names.indexOf("stream"), names.indexOf("job") + 1, "stream comes right after job");
    const stream = list.find((v) => v.name === "stream");
    assert.ok(stream, "a stream variable");
    const query = 'label_values(pstn_connector_rows_published_total{job=~"$job"}, stream)';
    assert.equal(stream.type, "query");
    assert.deepEqual(stream.datasource, DATASOURCE);
    assert.equal(stream.definition, query);
    assert.deepEqual(stream.query, { query, refId: "PrometheusVariableQueryEditor-VariableQuery" });
    assert.equal(stream.multi, true);
    assert.equal(stream.includeAll, true);
    assert.equal(stream.allValue, ".*");
    assert.ok(metricsByStreamLabel().scoped.includes("pstn_connector_rows_published_total"));
  });

  test("the stream-scoped metrics are those the code labels with stream; the streams are the code's", () => {
    const { scoped, shared } = metricsByStreamLabel();
    assert.deepEqual(scoped, [...STREAM_SCOPED].sort());
    assert.deepEqual(shared, [
      "pstn_connector_kafka_oauth_tokens_total",
      "pstn_connector_token_requests_total",
      "pstn_connector_units",
    ]);
    assert.deepEqual(Object.keys(STREAMS).sort(), ["directRouting", "pstn", "sms"]);
  });

  test("every query on a stream-scoped metric filters by $stream and keeps stream in its series; shared ones do not", () => {
    const { scoped } = metricsByStreamLabel();
    let streamTargets = 0;
    for (const panel of queryPanels) {
      for (const target of panel.targets ?? []) {
        const what = `${panel.title} ${target.refId}: ${target.expr}`;
        const found = selectors(target.expr);
        const onStream = found.filter((sel) => scoped.includes(sel.metric));
        for (const sel of found) {
          assert.ok(sel.matchers.startsWith('{job=~"$job"'), `${what}: ${sel.metric} filters by job`);
          if (scoped.includes(sel.metric))
            assert.match(
              sel.matchers,
              /[{,]stream=~"\$stream"[,}]/,
              `${what}: ${sel.metric} filters by stream`,
            );
          else assert.doesNotMatch(sel.matchers, /stream/, `${what}: ${sel.metric} has no stream label`);
        }
        if (onStream.length === 0) {
          for (const group of groupings(target.expr))
            assert.ok(!group.labels.includes("stream"), `${what}: no stream to group by`);
          continue;
        }
        streamTargets++;
        assert.equal(onStream.length, found.length, `${what}: stream-scoped and shared metrics mixed`);
        // One series per stream: every aggregation keeps stream, and the legend names it.
        const groups = groupings(target.expr);
        assert.ok(groups.length > 0, `${what}: aggregated by stream`);
        for (const group of groups) {
          assert.equal(group.kind, "by", `${what}: by (...), not without (...)`);
          assert.ok(group.labels.includes("stream"), `${what}: by (${group.labels.join(", ")}) keeps stream`);
        }
        assert.doesNotMatch(
          target.expr,
          /\b(sum|min|max|avg|count)\s*\((?!\s*by)/,
          `${what}: no aggregation without by`,
        );
        assert.match(target.legendFormat ?? "", /\{\{stream\}\}/, `${what}: the legend names the stream`);
      }
    }
    assert.ok(streamTargets >= 25, `${streamTargets} stream-scoped queries`);
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
      ["rows/s per stream", /sum by \(job, stream\) \(rate\(pstn_connector_rows_published_total\{/],
      [
        "watermark lag per stream",
        /time\(\) - max by \(job, stream\) \(pstn_connector_watermark_timestamp_seconds\{/,
      ],
      [
        "Graph requests by stream and status",
        /sum by \(stream, code\) \(rate\(pstn_connector_graph_requests_total\{/,
      ],
      ["throttling", /pstn_connector_graph_throttled_total/],
      [
        "Graph latency percentiles",
        /histogram_quantile\(0\.99, sum by \(stream, le\) \(rate\(pstn_connector_graph_request_duration_seconds_bucket/,
      ],
      [
        "produce latency percentiles",
        /histogram_quantile\(0\.99, sum by \(stream, le\) \(rate\(pstn_connector_kafka_produce_duration_seconds_bucket/,
      ],
      ["DLQ rows", /pstn_connector_rows_dead_lettered_total/],
      ["token errors", /sum by \(outcome\) \(increase\(pstn_connector_token_requests_total\{/],
      ["active instance per stream", /sum by \(job, stream\) \(pstn_connector_active\{/],
    ] as const) {
      assert.match(all, pattern, what);
    }
  });

  test("Graph requests per minute, stacked by stream, against the one budget the streams share", () => {
    const panel = queryPanels.find(
      (p) => p.title === "Graph requests per minute by stream (one budget per tenant)",
    ) as
      | (DashboardPanel & {
          description?: string;
          fieldConfig: {
            defaults: {
              thresholds?: { steps: Array<{ value: number | null }> };
              custom: { stacking?: { mode: string }; thresholdsStyle?: { mode: string } };
            };
          };
        })
      | undefined;
    assert.ok(panel, "the budget panel");
    assert.equal(panel.type, "timeseries");
    assert.deepEqual(
      (panel.targets ?? []).map((t) => t.expr),
      ['sum by (stream) (rate(pstn_connector_graph_requests_total{job=~"$job",stream=~"$stream"}[5m])) * 60'],
    );
    const { custom, thresholds } = panel.fieldConfig.defaults;
    assert.equal(custom.stacking?.mode, "normal", "stacked");
    const line =
      thresholds?.steps.some((step) => step.value === 190) && /line/.test(custom.thresholdsStyle?.mode ?? "");
    assert.ok(
      line || /budget is shared|share[sd]? one budget/i.test(panel.description ?? ""),
      "a line at 190 or a note",
    );
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
