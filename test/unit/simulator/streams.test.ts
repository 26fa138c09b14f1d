import assert from "node:assert/strict";
import { test } from "node:test";
import { STREAMS, type StreamName } from "../../../tools/simulator/index.js";
import { MASKED_DIGITS } from "../../../tools/simulator/sms-rows.js";
import { formatInstant, parseInstant } from "../../../tools/simulator/time.js";
import {
  call,
  DAY,
  functionUrl,
  graphGet,
  HOUR,
  harness,
  manualClock,
  nextLinkOf,
  readAll,
  token,
} from "./support.js";

const START = new Date("2024-03-01T00:00:00Z");
const END = new Date("2024-03-02T00:00:00Z");
const DR = "getDirectRoutingCalls";
const SMS = "getSmsLog";

function errorOf(body: Record<string, unknown>): {
  code: string;
  message: string;
  innerError: Record<string, unknown>;
} {
  return body.error as { code: string; message: string; innerError: Record<string, unknown> };
}

test("getDirectRoutingCalls: toDateTime is exclusive; a row at `to` comes with the next window, from that instant", async (t) => {
  const h = await harness(t, { seed: 21, dataStart: START, dataEnd: END, callsPerHour: 400 });
  const bearer = await token(h);
  const truth = h.sim.streams.directRouting.visibleRows();
  assert.ok(truth.length > 1500, `${truth.length} Direct Routing rows`);
  const row = truth.find((r, i) => i > 10 && /\.\d{7}Z$/.test(r.startDateTime))!;
  const start = parseInstant(row.startDateTime)!;
  const hourBefore = formatInstant(start.ms - HOUR, start.sub, 7);
  const hourAfter = formatInstant(start.ms + HOUR, start.sub, 7);
  const ids = async (from: string, to: string) => {
    const reply = await graphGet(h, functionUrl(h.sim, DR, from, to), bearer);
    assert.equal(reply.status, 200, reply.text);
    return (reply.json().value as { id: string }[]).map((r) => r.id);
  };

  const before = await ids(hourBefore, row.startDateTime);
  assert.ok(before.length > 0, "the window before holds other rows");
  assert.ok(!before.includes(row.id), "a row starting exactly at toDateTime is not in the window");
  const next = await ids(row.startDateTime, hourAfter);
  assert.equal(next[0], row.id, "the next window, from that instant, starts with it");
  assert.deepEqual(await ids(row.startDateTime, row.startDateTime), [], "from = to: an empty window");
  assert.ok(
    before.every((id) => !next.includes(id)),
    "windows that meet at a bound share no row",
  );

  // The ground truth follows the same rule (a row on a whole millisecond, to meet a Date exactly).
  const whole = truth.find((r, i) => i > 10 && parseInstant(r.startDateTime)!.sub === 0)!;
  const wholeMs = parseInstant(whole.startDateTime)!.ms;
  const dr = h.sim.streams.directRouting;
  assert.ok(!dr.visibleRows(new Date(wholeMs - HOUR), new Date(wholeMs)).some((r) => r.id === whole.id));
  assert.equal(dr.visibleRows(new Date(wholeMs), new Date(wholeMs + HOUR))[0]?.id, whole.id);

  // PSTN and SMS keep both bounds inclusive.
  for (const [name, stream] of [
    ["getPstnCalls", h.sim.streams.pstn],
    [SMS, h.sim.streams.sms],
  ] as const) {
    const rows = stream.visibleRows() as unknown as Record<string, string>[];
    const field = name === SMS ? "sentDateTime" : "startDateTime";
    const some = rows.find((r, i) => i > 10 && /\.\d{7}Z$/.test(r[field] as string))!;
    const at = some[field] as string;
    const reply = await graphGet(h, functionUrl(h.sim, name, at, at), bearer);
    assert.ok(
      (reply.json().value as { id: string }[]).some((r) => r.id === some.id),
      `${name}: from = to = start holds the row`,
    );
  }
});

