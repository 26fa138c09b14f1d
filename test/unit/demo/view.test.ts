/**
 * The demo's view with several tenants (demo --tenants): a line per tenant, the streams' totals
 * over the tenants, the counters per tenant, the summary's lines per tenant; and the one-tenant
 * view as it was.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Metrics } from "../../../src/metrics/index.js";
import type { Progress } from "../../../src/pipeline/source.js";
import { demoTenants } from "../../../tools/cli/demo.js";
import {
  combineStreams,
  readCounters,
  renderTenantsProgressLine,
  renderTenantsSummary,
  renderView,
  type StreamView,
  streamTotals,
  type TenantView,
  type ViewState,
} from "../../../tools/demo/view.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");

function progress(published: number, watermarkAgoS: number | undefined): Progress {
  return {
    start: new Date(NOW - 86_400_000),
    fetched: published + 2,
    published,
    duplicates: 2,
    deadLettered: 0,
    watermark: watermarkAgoS === undefined ? undefined : new Date(NOW - watermarkAgoS * 1000),
  };
}

function stream(name: string, published: number, watermarkAgoS: number | undefined): StreamView {
  return {
    name,
    progress: progress(published, watermarkAgoS),
    rowsPerSecond: 1,
    graphRequests: 5,
    throttled: 1,
  };
}

const budget: ViewState["budget"] = {
  requestsLastMinute: 30,
  maxRequestsPerMinute: 190,
  graphByCode: { "200": 28, "429": 2 },
  throttled: 2,
};

function state(extra: Partial<ViewState> = {}): ViewState {
  return {
    header: "pstn-connector demo: test",
    topics: [
      { stream: "pstn", topic: "calls" },
      { stream: "sms", topic: "sms" },
    ],
    streams: [stream("pstn", 100, 4), stream("sms", 10, 6)],
    budget,
    tokensIssued: 3,
    unknownProperties: 0,
    events: [],
    now: NOW,
    logFile: "/tmp/demo.log",
    ...extra,
  };
}

const tenants: TenantView[] = [
  {
    name: "Contoso",
    tenantId: "6f1e3c55-2b7a-4d8e-9c41-0a5b7d2e8f13",
    streams: [stream("pstn", 100, 4), stream("sms", 10, 6)],
    requestsLastMinute: 10,
  },
  {
    name: "Fabrikam",
    tenantId: "fabrikam.onmicrosoft.com",
    streams: [stream("pstn", 50, 2), stream("sms", 5, undefined)],
    requestsLastMinute: 20,
  },
];

describe("the demo's view", () => {
  test("one tenant: the table per stream, no tenant lines", () => {
    const lines = renderView(state());
    assert.match(
      lines[3] ?? "",
      /^ {2}stream +fetched +published +duplicates +dead-letters +rows\/s +Graph req +429 +watermark \(lag\)$/,
    );
    assert.match(lines[4] ?? "", /^ {2}pstn +102 +100 +2 +0 +1 +5 +1 +2026-03-01T11:59:56\.000Z \(4 s\)$/);
    assert.match(lines[5] ?? "", /^ {2}sms +12 +10 /);
    assert.ok(!lines.some((line) => /tenant/.test(line)), lines.join("\n"));
    assert.match(
      lines.join("\n"),
      /Graph budget \(one for all streams\): 30 requests in the last minute of 190\/min/,
    );
  });

  test("several tenants: a line per tenant (streams summed, the slowest watermark), then the streams' totals", () => {
    const lines = renderView(
      state({
        streams: streamTotals(tenants),
        tenants,
        tenantsFile: "/tmp/tenants.yaml",
        events: [
          {
            stream: "sms",
            tenant: "Fabrikam",
            id: "abcdef0123",
            at: "2026-03-01T11:59:00Z",
            smsType: "outbound",
            sourceNumber: "+1",
            destinationNumber: "+2",
            callCharge: "0.01 USD",
          },
        ],
      }),
    );
    const text = lines.join("\n");
    assert.match(text, /tenants: 2 from \/tmp\/tenants\.yaml/);
    assert.match(
      text,
      /^ {2}tenant +fetched +published +duplicates +dead-letters +rows\/s +Graph req +req\/min +429/m,
    );
    assert.match(text, /^ {2}Contoso +114 +110 +4 +0 +2 +10 +10 +2 +2026-03-01T11:59:54\.000Z \(6 s\)$/m);
    assert.match(text, /^ {2}Fabrikam +59 +55 +4 +0 +2 +10 +20 +2 +\(first poll running\)$/m);
    assert.match(text, /^ {2}pstn +154 +150 +4 +0 +2 +10 +2 +2026-03-01T11:59:56\.000Z \(4 s\)$/m);
    assert.match(text, /^ {2}sms +19 +15 .*\(first poll running\)$/m);
    assert.match(text, /^ {2}total +173 +165 +8 +0 +4 +20 +30 +4 +\(first poll running\)$/m);
    assert.match(text, /Graph budget \(one per tenant, 190\/min each\): busiest Fabrikam 20 requests/);
    assert.match(text, /^ {4}sms +Fabrikam +abcdef01 /m);
    assert.equal(lines.filter((line) => line.includes("calls")).length, 1, "each topic named once");
  });

  test("combineStreams: counts summed, the oldest watermark, none while a stream has none", () => {
    const both = combineStreams("x", [stream("pstn", 1, 4), stream("sms", 2, 9)]);
    assert.equal(both.progress.published, 3);
    assert.equal(both.progress.watermark?.getTime(), NOW - 9000);
    assert.equal(
      combineStreams("x", [stream("pstn", 1, 4), stream("sms", 2, undefined)]).progress.watermark,
      undefined,
    );
    assert.equal(combineStreams("x", []).progress.watermark, undefined);
  });

  test("the summary's and the progress line's tenants", () => {
    const [contoso, fabrikam] = renderTenantsSummary(tenants, NOW);
    assert.equal(
      contoso,
      "demo: tenant Contoso (6f1e3c55-2b7a-4d8e-9c41-0a5b7d2e8f13): published 110 (pstn 100, sms 10), duplicates dropped 4, dead-lettered 0, Graph requests 10 (429s 2), watermark 2026-03-01T11:59:54.000Z (lag 6 s)",
    );
    assert.match(
      fabrikam ?? "",
      /^demo: tenant Fabrikam \(fabrikam\.onmicrosoft\.com\): published 55 \(pstn 50, sms 5\), .* watermark -$/,
    );
    const line = renderTenantsProgressLine({ tenants, budget });
    assert.match(
      line,
      /^Contoso: published 110 duplicates 4 requests 10 watermark 2026-03-01T11:59:54\.000Z \| Fabrikam: published 55 /,
    );
    assert.match(
      line,
      /\| all: fetched 173 published 165 duplicates 8 dead-lettered 0, Graph 30 requests in the last minute, 429s 2$/,
    );
  });

  test("readCounters: per stream, per tenant and their totals; tokens of every tenant", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const a = metrics.forStream("pstn", "a.example.com");
    const b = metrics.forStream("pstn", "b.example.com");
    a.graphRequests.inc({ code: "200" }, 3);
    b.graphRequests.inc({ code: "200" }, 2);
    b.graphRequests.inc({ code: "429" });
    b.graphThrottled.inc();
    metrics.tokenRequests.inc({ tenant: "a.example.com", outcome: "issued" }, 2);
    metrics.tokenRequests.inc({ tenant: "b.example.com", outcome: "issued" });
    metrics.tokenRequests.inc({ tenant: "b.example.com", outcome: "cache" }, 5);
    const counters = await readCounters(metrics);
    assert.equal(counters.graphRequests, 6);
    assert.equal(counters.streams.pstn?.graphRequests, 6);
    assert.equal(counters.tenants["a.example.com"]?.graphRequests, 3);
    assert.equal(counters.tenants["b.example.com"]?.streams.pstn?.graphRequests, 3);
    assert.equal(counters.tenants["b.example.com"]?.throttled, 1);
    assert.equal(counters.tenants["a.example.com"]?.tokensIssued, 2);
    assert.equal(counters.tokensIssued, 3);
  });

  test("the roster of --tenants: the main tenant first, distinct names, ids and rates", () => {
    const roster = demoTenants(20);
    assert.equal(roster[0]?.id, undefined, "the main tenant is the simulator's own");
    assert.deepEqual(
      roster.slice(0, 3).map((tenant) => [tenant.name, tenant.rate]),
      [
        ["Contoso", 1],
        ["Fabrikam", 0.5],
        ["Northwind", 2],
      ],
    );
    assert.equal(new Set(roster.map((tenant) => tenant.name)).size, 20);
    assert.equal(new Set(roster.map((tenant) => tenant.id)).size, 20);
    for (const tenant of roster.slice(1)) assert.match(tenant.id ?? "", /^[a-z0-9-]+\.onmicrosoft\.com$/);
    assert.equal(new Set(roster.slice(0, 10).map((tenant) => tenant.rate)).size, 10);
  });
});
