import assert from "node:assert/strict";
import { test } from "node:test";
import { formatInstant, parseInstant } from "../../../tools/simulator/time.js";
import { call, graphGet, harness, manualClock, nextLinkOf, pstnUrl, readAll, token } from "./support.js";

const START = new Date("2019-11-01T00:00:00Z");

test("2,500+ rows in pages of 1,000: nextLink in both spellings, followed as given, equal to the ground truth", async (t) => {
  const h = await harness(t, {
    seed: 3,
    dataStart: START,
    dataEnd: new Date("2019-11-02T00:00:00Z"),
    callsPerHour: 120,
  });
  const bearer = await token(h);
  const from = "2019-11-01";
  const to = "2019-11-01T23:59:59.9999999Z";
  const truth = h.sim.visibleRows(START, new Date("2019-11-02T00:00:00Z"));
  assert.ok(truth.length >= 2500 && truth.length < 3000, `seed 3 gives ${truth.length} rows`);

  const pass = await readAll(h, pstnUrl(h.sim, from, to), bearer);
  assert.equal(pass.pages.length, 3);
  assert.deepEqual(
    pass.pages.map((page) => page["@odata.count"]),
    [1000, 1000, truth.length - 2000],
    "@odata.count counts the rows of its page",
  );
  assert.deepEqual(
    new Set(pass.keys),
    new Set(["@odata.nextLink", "@odata.NextLink"]),
    "both spellings appear",
  );
  assert.equal(
    nextLinkOf(pass.pages[2] as Record<string, unknown>),
    undefined,
    "the last page has no nextLink",
  );
  const first = nextLinkOf(pass.pages[0] as Record<string, unknown>);
  assert.equal(
    first?.link,
    `${h.sim.url}/beta/communications/callRecords/getPstnCalls(from=${from},to=${to})?$skip=1000`,
    "the documented, renamed form",
  );
  for (const page of pass.pages) {
    assert.equal(
      page["@odata.context"],
      `${h.sim.url}/beta/$metadata#Collection(microsoft.graph.callRecords.pstnCallLogRow)`,
    );
  }

  // Same rows, same order, same values; the body carries money as numbers with the exact text.
  assert.deepEqual(
    pass.rows.map((row) => row.id),
    truth.map((row) => row.id),
  );
  const byId = new Map(truth.map((row) => [row.id, row]));
  for (const row of pass.rows) {
    const expected = byId.get(row.id as string)!;
    assert.deepEqual(
      { ...row, charge: undefined, connectionCharge: undefined },
      { ...expected, charge: undefined, connectionCharge: undefined },
    );
    assert.equal(typeof row.charge, "number");
    assert.equal(row.charge, Number(expected.charge));
  }
  const body = pass.texts.join("");
  for (const row of truth.slice(0, 200)) {
    assert.ok(
      body.includes(`"charge":${row.charge},"callType":"${row.callType}"`),
      `charge ${row.charge} of ${row.id} is written with its exact text`,
    );
  }
  assert.equal(h.sim.stats().rowsServed, truth.length);
});

test("paging over the same data twice gives the same pages (stable order by start, then id)", async (t) => {
  const h = await harness(t, {
    seed: 5,
    dataStart: START,
    dataEnd: new Date("2019-11-01T06:00:00Z"),
    callsPerHour: 400,
    pageSize: 300,
  });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2019-11-01", "2019-11-02");
  const a = await readAll(h, url, bearer);
  const b = await readAll(h, url, bearer);
  assert.deepEqual(a.texts, b.texts);
  const starts = a.rows.map((row) => parseInstant(row.startDateTime as string)!);
  for (let i = 1; i < starts.length; i++) {
    const previous = starts[i - 1]!;
    const current = starts[i]!;
    const order = current.ms - previous.ms || current.sub - previous.sub;
    assert.ok(
      order > 0 || (order === 0 && (a.rows[i]!.id as string) > (a.rows[i - 1]!.id as string)),
      `row ${i} out of order`,
    );
  }
  assert.equal(new Set(a.rows.map((row) => row.id)).size, a.rows.length, "ids are unique");
});