test("Direct Routing: ~15% of calls fail; a failed call has failureDateTime and no endDateTime property", async (t) => {
  const h = await harness(t, { seed: 22, dataStart: START, dataEnd: END, callsPerHour: 400 });
  const bearer = await token(h);
  const pass = await readAll(h, functionUrl(h.sim, DR, "2024-03-01", "2024-03-02"), bearer);
  const truth = h.sim.streams.directRouting.visibleRows();
  assert.deepEqual(pass.rows, truth, "served exactly as the ground truth holds them");
  const failed = pass.rows.filter((row) => row.successfulCall === false);
  const share = failed.length / pass.rows.length;
  assert.ok(share > 0.1 && share < 0.2, `failure share ${share}`);
  for (const row of failed) {
    assert.ok(!("endDateTime" in row), "no endDateTime on a failed call");
    assert.equal(typeof row.failureDateTime, "string");
    assert.equal(row.duration, 0);
    assert.ok([408, 404, 480, 486, 487, 500, 503].includes(row.finalSipCode as number));
    assert.equal(typeof row.callEndSubReason, "number");
    assert.equal(row.inviteDateTime, row.startDateTime, "a failed call starts at its invite");
  }
  for (const row of pass.rows.filter((r) => r.successfulCall === true)) {
    assert.ok(!("failureDateTime" in row), "no failureDateTime on a successful call");
    const start = parseInstant(row.startDateTime as string)!;
    const end = parseInstant(row.endDateTime as string)!;
    assert.equal(end.ms - start.ms, (row.duration as number) * 1000);
    assert.ok([0, 200].includes(row.finalSipCode as number));
  }
  const raw = pass.texts.join("");
  assert.ok(!raw.includes('"endDateTime":null'), "absent, not null");
  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  assert.ok(pass.rows.every((row) => guid.test(row.id as string) && guid.test(row.correlationId as string)));
  assert.equal(new Set(pass.rows.map((row) => row.id)).size, pass.rows.length, "ids are unique");
  assert.ok(new Set(pass.rows.map((row) => row.callType)).size >= 4);
  assert.ok(pass.rows.some((row) => row.mediaBypassEnabled === true && row.mediaPathLocation === null));
  assert.ok(pass.rows.every((row) => /^sbc\d\.[a-z.]+$/.test(row.trunkFullyQualifiedDomainName as string)));
  assert.ok(pass.rows.every((row) => /^[A-Z]{4}$/.test(row.signalingLocation as string)));
});

test("Direct Routing: beta adds administrativeUnitInfos, otherPartyCountryCode, transferorCorrelationId, userCountryCode", async (t) => {
  const h = await harness(t, {
    seed: 23,
    dataStart: START,
    dataEnd: new Date(START.getTime() + 6 * HOUR),
    callsPerHour: 400,
  });
  const bearer = await token(h);
  const v1 = (await readAll(h, functionUrl(h.sim, DR, "2024-03-01", "2024-03-02", "v1.0"), bearer)).rows;
  const beta = (await readAll(h, functionUrl(h.sim, DR, "2024-03-01", "2024-03-02"), bearer)).rows;
  const betaOnly = [
    "transferorCorrelationId",
    "userCountryCode",
    "otherPartyCountryCode",
    "administrativeUnitInfos",
  ];
  assert.ok(v1.length > 300);
  assert.ok(v1.every((row) => betaOnly.every((key) => !(key in row))));
  assert.ok(beta.every((row) => betaOnly.every((key) => key in row)));
  assert.deepEqual(
    v1,
    beta.map((row) => Object.fromEntries(Object.entries(row).filter(([key]) => !betaOnly.includes(key)))),
  );
  assert.deepEqual(v1, h.sim.streams.directRouting.visibleRows(undefined, undefined, "v1.0"));
});

