/**
 * Several streams in one process: each stream's series carry its `stream` label, the shared ones
 * carry none, and /readyz is ready only when every stream is.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Health, StreamsHealth } from "../../../src/metrics/health.js";
import { Metrics } from "../../../src/metrics/index.js";

function readyHealth(): Health {
  const health = new Health();
  for (const dependency of ["token", "graph", "kafka", "registry"] as const) health.set(dependency, true);
  return health;
}

describe("metrics of several streams", () => {
  test("a stream's series carry its label; two streams count apart; shared metrics carry none", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const pstn = metrics.forStream("pstn");
    const sms = metrics.forStream("sms");
    assert.equal(metrics.forStream("pstn"), pstn, "one view per stream");
    pstn.rowsPublished.inc(3);
    sms.rowsPublished.inc(2);
    sms.graphRequests.inc({ code: "200" });
    sms.rowsDeadLettered.inc({ reason: "charge" });
    pstn.watermark.set(100);
    metrics.tokenRequests.inc({ outcome: "issued" });
    const text = await metrics.registry.metrics();
    assert.match(text, /^pstn_connector_rows_published_total\{stream="pstn"\} 3$/m);
    assert.match(text, /^pstn_connector_rows_published_total\{stream="sms"\} 2$/m);
    assert.match(text, /^pstn_connector_graph_requests_total\{code="200",stream="sms"\} 1$/m);
    assert.match(text, /^pstn_connector_rows_dead_lettered_total\{reason="charge",stream="sms"\} 1$/m);
    assert.match(text, /^pstn_connector_watermark_timestamp_seconds\{stream="pstn"\} 100$/m);
    assert.match(text, /^pstn_connector_token_requests_total\{outcome="issued"\} 1$/m);
    // A stream's counters exist at 0 before its first row, so that increase() sees the first one.
    assert.match(text, /^pstn_connector_rows_fetched_total\{stream="sms"\} 0$/m);
    const unlabelled = text
      .split("\n")
      .filter((line) =>
        /^pstn_connector_(rows|graph|kafka_(produce|transactions)|session|watermark|dedupe)/.test(line),
      )
      .filter((line) => !line.includes('stream="'));
    assert.deepEqual(unlabelled, [], "every series of a stream's metric names its stream");
  });
});

describe("the tenant label switched off (METRICS_TENANT_LABEL=false)", () => {
  test("tenants share their stream's series: counters add up, the watermark is the oldest, ids and stops are summed, a forgotten tenant leaves them", async () => {
    const metrics = new Metrics({ defaultMetrics: false, tenantLabel: false });
    const a = metrics.forStream("pstn", "a.example.com");
    const b = metrics.forStream("pstn", "b.example.com");
    assert.notEqual(a, b, "each tenant keeps its own view");
    a.rowsPublished.inc(3);
    b.rowsPublished.inc(4);
    a.watermark.set(200);
    b.watermark.set(150);
    a.dedupeIds.set(10);
    b.dedupeIds.set(5);
    a.stopped("PSTN_GRAPH_FORBIDDEN");
    b.stopped("PSTN_GRAPH_FORBIDDEN");
    let text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /tenant="/, "no series names a tenant");
    assert.match(text, /^pstn_connector_rows_published_total\{stream="pstn"\} 7$/m);
    assert.match(text, /^pstn_connector_watermark_timestamp_seconds\{stream="pstn"\} 150$/m);
    assert.match(text, /^pstn_connector_dedupe_ids\{stream="pstn"\} 15$/m);
    assert.match(text, /^pstn_connector_unit_stopped\{stream="pstn",code="PSTN_GRAPH_FORBIDDEN"\} 2$/m);
    b.forget();
    text = await metrics.registry.metrics();
    assert.match(text, /^pstn_connector_watermark_timestamp_seconds\{stream="pstn"\} 200$/m);
    assert.match(text, /^pstn_connector_dedupe_ids\{stream="pstn"\} 10$/m);
    assert.match(text, /^pstn_connector_unit_stopped\{stream="pstn",code="PSTN_GRAPH_FORBIDDEN"\} 1$/m);
    a.forget();
    text = await metrics.registry.metrics();
    assert.doesNotMatch(text, /^pstn_connector_watermark_timestamp_seconds\{/m, "no tenant left: no series");
  });

  test("with the label on, each tenant has series of its own", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.forStream("pstn", "a.example.com").watermark.set(200);
    metrics.forStream("pstn", "b.example.com").watermark.set(150);
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /^pstn_connector_watermark_timestamp_seconds\{tenant="a.example.com",stream="pstn"\} 200$/m,
    );
    assert.match(
      text,
      /^pstn_connector_watermark_timestamp_seconds\{tenant="b.example.com",stream="pstn"\} 150$/m,
    );
  });
});

describe("a fleet's units on one replica", () => {
  test("a tenant's unit exports nothing until it runs here, then no series per error code; standing by drops its gauges, keeps its counters", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const unit = metrics.forStream("pstn", "a.example.com");
    const series = async () =>
      (await metrics.registry.metrics())
        .split("\n")
        .filter((line) => line.includes('tenant="a.example.com"'));
    assert.deepEqual(await series(), [], "a unit of a slot held elsewhere costs no series here");
    unit.announce();
    unit.active.set(1);
    unit.rowsPublished.inc(5);
    unit.watermark.set(300);
    let lines = await series();
    assert.ok(lines.includes('pstn_connector_rows_fetched_total{tenant="a.example.com",stream="pstn"} 0'));
    assert.ok(lines.includes('pstn_connector_active{tenant="a.example.com",stream="pstn"} 1'));
    assert.ok(
      !lines.some((line) => line.startsWith("pstn_connector_session_failures_total")),
      "no series per code",
    );
    unit.standingBy();
    lines = await series();
    assert.ok(
      !lines.some((line) => line.startsWith("pstn_connector_watermark_timestamp_seconds")),
      "its frozen watermark goes",
    );
    assert.ok(lines.includes('pstn_connector_rows_published_total{tenant="a.example.com",stream="pstn"} 5'));
    assert.ok(lines.includes('pstn_connector_active{tenant="a.example.com",stream="pstn"} 0'));
  });
});

describe("readiness of several streams", () => {
  test("ready only when every stream is; each dependency as the worst stream saw it; each stream's detail", () => {
    const pstn = readyHealth();
    const sms = readyHealth();
    const health = new StreamsHealth(
      new Map([
        ["pstn", pstn],
        ["sms", sms],
      ]),
    );
    assert.equal(health.ready(), true);
    sms.set("graph", false);
    sms.setSessionFailing("PSTN_GRAPH_FORBIDDEN");
    assert.equal(health.ready(), false, "one stream failing makes the process not ready");
    const snapshot = health.snapshot();
    assert.equal(snapshot.graph, false);
    assert.equal(snapshot.kafka, true);
    assert.equal(snapshot.sessionFailing, "PSTN_GRAPH_FORBIDDEN");
    assert.equal(snapshot.streams.pstn?.graph, true);
    assert.equal(snapshot.streams.sms?.sessionFailing, "PSTN_GRAPH_FORBIDDEN");

    const fresh = new StreamsHealth(
      new Map([
        ["pstn", pstn],
        ["directRouting", new Health()],
      ]),
    );
    assert.equal(fresh.snapshot().graph, null, "a stream that has not reached Graph yet: unknown");
    assert.equal(fresh.ready(), false);
  });

  test("a replica standing by for one stream and active for another reports both", () => {
    const active = readyHealth();
    const standby = new Health();
    standby.setRole("standby");
    standby.set("kafka", true);
    standby.set("registry", true);
    const health = new StreamsHealth(
      new Map([
        ["pstn", active],
        ["sms", standby],
      ]),
    );
    assert.equal(health.ready(), true, "the standby stream needs only Kafka and the registry");
    assert.equal(health.snapshot().role, "active");
    assert.equal(health.snapshot().streams.sms?.role, "standby");
  });

  test("a stopped unit and a standby are in the detail, not in the overall view of the dependencies", () => {
    const running = readyHealth();
    const stopped = readyHealth();
    stopped.set("graph", false);
    stopped.setSessionFailing("PSTN_GRAPH_FORBIDDEN");
    stopped.setStopped("PSTN_GRAPH_FORBIDDEN");
    const standby = new Health();
    standby.setRole("standby");
    standby.set("kafka", true);
    standby.set("registry", true);
    const health = new StreamsHealth(
      new Map([
        ["a/pstn", running],
        ["b/pstn", stopped],
        ["c/pstn", standby],
      ]),
    );
    const snapshot = health.snapshot();
    assert.equal(health.ready(), true);
    assert.equal(snapshot.graph, true, "the units still reading Graph read it well");
    assert.equal(snapshot.token, true, "a standby asks for no token");
    assert.equal(snapshot.sessionFailing, null);
    assert.equal(snapshot.streams["b/pstn"]?.stopped, "PSTN_GRAPH_FORBIDDEN");
    assert.equal(snapshot.streams["b/pstn"]?.graph, false);
    running.set("graph", false);
    assert.equal(health.snapshot().graph, false, "a running unit's failure still shows");
  });
});