test("both bounds are inclusive on the start time, to the 100 ns tick; date-only and offsets are accepted", async (t) => {
  const h = await harness(t, {
    seed: 9,
    dataStart: START,
    dataEnd: new Date("2019-11-01T12:00:00Z"),
    callsPerHour: 60,
  });
  const bearer = await token(h);
  const rows = h.sim.visibleRows();
  const row = rows.find((r) => /\.\d{7}Z$/.test(r.startDateTime))!;
  const start = parseInstant(row.startDateTime)!;
  const before = formatInstant(start.ms, start.sub - 1 < 0 ? 9999 : start.sub - 1, 7);
  const after = formatInstant(start.ms, start.sub + 1 > 9999 ? 0 : start.sub + 1, 7);
  assert.ok(start.sub > 0 && start.sub < 9999, "pick a start with room for a tick either side");

  const ids = async (from: string, to: string) => {
    const reply = await graphGet(h, pstnUrl(h.sim, from, to), bearer);
    assert.equal(reply.status, 200, reply.text);
    return (reply.json().value as { id: string }[]).map((r) => r.id);
  };
  assert.deepEqual(
    await ids(row.startDateTime, row.startDateTime),
    [row.id],
    "from = to = start holds the row",
  );
  assert.ok(!(await ids(after, after)).includes(row.id), "a tick later excludes it");
  assert.ok((await ids(before, row.startDateTime)).includes(row.id));
  assert.ok(!(await ids(before, before)).includes(row.id));

  // Date only means midnight UTC; an offset is converted.
  const dateOnly = await ids("2019-11-01", "2019-11-01T02:00:00Z");
  const withOffset = await ids("2019-11-01T01:00:00%2B01:00", "2019-11-01T03:00:00+01:00");
  assert.deepEqual(dateOnly, withOffset);
  assert.deepEqual(
    dateOnly,
    rows
      .filter((r) => {
        const s = parseInstant(r.startDateTime)!;
        const end = Date.parse("2019-11-01T02:00:00Z");
        return s.ms < end || (s.ms === end && s.sub === 0);
      })
      .map((r) => r.id),
  );
});

test("a range over 90 days, from after to, and a bad instant are 400 with Graph's error JSON", async (t) => {
  const h = await harness(t, {
    dataStart: START,
    dataEnd: new Date("2019-11-02T00:00:00Z"),
    callsPerHour: 10,
  });
  const bearer = await token(h);
  const exactly90 = await graphGet(h, pstnUrl(h.sim, "2019-11-01", "2020-01-30"), bearer);
  assert.equal(exactly90.status, 200, "exactly 90 days is allowed");
  for (const [from, to] of [
    ["2019-11-01", "2020-01-30T00:00:00.0000001Z"],
    ["2019-11-02", "2019-11-01"],
    ["2019-11-01", "yesterday"],
    ["2019-02-30", "2019-03-01"],
  ] as const) {
    const reply = await graphGet(h, pstnUrl(h.sim, from, to), bearer);
    assert.equal(reply.status, 400, `${from}..${to}`);
    const error = reply.json().error as Record<string, unknown>;
    assert.equal(error.code, "BadRequest");
    assert.equal(typeof error.message, "string");
    assert.ok((error.innerError as Record<string, unknown>)["request-id"]);
  }
});