test("getSmsLog: v1.0 answers 404 ResourceNotFound as for an unknown segment; beta serves smsLogRow", async (t) => {
  const h = await harness(t, { seed: 24, dataStart: START, dataEnd: END, callsPerHour: 300 });
  const bearer = await token(h);
  const v1 = await graphGet(h, functionUrl(h.sim, SMS, "2024-03-01", "2024-03-02", "v1.0"), bearer);
  assert.equal(v1.status, 404);
  const error = errorOf(v1.json());
  assert.equal(error.code, "ResourceNotFound");
  assert.match(error.message, /segment/);
  assert.ok(error.innerError["request-id"] && error.innerError.date);
  const unknown = await graphGet(
    h,
    functionUrl(h.sim, "getSomethingElse", "2024-03-01", "2024-03-02"),
    bearer,
  );
  assert.equal(unknown.status, 404);
  assert.equal(errorOf(unknown.json()).code, "ResourceNotFound", "the same answer as an unknown function");

  const beta = await graphGet(h, functionUrl(h.sim, SMS, "2024-03-01", "2024-03-02"), bearer);
  assert.equal(beta.status, 200, beta.text);
  const body = beta.json();
  assert.equal(
    body["@odata.context"],
    `${h.sim.url}/beta/$metadata#Collection(microsoft.graph.callRecords.smsLogRow)`,
  );
  const rows = body.value as Record<string, unknown>[];
  assert.ok(rows.length > 500, `${rows.length} SMS`);
  assert.deepEqual(Object.keys(rows[0]!), [
    "id",
    "smsId",
    "sentDateTime",
    "smsType",
    "smsUnits",
    "sourceNumber",
    "destinationNumber",
    "callCharge",
    "currency",
    "licenseCapability",
    "destinationContext",
    "destinationName",
    "otherPartyCountryCode",
    "tenantCountryCode",
    "userCountryCode",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "administrativeUnitInfos",
  ]);
  assert.ok(rows.every((row) => row.smsType === "outbound" || row.smsType === "inbound"));
  assert.ok(rows.every((row) => [1, 2, 3].includes(row.smsUnits as number)));
  assert.ok(
    rows.every((row) => row.destinationContext === "Domestic" || row.destinationContext === "International"),
  );
  assert.equal(new Set(rows.map((row) => row.id)).size, rows.length, "ids are unique");
  assert.ok(new Set(rows.map((row) => row.smsId)).size < rows.length, "smsId repeats");
  assert.deepEqual(h.sim.streams.sms.visibleRows(undefined, undefined, "v1.0"), [], "v1.0 has no SMS log");
  const ground = await call(h, `${h.sim.url}/_sim/visible?stream=sms`);
  assert.deepEqual(JSON.parse(ground.text), h.sim.streams.sms.visibleRows());
});

test("SMS: the external number is masked for some countries (+33 612345***), never the user's own", async (t) => {
  const h = await harness(t, {
    seed: 25,
    dataStart: START,
    dataEnd: new Date(START.getTime() + 3 * DAY),
    callsPerHour: 400,
  });
  const bearer = await token(h);
  const pass = await readAll(h, functionUrl(h.sim, SMS, "2024-03-01", "2024-03-04"), bearer);
  assert.ok(pass.rows.length > 2000);
  const masked = /^\+(\d{1,3}) \d+(\*{3,4})$/;
  let maskedCount = 0;
  for (const row of pass.rows) {
    const outbound = row.smsType === "outbound";
    const external = (outbound ? row.destinationNumber : row.sourceNumber) as string;
    const own = (outbound ? row.sourceNumber : row.destinationNumber) as string;
    assert.match(own, /^\+\d{8,14}$/, "the user's own number is whole");
    const digits = MASKED_DIGITS.get(row.otherPartyCountryCode as string);
    if (digits === undefined) {
      assert.match(external, /^\+\d{8,14}$/, `${row.otherPartyCountryCode} does not mask`);
    } else {
      const m = masked.exec(external);
      assert.ok(m, `${external} (${row.otherPartyCountryCode}) is masked`);
      assert.equal(m[2]!.length, digits);
      maskedCount++;
    }
  }
  assert.ok(maskedCount > 20 && maskedCount < pass.rows.length, `${maskedCount} masked`);
  assert.match(pass.texts.join(""), /"\+\d{1,3} \d+\*{3,4}"/, "served masked, as Graph writes them");
});

test("SMS: callCharge is a JSON number written with its exact digits (up to 12 fractional)", async (t) => {
  const h = await harness(t, { seed: 26, dataStart: START, dataEnd: END, callsPerHour: 300 });
  const bearer = await token(h);
  const pass = await readAll(h, functionUrl(h.sim, SMS, "2024-03-01", "2024-03-02"), bearer);
  const truth = h.sim.streams.sms.visibleRows();
  assert.equal(pass.rows.length, truth.length);
  const raw = pass.texts.join("");
  for (const row of truth) {
    assert.match(row.callCharge ?? "", /^\d+(\.\d{1,12})?$/);
    assert.ok(raw.includes(`"callCharge":${row.callCharge},"currency"`), `${row.callCharge} written as is`);
  }
  assert.ok(pass.rows.every((row) => typeof row.callCharge === "number"));
  const twelve = truth.filter((row) => /\.\d{12}$/.test(row.callCharge ?? ""));
  assert.ok(twelve.length > 10, "some charges carry 12 fractional digits");
  assert.ok(
    twelve.some((row) => /0$/.test(row.callCharge ?? "")),
    "trailing zeros are kept in the text (a float would drop them)",
  );
});

