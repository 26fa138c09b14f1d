/**
 * The Grafana dashboard and its provisioning, read as Grafana would: panel layout, datasource
 * references, variables (job, stream for what each stream does, tenant for the tenant section),
 * the tenant section (a fleet overview and a row repeated per tenant, every query filtered by
 * tenant and evaluated by promtool on series with and without the `tenant` label), and coverage of
 * every metric the connector exports. (Every expression is evaluated against a real Prometheus in
 * live-prometheus.test.ts.)
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Metrics } from "../../src/metrics/index.js";
import { STREAMS } from "../../src/streams/index.js";
import {
  type Dashboard,
  type DashboardPanel,
  type DashboardTarget,
  dashboardPanels,
  grafanaToPromql,
  readDashboard,
  readYaml,
  repoPath,
  runTool,
} from "./lib.js";

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

/** The connector's metrics whose series carry `tenant` when several tenants share a process. */
function tenantLabelled(): string[] {
  const metrics = new Metrics({ defaultMetrics: false });
  const all = metrics.registry.getMetricsAsArray() as unknown as Array<{
    name: string;
    labelNames?: readonly string[];
  }>;
  return all
    .filter((m) => m.labelNames?.includes("tenant"))
    .map((m) => m.name)
    .sort();
}

/** A panel with what the tenant section uses besides lib.ts's fields. */
type SectionPanel = DashboardPanel & {
  repeat?: string;
  collapsed?: boolean;
  targets?: Array<DashboardTarget & { instant?: boolean; range?: boolean }>;
};

/** A template variable with its query fields. */
type Variable = Dashboard["templating"]["list"][number] & {
  datasource?: { type: string; uid: string };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
};

/**
 * The tenant section: the row repeated per tenant (its panels inside it, as a collapsed row keeps
 * them) and the fleet overview, the panels between the section's row and the repeated one.
 */
function tenantSection(dashboard: Dashboard): {
  row: SectionPanel | undefined;
  repeated: SectionPanel[];
  overview: SectionPanel[];
} {
  const top = dashboard.panels as SectionPanel[];
  const at = top.findIndex((panel) => panel.repeat !== undefined);
  if (at === -1) return { row: undefined, repeated: [], overview: [] };
  const row = top[at];
  const before = top.slice(0, at);
  const sectionRow = before.map((panel) => panel.type).lastIndexOf("row");
  return { row, repeated: row?.panels ?? [], overview: before.slice(sectionRow + 1) };
}

