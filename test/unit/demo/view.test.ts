/**
 * The demo's view with several tenants (demo --tenants): a line per tenant, the streams' totals
 * over the tenants, the counters per tenant, the summary's lines per tenant; and the one-tenant
 * view as it was. Under the demo's privacy policy: a raw record and the SIEM record of the same row
 * side by side, the policy the demo writes, and the pairing of the records read back.
 */
import assert from "node:assert/strict";
import { createHmac, createSecretKey, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadPrivacyPolicy } from "../../../src/config/privacy.js";
import { Metrics } from "../../../src/metrics/index.js";
import type { Progress } from "../../../src/pipeline/source.js";
import { rowTransform } from "../../../src/privacy/policy.js";
import { STREAMS, type StreamName } from "../../../src/streams/index.js";
import { demoTenants } from "../../../tools/cli/demo.js";
import {
  actionLabels,
  DEMO_KEY_VARIABLE,
  demoKey,
  demoPolicy,
  demoPolicyVersion,
  PairTracker,
  policyHeaders,
  type ReadRecord,
} from "../../../tools/demo/privacy.js";
import {
  cell,
  changedFields,
  combineStreams,
  type PrivacyPair,
  readCounters,
  renderPrivacyPair,
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

const TOKEN_KEY = randomBytes(32);
const token = (value: string) => `k1:${createHmac("sha256", TOKEN_KEY).update(value).digest("hex")}`;

/** A pstn row raw and as the demo's SIEM output writes it. */
function pstnPair(extra: Partial<PrivacyPair> = {}): PrivacyPair {
  const raw = {
    id: "0b5f3c2e-1d2a-4c3b-9e8f-7a6b5c4d3e2f",
    callId: "1234",
    userPrincipalName: "alice@contoso.com",
    userDisplayName: "Alice Smith",
    startDateTime: "2026-03-01T11:59:00.000000Z",
    callType: "user_out",
    calleeNumber: "+14255550123",
    callerNumber: "+442071234567",
    clientPublicIpV4Address: "203.0.113.57",
    clientLocalIpV4Address: "192.168.1.20",
    clientLocalIpV6Address: null,
    charge: "0.12",
  };
  return {
    stream: "pstn",
    id: raw.id,
    topics: { raw: "calls", siem: "calls.siem" },
    raw,
    siem: {
      ...raw,
      userPrincipalName: token("alice@contoso.com"),
      userDisplayName: null,
      calleeNumber: `+1~${token("+14255550123")}`,
      callerNumber: `+44~${token("+442071234567")}`,
      clientPublicIpV4Address: "203.0.113.0",
      clientLocalIpV4Address: null,
    },
    rawHeaders: { "pstn.policy.version": "demo-1" },
    siemHeaders: { "pstn.policy.version": "demo-1", "pstn.policy.key": "k1" },
    actions: actionLabels("pstn"),
    ...extra,
  };
}

describe("the demo's privacy view: a raw and a SIEM record of one row side by side", () => {
  test("a field per line, raw → SIEM with the action, the headers, tokens shortened", () => {
    const lines = renderPrivacyPair(pstnPair());
    const text = lines.join("\n");
    assert.equal(lines[0], "    pstn 0b5f3c2e-1d2a-4c3b-9e8f-7a6b5c4d3e2f");
    assert.match(lines[1] ?? "", /^ {4}field +calls \(raw\) +calls\.siem$/);
    assert.match(
      text,
      /^ {4}id +0b5f3c2e-1d2a-4c3b-9e8f-7a6b5c4d3e2f += {2}0b5f3c2e-1d2a-4c3b-9e8f-7a6b5c4d3e2f$/m,
    );
    assert.match(text, /^ {4}startDateTime +2026-03-01T11:59:00\.000000Z += {2}2026-03-01T11:59:00/m);
    const hex = (value: string) => token(value).slice(3, 11);
    assert.match(
      text,
      new RegExp(
        `^ {4}callerNumber +\\+442071234567 +→  \\+44~k1:${hex("+442071234567")}… +hash, country code kept$`,
        "m",
      ),
    );
    assert.match(
      text,
      new RegExp(`^ {4}calleeNumber +\\+14255550123 +→  \\+1~k1:${hex("+14255550123")}… `, "m"),
    );
    assert.match(
      text,
      new RegExp(
        `^ {4}userPrincipalName +alice@contoso\\.com +→  k1:${hex("alice@contoso.com")}… +hash$`,
        "m",
      ),
    );
    assert.match(text, /^ {4}userDisplayName +Alice Smith +→ {2}null +drop$/m);
    assert.match(text, /^ {4}clientPublicIpV4Address +203\.0\.113\.57 +→ {2}203\.0\.113\.0 +truncate-ip/m);
    assert.match(text, /^ {4}clientLocalIpV4Address +192\.168\.1\.20 +→ {2}null +drop$/m);
    assert.match(text, /^ {4}header pstn\.policy\.version +demo-1 += {2}demo-1$/m);
    assert.match(text, /^ {4}header pstn\.policy\.key +- +→ {2}k1$/m);
    // callId, callType, clientLocalIpV6Address (null in both) and charge.
    assert.equal(lines.at(-1), "    (4 other fields alike in both)");
    assert.ok(!text.includes(token("+442071234567")), "tokens are shortened");
    assert.ok(!/callType|charge/.test(text), "the fields alike are counted, not shown");
    // Raw and SIEM columns line up: every arrow or equals sign at the same column.
    const marks = lines.slice(2, -1).map((line) => line.search(/ [→=] /));
    assert.equal(new Set(marks).size, 1, text);
    assert.deepEqual(changedFields(pstnPair()), [
      "userPrincipalName",
      "userDisplayName",
      "calleeNumber",
      "callerNumber",
      "clientPublicIpV4Address",
      "clientLocalIpV4Address",
    ]);
  });

  test("a cell: tokens cut to 8 hex digits, empty text and null told apart, long values cut", () => {
    assert.equal(cell(`+44~${token("+442071234567")}`), `+44~${token("+442071234567").slice(0, 11)}…`);
    assert.equal(cell(""), '""');
    assert.equal(cell(null), "null");
    assert.equal(cell([{ id: "a" }]), '[{"id":"a"}]');
    assert.equal(cell("x".repeat(60)), `${"x".repeat(39)}…`);
  });

  test("the view: the SIEM topic beside each raw one, the policy, the pair or a line awaiting it", () => {
    const privacy = { file: "/tmp/pstn-demo-x/privacy-policy.json", version: "demo-1", keyId: "k1" };
    const waiting = renderView(
      state({
        topics: [
          { stream: "pstn", topic: "calls", siem: "calls.siem" },
          { stream: "sms", topic: "sms", siem: "sms.siem" },
        ],
        privacy,
      }),
    ).join("\n");
    assert.match(waiting, /^ {2}topics: pstn -> calls \+ calls\.siem, sms -> sms \+ sms\.siem$/m);
    assert.match(
      waiting,
      /^ {2}privacy policy \/tmp\/pstn-demo-x\/privacy-policy\.json \(version demo-1; hashing key k1, random for this run, never shown\)$/m,
    );
    assert.match(waiting, /^ {4}\(waiting for a row read back from both outputs\)$/m);
    const shown = renderView(state({ privacy: { ...privacy, pair: pstnPair() } }));
    const at = shown.findIndex((line) => line.startsWith("  one event raw and as the SIEM output wrote it"));
    assert.ok(at > 0, shown.join("\n"));
    assert.deepEqual(
      shown.slice(at + 1, at + 1 + renderPrivacyPair(pstnPair()).length),
      renderPrivacyPair(pstnPair()),
    );
    assert.match(shown.at(-2) ?? "", /^ {2}logs: /);
    // With several tenants too, the pair naming its tenant.
    const fleet = renderView(
      state({
        streams: streamTotals(tenants),
        tenants,
        privacy: { ...privacy, pair: pstnPair({ tenant: "Fabrikam" }) },
      }),
    ).join("\n");
    assert.match(fleet, /^ {4}pstn 0b5f3c2e-1d2a-4c3b-9e8f-7a6b5c4d3e2f \(Fabrikam\)$/m);
    assert.match(fleet, /^ {4}callerNumber +\+442071234567 +→ {2}\+44~k1:/m);
    // No policy: no privacy lines, the topics as they were.
    assert.ok(!renderView(state()).some((line) => /privacy|siem/.test(line)));
  });

  test("the demo's policy: the loader takes it, raw and .siem per stream, the key by reference only", () => {
    const dir = mkdtempSync(join(tmpdir(), "pstn-demo-policy-"));
    try {
      const key = demoKey();
      assert.equal(Buffer.from(key, "base64").length, 32);
      assert.notEqual(demoKey(), key, "a key per run");
      const version = demoPolicyVersion(NOW);
      assert.equal(version, "demo-20260301T120000Z");
      const names = Object.keys(STREAMS) as StreamName[];
      const topics = Object.fromEntries(
        names.map((stream) => [
          stream,
          { data: `t-${stream}`, dlq: `t-${stream}.dlq`, state: `t-${stream}.state` },
        ]),
      ) as Record<StreamName, { data: string; dlq: string; state: string }>;
      const text = demoPolicy(
        version,
        Object.fromEntries(names.map((s) => [s, topics[s].data])) as Record<StreamName, string>,
      );
      assert.ok(!text.includes(key), "the key's bytes are not in the file");
      const file = join(dir, "privacy-policy.json");
      writeFileSync(file, text);
      const loaded = loadPrivacyPolicy(file, names, topics, { [DEMO_KEY_VARIABLE]: key });
      assert.equal(loaded.problems, undefined, loaded.problems?.join("\n"));
      const privacy = loaded.privacy;
      assert.equal(privacy?.version, version);
      for (const stream of names) {
        const outputs = privacy?.outputs[stream] ?? [];
        assert.deepEqual(
          outputs.map((output) => [output.topic, output.keyId]),
          [
            [`t-${stream}`, undefined],
            [`t-${stream}.siem`, "k1"],
          ],
        );
        assert.equal(rowTransform(outputs[0]?.policy ?? { changes: [] }), undefined, "the raw output is raw");
      }
      // What the pstn SIEM output does to a row, checked with an HMAC computed here.
      const siem = rowTransform(privacy?.outputs.pstn?.[1]?.policy ?? { changes: [] });
      const hmac = (value: string) =>
        `k1:${createHmac("sha256", createSecretKey(Buffer.from(key, "base64")))
          .update(value)
          .digest("hex")}`;
      assert.deepEqual(
        siem?.({
          id: "a",
          startDateTime: "2026-03-01T11:59:00Z",
          callerNumber: "+442071234567",
          calleeNumber: "+14255550123",
          userPrincipalName: "alice@contoso.com",
          userDisplayName: "Alice Smith",
          clientPublicIpV4Address: "203.0.113.57",
          clientPublicIpV6Address: "2001:db8:1234:5678::1",
          clientLocalIpV4Address: "192.168.1.20",
          clientLocalIpV6Address: "fd00::1",
          callType: "user_out",
        }),
        {
          id: "a",
          startDateTime: "2026-03-01T11:59:00Z",
          callerNumber: `+44~${hmac("+442071234567")}`,
          calleeNumber: `+1~${hmac("+14255550123")}`,
          userPrincipalName: hmac("alice@contoso.com"),
          userDisplayName: null,
          clientPublicIpV4Address: "203.0.113.0",
          clientPublicIpV6Address: "2001:db8:1234::",
          clientLocalIpV4Address: null,
          clientLocalIpV6Address: null,
          callType: "user_out",
        },
      );
      // Without the variable, the policy names it and does not load.
      const missing = loadPrivacyPolicy(file, names, topics, {});
      assert.match(
        missing.problems?.join("\n") ?? "",
        new RegExp(`keys\\.k1: env: ${DEMO_KEY_VARIABLE} is not set`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("pairing: either half first, the same row only, SIEM records decoded only when they may show", async () => {
    const pair = pstnPair();
    let decodes = 0;
    const tracker = new PairTracker({
      decode: async (_stream, value) => {
        decodes++;
        return JSON.parse(value.toString()) as Record<string, unknown>;
      },
    });
    const record = (topic: string, key: string, headers: Record<string, string>): ReadRecord => ({
      stream: "pstn",
      topic,
      key,
      headers,
    });
    const siemOf = (row: Record<string, unknown>) => Buffer.from(JSON.stringify(row));
    assert.equal(tracker.latest(["pstn"]), undefined);
    // The SIEM half first, then a raw row of another id: no pair.
    await tracker.siem(record("calls.siem", pair.id, pair.siemHeaders), siemOf(pair.siem), 1000);
    await tracker.raw(record("calls", "other", {}), { ...pair.raw, id: "other" }, 1000);
    assert.equal(tracker.latest(["pstn"]), undefined);
    assert.equal(decodes, 0);
    await tracker.raw(record("calls", pair.id, pair.rawHeaders), pair.raw, 1001);
    assert.deepEqual(tracker.latest(["sms", "pstn"]), pair);
    assert.equal(decodes, 1);
    // A row with less to hide (no IPs, no display name) does not replace it, nor is its SIEM half decoded.
    const poor = { ...pair.raw, id: "poor", userDisplayName: null, clientPublicIpV4Address: null };
    await tracker.raw(record("calls", "poor", {}), poor, 1500);
    await tracker.siem(record("calls.siem", "poor", {}), siemOf(poor), 1500);
    assert.equal(decodes, 1);
    assert.equal(tracker.latest(["pstn"])?.id, pair.id);
    // One as telling, the raw half first, after refreshMs: shown instead.
    const next = { ...pair.raw, id: "next" };
    await tracker.raw(record("calls", "next", pair.rawHeaders), next, 7000);
    await tracker.siem(
      record("calls.siem", "next", pair.siemHeaders),
      siemOf({ ...pair.siem, id: "next" }),
      7000,
    );
    assert.equal(decodes, 2);
    assert.equal(tracker.latest(["pstn"])?.id, "next");
    // Long shown, a less telling one may take its place.
    const later = { ...poor, id: "later" };
    await tracker.raw(record("calls", "later", {}), later, 40_000);
    await tracker.siem(
      record("calls.siem", "later", {}),
      siemOf({ ...pair.siem, id: "later", userDisplayName: null, clientPublicIpV4Address: null }),
      40_000,
    );
    assert.equal(tracker.latest(["pstn"])?.id, "later");
    assert.deepEqual(
      policyHeaders(
        new Map([
          [Buffer.from("pstn.policy.key"), Buffer.from("k1")],
          [Buffer.from("pstn.tenant"), Buffer.from("t")],
        ]),
      ),
      {
        "pstn.policy.key": "k1",
      },
    );
  });
});