test("one throttle budget per app, shared by all three functions", async (t) => {
  const clock = manualClock(Date.parse("2024-03-10T00:00:00Z"));
  const h = await harness(t, {
    seed: 27,
    dataStart: START,
    dataEnd: END,
    callsPerHour: 20,
    now: clock.now,
    faults: { budget: { requests: 3, perMs: 60_000 } },
  });
  const bearer = await token(h);
  const url = (name: string) => functionUrl(h.sim, name, "2024-03-01", "2024-03-02");
  const statuses = async (names: string[]) => {
    const out: number[] = [];
    for (const name of names) out.push((await graphGet(h, url(name), bearer)).status);
    return out;
  };
  // Each function alone stays within the budget ...
  assert.deepEqual(await statuses(["getPstnCalls", "getPstnCalls"]), [200, 200]);
  clock.advance(61_000);
  assert.deepEqual(await statuses([DR, DR]), [200, 200]);
  clock.advance(61_000);
  assert.deepEqual(await statuses([SMS, SMS]), [200, 200]);
  clock.advance(61_000);
  // ... together they exceed it.
  assert.deepEqual(await statuses(["getPstnCalls", "getPstnCalls", DR, DR]), [200, 200, 200, 429]);
  const over = await graphGet(h, url(SMS), bearer);
  assert.equal(over.status, 429);
  assert.equal(errorOf(over.json()).code, "TooManyRequests");
  assert.equal(over.headers["retry-after"], "60");
  clock.advance(61_000);
  assert.deepEqual(await statuses([SMS, DR, "getPstnCalls", SMS]), [200, 200, 200, 429]);
  assert.equal(h.sim.stats().throttled, 3);
});

test("paging with nextLink for each function, @odata.context naming each row type", async (t) => {
  const h = await harness(t, {
    seed: 28,
    dataStart: START,
    dataEnd: END,
    callsPerHour: 200,
    directRoutingCallsPerHour: 100,
    smsPerHour: 60,
    pageSize: 250,
  });
  const bearer = await token(h);
  const truths = {
    pstn: h.sim.streams.pstn.visibleRows(),
    directRouting: h.sim.streams.directRouting.visibleRows(),
    sms: h.sim.streams.sms.visibleRows(),
  };
  for (const name of ["pstn", "directRouting", "sms"] as StreamName[]) {
    const stream = STREAMS[name];
    const truth = truths[name] as { id: string }[];
    assert.ok(truth.length > 1000, `${name}: ${truth.length} rows`);
    const from = "2024-03-01";
    const to = "2024-03-02";
    const pass = await readAll(h, functionUrl(h.sim, stream.functionName, from, to), bearer);
    assert.equal(pass.pages.length, Math.ceil(truth.length / 250), name);
    assert.deepEqual(
      pass.rows.map((row) => row.id),
      truth.map((row) => row.id),
      `${name}: every row once, in order`,
    );
    assert.equal(
      nextLinkOf(pass.pages[0]!)?.link,
      `${h.sim.url}/beta/communications/callRecords/${stream.functionName}(from=${from},to=${to})?$skip=250`,
    );
    assert.equal(nextLinkOf(pass.pages.at(-1)!), undefined, "the last page has no nextLink");
    for (const page of pass.pages) {
      assert.equal(
        page["@odata.context"],
        `${h.sim.url}/beta/$metadata#Collection(microsoft.graph.callRecords.${stream.rowType})`,
      );
    }
  }
  const v1 = await graphGet(h, functionUrl(h.sim, DR, "2024-03-01", "2024-03-02", "v1.0"), bearer);
  assert.equal(
    v1.json()["@odata.context"],
    `${h.sim.url}/v1.0/$metadata#Collection(microsoft.graph.callRecords.directRoutingLogRow)`,
  );
  // The 90-day limit holds for every function.
  for (const name of ["getPstnCalls", DR, SMS]) {
    const reply = await graphGet(
      h,
      functionUrl(h.sim, name, "2024-03-01", "2024-05-30T00:00:00.0000001Z"),
      bearer,
    );
    assert.equal(reply.status, 400, name);
    assert.equal(errorOf(reply.json()).code, "BadRequest");
  }
});