/** One value of a multi-value variable as Grafana writes it into `=~"..."`: regex-escaped. */
const grafanaRegexValue = (value: string): string => value.replace(/[$^*{}[\]'+?.()|\\]/g, "\\\\$&");

/** An input series of a promtool rule test. */
const inputSeries = (metric: string, labels: Record<string, string>, values: string) => ({
  series: `pstn_connector_${metric}{${Object.entries(labels)
    .map(([name, value]) => `${name}="${value}"`)
    .join(",")}}`,
  values,
});

/** A unit's series (15 s apart, 40 of them: 0 to 10 min): rows, watermark, Graph requests and 429s. */
function unitSeries(labels: Record<string, string>, watermark: number, active: boolean) {
  return [
    inputSeries("rows_published_total", labels, active ? "0+15x40" : "0x40"),
    inputSeries("watermark_timestamp_seconds", labels, `${watermark}x40`),
    ...(active
      ? [
          inputSeries("graph_requests_total", { ...labels, code: "200" }, "0+3x40"),
          inputSeries("graph_throttled_total", labels, "0+1x40"),
        ]
      : []),
  ];
}

const CONTOSO = "contoso.onmicrosoft.com";
const FABRIKAM = "fabrikam.example";

/**
 * Series for promtool, evaluated at 10 min (time() = 600): job `single`, one tenant without a
 * tenants file (no `tenant` label), its sms stopped; job `fleet`, two tenants of a tenants file on
 * an active replica (f1) and a standby (f2, whose watermarks are 0), fabrikam's sms stopped (seen
 * by both replicas). Lags: single 100 (pstn) and 300 (sms); contoso 100 and 150; fabrikam 400 and 250.
 */
const SERIES = [
  ...unitSeries({ job: "single", instance: "s1", stream: "pstn" }, 500, true),
  ...unitSeries({ job: "single", instance: "s1", stream: "sms" }, 300, true),
  inputSeries(
    "unit_stopped",
    { job: "single", instance: "s1", stream: "sms", code: "PSTN_AUTH_FAILED" },
    "1x40",
  ),
  ...[
    [CONTOSO, "pstn", 500],
    [CONTOSO, "sms", 450],
    [FABRIKAM, "pstn", 200],
    [FABRIKAM, "sms", 350],
  ].flatMap(([tenant, stream, watermark]) => [
    ...unitSeries(
      { job: "fleet", instance: "f1", tenant: String(tenant), stream: String(stream) },
      Number(watermark),
      true,
    ),
    ...unitSeries({ job: "fleet", instance: "f2", tenant: String(tenant), stream: String(stream) }, 0, false),
  ]),
  ...["f1", "f2"].map((instance) =>
    inputSeries(
      "unit_stopped",
      { job: "fleet", instance, tenant: FABRIKAM, stream: "sms", code: "PSTN_GRAPH_FORBIDDEN" },
      "1x40",
    ),
  ),
];

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
  const section = tenantSection(dashboard);
  const sectionPanels = [...section.overview, ...section.repeated];
  const sectionTargets = sectionPanels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ panel, target, what: `${panel.title} ${target.refId}` })),
  );

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
      "pstn_connector_slots_held",
      "pstn_connector_token_requests_total",
      "pstn_connector_units",
    ]);
    assert.deepEqual(Object.keys(STREAMS).sort(), ["directRouting", "pstn", "sms"]);
  });

  test("every query on a stream-scoped metric filters by $stream and keeps stream in its series (the fleet overview: tenant); shared ones do not", () => {
    const { scoped } = metricsByStreamLabel();
    let streamTargets = 0;
    for (const panel of queryPanels) {
      // The fleet overview ranks tenants: one series per tenant, over the streams chosen.
      const kept = section.overview.includes(panel) ? "tenant" : "stream";
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
        // One series per stream: every aggregation keeps stream, and the legend names it. The fleet
        // overview's: every aggregation keeps stream or tenant, the outermost tenant, the legend tenant.
        const groups = groupings(target.expr);
        assert.ok(groups.length > 0, `${what}: aggregated by ${kept}`);
        for (const group of groups) {
          assert.equal(group.kind, "by", `${what}: by (...), not without (...)`);
          assert.ok(
            group.labels.includes(kept) || group.labels.includes("stream"),
            `${what}: by (${group.labels.join(", ")}) keeps ${kept}`,
          );
        }
        assert.ok(groups[0]?.labels.includes(kept), `${what}: the outermost by keeps ${kept}`);
        assert.doesNotMatch(
          target.expr,
          /\b(sum|min|max|avg|count)\s*\((?!\s*by)/,
          `${what}: no aggregation without by`,
        );
        assert.match(
          target.legendFormat ?? "",
          new RegExp(`\\{\\{${kept}\\}\\}`),
          `${what}: the legend names the ${kept}`,
        );
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

  test("a tenant variable after stream: the tenants of the jobs chosen, several or all (All also matches no tenant label)", () => {
    const list = dashboard.templating.list as Variable[];
    const names = list.map((v) => v.name);
    assert.equal(names.indexOf("tenant"), names.indexOf("stream") + 1, "tenant comes right after stream");
    const tenant = list.find((v) => v.name === "tenant");
    assert.ok(tenant, "a tenant variable");
    assert.equal(tenant.type, "query");
    assert.deepEqual(tenant.datasource, DATASOURCE);
    const metric = /^label_values\((pstn_connector_\w+)\{job=~"\$job"\}, tenant\)$/.exec(
      tenant.definition ?? "",
    )?.[1];
    assert.ok(metric, `label_values(<metric>{job=~"$job"}, tenant): ${tenant.definition}`);
    assert.ok(tenantLabelled().includes(metric), `${metric} carries tenant`);
    assert.deepEqual(tenant.query, {
      query: tenant.definition,
      refId: "PrometheusVariableQueryEditor-VariableQuery",
    });
    assert.equal(tenant.multi, true);
    assert.equal(tenant.includeAll, true);
    // Prometheus anchors =~; a series without the label has it empty: All must match "" too.
    assert.ok(
      tenant.allValue !== undefined && new RegExp(`^(?:${tenant.allValue})$`).test(""),
      "All matches no tenant",
    );
    assert.ok(new RegExp(`^(?:${tenant.allValue})$`).test(CONTOSO), "All matches every tenant");
  });

  test("one collapsed row repeated per tenant, the dashboard's last, its panels inside; the fleet overview above it", () => {
    const top = dashboard.panels as SectionPanel[];
    const repeating = panels.filter((panel) => (panel as SectionPanel).repeat !== undefined);
    assert.deepEqual(
      repeating.map((panel) => panel.id),
      [section.row?.id],
      "one repeated panel: the tenant row, at the top level",
    );
    const row = section.row;
    assert.ok(row, "a repeated row");
    assert.equal(row.type, "row");
    assert.equal(row.repeat, "tenant");
    assert.equal(row.collapsed, true, "collapsed: no query runs until a tenant's row is opened");
    assert.match(row.title, /\$tenant\b/, "the row names its tenant");
    assert.equal(top.at(-1), row, "last: a panel after it would fall into the last tenant's row");
    assert.ok(section.repeated.length >= 4, `${section.repeated.length} panels per tenant`);
    for (const panel of section.repeated) {
      assert.notEqual(panel.type, "row", panel.title);
      assert.ok(panel.gridPos.y > row.gridPos.y, `${panel.title} under its row`);
    }
    assert.ok(section.overview.length >= 1, "a fleet overview between the section's row and the tenant row");
    for (const panel of section.overview) {
      assert.notEqual(panel.type, "row", panel.title);
      assert.ok(panel.gridPos.y < row.gridPos.y, `${panel.title} above the tenant row`);
      for (const target of panel.targets ?? [])
        assert.equal(target.instant, true, `${panel.title} ${target.refId}: a ranking at one instant`);
    }
  });

  test('every query of the tenant section filters by tenant=~"$tenant" on metrics the connector labels with tenant; no other query does', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const exported = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    const labelled = tenantLabelled();
    assert.ok(sectionTargets.length >= 6, `${sectionTargets.length} queries in the tenant section`);
    for (const { target, what } of sectionTargets) {
      const found = selectors(target.expr);
      assert.ok(found.length > 0, `${what}: reads the connector's metrics`);
      for (const sel of found) {
        assert.ok(exported.includes(sel.metric), `${what}: ${sel.metric} is a metric the connector exports`);
        assert.ok(labelled.includes(sel.metric), `${what}: ${sel.metric} carries tenant`);
        assert.match(sel.matchers, /[{,]tenant=~"\$tenant"[,}]/, `${what}: ${sel.metric} filters by tenant`);
      }
    }
    for (const panel of queryPanels.filter((p) => !sectionPanels.includes(p)))
      for (const target of panel.targets ?? [])
        assert.doesNotMatch(
          target.expr,
          /\$tenant/,
          `${panel.title} ${target.refId}: outside the tenant section`,
        );
  });

  test("what the tenant row and the fleet overview show", () => {
    const shows = (targets: typeof sectionTargets, what: string, expr: RegExp, legend = /\{\{stream\}\}/) =>
      assert.ok(
        targets.some(({ target }) => expr.test(target.expr) && legend.test(target.legendFormat ?? "")),
        `${what}: ${expr}`,
      );
    const row = sectionTargets.filter(({ panel }) => section.repeated.includes(panel));
    const overview = sectionTargets.filter(({ panel }) => section.overview.includes(panel));
    shows(
      row,
      "rows published per second by stream",
      /^sum by \([^)]*\bstream\b[^)]*\) \(rate\(pstn_connector_rows_published_total\{/,
    );
    shows(
      row,
      "watermark lag by stream",
      /^time\(\) - max by \([^)]*\bstream\b[^)]*\) \(pstn_connector_watermark_timestamp_seconds\{/,
    );
    shows(
      row,
      "Graph requests per minute",
      /^sum by \([^)]*\bstream\b[^)]*\) \(rate\(pstn_connector_graph_requests_total\{[^}]*\}\[5m\]\)\) \* 60$/,
    );
    shows(
      row,
      "429s per minute",
      /^sum by \([^)]*\bstream\b[^)]*\) \(rate\(pstn_connector_graph_throttled_total\{[^}]*\}\[5m\]\)\) \* 60$/,
    );
    shows(
      row,
      "a stopped unit with its code",
      /^max by \([^)]*\bcode\b[^)]*\) \(pstn_connector_unit_stopped\{/,
      /\{\{stream\}\}.*\{\{code\}\}/,
    );
    shows(
      overview,
      "the top tenants by lag",
      /^topk\((\d|1\d|20), max by \([^)]*\btenant\b[^)]*\) \(time\(\) - max by \([^)]*\) \(pstn_connector_watermark_timestamp_seconds\{/,
      /\{\{tenant\}\}/,
    );
    shows(
      overview,
      "stopped units by tenant",
      /\bcount by \([^)]*\btenant\b[^)]*\) \(max by \([^)]*\bstream\b[^)]*\) \(pstn_connector_unit_stopped\{/,
      /\{\{tenant\}\}/,
    );
  });

  test("promtool evaluates every tenant query on series without the tenant label (one tenant) and with it (a fleet)", async () => {
    // What Grafana puts for All, and for the one tenant of a repeated row.
    const everyTenant = (dashboard.templating.list as Variable[]).find((v) => v.name === "tenant")?.allValue;
    assert.ok(everyTenant !== undefined, "the tenant variable's All");
    const one = grafanaRegexValue;
    const query = (expr: string, job: string, tenant: string) =>
      grafanaToPromql(expr.replaceAll("$tenant", tenant), job);
    const hasData = (expr: string) => ({ expr: `absent(${expr})`, eval_time: "10m", exp_samples: [] });
    const noData = (expr: string) => ({ expr, eval_time: "10m", exp_samples: [] });
    const cases: Array<{
      expr: string;
      eval_time: string;
      exp_samples: Array<{ labels: string; value: number }>;
    }> = [];
    for (const { target } of sectionTargets) {
      cases.push(hasData(query(target.expr, "single", everyTenant))); // no tenant label: All shows it
      // No tenant listed: Grafana repeats the row once, its $tenant "" (matches no label too).
      cases.push(hasData(query(target.expr, "single", "")));
      cases.push(hasData(query(target.expr, "fleet", one(FABRIKAM)))); // one tenant's row
      cases.push(hasData(query(target.expr, "fleet", everyTenant)));
      cases.push(noData(query(target.expr, "fleet", one("nobody.example")))); // every selector filters
      cases.push(noData(query(target.expr, "single", one(FABRIKAM)))); // a tenant chosen is not the unlabelled one
    }
    const overviewOf = (metric: string) =>
      sectionTargets.find(
        ({ panel, target }) => section.overview.includes(panel) && target.expr.includes(metric),
      )?.target.expr ?? "";
    const exact = (expr: string, exp: Array<[string, number]>) => ({
      expr,
      eval_time: "10m",
      exp_samples: exp.map(([labels, value]) => ({ labels, value })),
    });
    // The most lagging stream per tenant, the standby's watermark of 0 not counted.
    const lag = overviewOf("pstn_connector_watermark_timestamp_seconds");
    cases.push(exact(query(lag, "single", everyTenant), [['{job="single"}', 300]]));
    cases.push(
      exact(query(lag, "fleet", everyTenant), [
        [`{job="fleet", tenant="${CONTOSO}"}`, 150],
        [`{job="fleet", tenant="${FABRIKAM}"}`, 400],
      ]),
    );
    // Units, not series: fabrikam's sms stopped, as both replicas say, is one.
    const stopped = overviewOf("pstn_connector_unit_stopped");
    cases.push(exact(query(stopped, "single", everyTenant), [['{job="single"}', 1]]));
    cases.push(exact(query(stopped, "fleet", everyTenant), [[`{job="fleet", tenant="${FABRIKAM}"}`, 1]]));
    cases.push(noData(query(stopped, "fleet", one(CONTOSO))));

    const dir = await mkdtemp(join(tmpdir(), "pstn-grafana-"));
    try {
      const file = join(dir, "tenant-queries.test.yml");
      const tests = [{ interval: "15s", input_series: SERIES, promql_expr_test: cases }];
      await writeFile(file, JSON.stringify({ rule_files: [], evaluation_interval: "15s", tests }));
      const result = await runTool("promtool", ["test", "rules", file]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /SUCCESS/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