test("v1.0 omits administrativeUnitInfos (beta), beta carries it; unknown paths are 404", async (t) => {
  const h = await harness(t, {
    seed: 2,
    dataStart: START,
    dataEnd: new Date("2019-11-01T05:00:00Z"),
    callsPerHour: 50,
  });
  const bearer = await token(h);
  const v1 = (await graphGet(h, pstnUrl(h.sim, "2019-11-01", "2019-11-02", "v1.0"), bearer)).json();
  const beta = (await graphGet(h, pstnUrl(h.sim, "2019-11-01", "2019-11-02", "beta"), bearer)).json();
  const v1Rows = v1.value as Record<string, unknown>[];
  const betaRows = beta.value as Record<string, unknown>[];
  assert.ok(v1Rows.length > 100);
  assert.ok(v1Rows.every((row) => !("administrativeUnitInfos" in row)));
  assert.ok(betaRows.every((row) => Array.isArray(row.administrativeUnitInfos)));
  assert.deepEqual(
    v1Rows,
    betaRows.map(({ administrativeUnitInfos: _units, ...rest }) => rest),
  );
  assert.deepEqual(
    h.sim.visibleRows(undefined, undefined, "v1.0"),
    h.sim.visibleRows().map(({ administrativeUnitInfos: _u, ...rest }) => rest),
  );
  assert.match(String(v1["@odata.context"]), /\/v1\.0\/\$metadata#Collection/);

  const direct = await graphGet(
    h,
    `${h.sim.url}/v1.0/communications/callRecords/getDirectRoutingCalls(fromDateTime=2019-11-01,toDateTime=2019-11-02)`,
    bearer,
  );
  assert.equal(direct.status, 200);
  assert.deepEqual(
    direct.json().value,
    h.sim.streams.directRouting.visibleRows(START, new Date("2019-11-02T00:00:00Z"), "v1.0"),
    "getDirectRoutingCalls serves its own stream (see streams.test.ts)",
  );
  const unknown = await graphGet(
    h,
    `${h.sim.url}/v1.0/communications/callRecords/getSomethingElse()`,
    bearer,
  );
  assert.equal(unknown.status, 404);
  assert.equal(typeof (unknown.json().error as Record<string, unknown>).code, "string");
});

test("ground truth over HTTP: /_sim/visible and /_sim/stats", async (t) => {
  const h = await harness(t, {
    seed: 4,
    dataStart: START,
    dataEnd: new Date("2019-11-01T03:00:00Z"),
    callsPerHour: 30,
  });
  const reply = await call(h, `${h.sim.url}/_sim/visible?from=2019-11-01T01:00:00Z&to=2019-11-01T02:00:00Z`);
  assert.equal(reply.status, 200);
  assert.deepEqual(
    JSON.parse(reply.text),
    h.sim.visibleRows(new Date("2019-11-01T01:00:00Z"), new Date("2019-11-01T02:00:00Z")),
  );
  const stats = await call(h, `${h.sim.url}/_sim/stats`);
  assert.equal(stats.json().graphRequests, 0);
});

test("cachePages: settled data is rendered once and served again as it was; unsettled data is never cached", async (t) => {
  const end = new Date("2019-11-01T06:00:00Z");
  const clock = manualClock(end.getTime() - 60_000);
  const h = await harness(t, {
    seed: 5,
    dataStart: START,
    dataEnd: end,
    callsPerHour: 600,
    visibilityDelayMs: { min: 0, max: 30_000 },
    pageSize: 500,
    cachePages: true,
    now: clock.now,
  });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2019-11-01", "2019-11-01T06:00:00Z");

  // Before the last rows are visible, each pass renders anew and sees what became visible since.
  const early = await readAll(h, url, bearer);
  clock.set(end.getTime() + 30_000);
  const settled = await readAll(h, url, bearer);
  assert.equal(h.sim.stats().pagesFromCache, 0);
  assert.ok(
    settled.rows.length > early.rows.length,
    `${settled.rows.length} rows now, ${early.rows.length} before`,
  );

  // Settled: the second pass comes from the cache, byte for byte the first's.
  const again = await readAll(h, url, bearer);
  assert.equal(h.sim.stats().pagesFromCache, again.pages.length);
  assert.deepEqual(again.pages, settled.pages);
  assert.equal(settled.rows.length, h.sim.visibleRows().length);
});