test("densities: each stream its own option or a default share of callsPerHour; PSTN untouched", async (t) => {
  const base = {
    seed: 29,
    dataStart: START,
    dataEnd: new Date(START.getTime() + 2 * DAY),
    callsPerHour: 200,
  };
  const a = await harness(t, base);
  const b = await harness(t, { ...base, directRoutingCallsPerHour: 0, smsPerHour: 100 });
  assert.deepEqual(b.sim.visibleRows(), a.sim.visibleRows(), "PSTN rows do not depend on the other streams");
  assert.deepEqual(b.sim.streams.directRouting.visibleRows(), []);
  const dr = a.sim.streams.directRouting.visibleRows().length / (48 * 200);
  const sms = a.sim.streams.sms.visibleRows().length / (48 * 200);
  assert.ok(Math.abs(dr - 0.25) < 0.03, `Direct Routing ${dr} of PSTN's rate`);
  assert.ok(Math.abs(sms - 0.1) < 0.02, `SMS ${sms} of PSTN's rate`);
  assert.ok(Math.abs(b.sim.streams.sms.visibleRows().length / (48 * 100) - 1) < 0.05);
  const again = await harness(t, base);
  assert.deepEqual(
    again.sim.streams.sms.visibleRows(),
    a.sim.streams.sms.visibleRows(),
    "deterministic per seed",
  );
  assert.deepEqual(again.sim.streams.directRouting.allRows(), a.sim.streams.directRouting.visibleRows());
});

test("late rows, row faults and hostile answers reach Direct Routing and SMS too", async (t) => {
  const clock = manualClock(START.getTime() + 6 * HOUR);
  const h = await harness(t, {
    seed: 30,
    dataStart: START,
    dataEnd: new Date(START.getTime() + 6 * HOUR),
    callsPerHour: 400,
    visibilityDelayMs: { min: 0, max: 6 * HOUR },
    now: clock.now,
  });
  const bearer = await token(h);
  for (const [name, stream] of [
    [DR, h.sim.streams.directRouting],
    [SMS, h.sim.streams.sms],
  ] as const) {
    const all = stream.allRows();
    const early = stream.visibleRows();
    assert.ok(
      early.length > 0 && early.length < all.length,
      `${name}: ${early.length} of ${all.length} visible`,
    );
    const reply = await graphGet(h, functionUrl(h.sim, name, "2024-03-01", "2024-03-02"), bearer);
    assert.deepEqual(
      (reply.json().value as { id: string }[]).map((row) => row.id),
      early.map((row) => row.id),
      `${name}: only the rows visible now are served`,
    );
  }
  clock.advance(6 * HOUR);
  assert.deepEqual(h.sim.streams.sms.visibleRows(), h.sim.streams.sms.allRows());

  h.sim.setFaults({ malformedRowRate: 0.2, oversizedChargeRate: 0.2 });
  const sms = h.sim.streams.sms.visibleRows();
  assert.ok(sms.some((row) => !("id" in row)));
  assert.ok(
    sms.some((row) => row.sentDateTime === "not-a-date"),
    "the SMS start field is the one broken",
  );
  assert.ok(
    sms.some((row) => /^\d{27}\./.test(row.callCharge ?? "")),
    "an SMS charge too big for decimal(38,12)",
  );
  const dr = h.sim.streams.directRouting.visibleRows();
  assert.ok(dr.some((row) => row.startDateTime === "not-a-date"));
  h.sim.setFaults({});

  h.sim.setHostile({ rows: 3 });
  const fresh = await token(h); // the first expired as the clock moved
  const hostile = await graphGet(h, functionUrl(h.sim, SMS, "2024-03-01", "2024-03-02"), fresh);
  assert.equal(hostile.status, 200);
  assert.deepEqual(hostile.json().value, [
    { id: "hostile-0", sentDateTime: "2024-03-01" },
    { id: "hostile-1", sentDateTime: "2024-03-01" },
    { id: "hostile-2", sentDateTime: "2024-03-01" },
  ]);
  assert.match(String(hostile.json()["@odata.context"]), /smsLogRow\)$/);
});
