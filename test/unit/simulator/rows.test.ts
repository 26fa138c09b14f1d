import assert from "node:assert/strict";
import { test } from "node:test";
import { startGraphSimulator } from "../../../tools/simulator/index.js";
import {
  buildRow,
  type RowFaultRates,
  type SimulatedRow,
  serializePlainRow,
  serializeRow,
} from "../../../tools/simulator/rows.js";
import { parseInstant } from "../../../tools/simulator/time.js";
import { DAY, graphGet, HOUR, harness, manualClock, nextLinkOf, pstnUrl, readAll, token } from "./support.js";

const START = new Date("2023-06-01T00:00:00Z");
const NO_FAULTS: RowFaultRates = { extraPropertyRate: 0, malformedRowRate: 0, oversizedChargeRate: 0 };

test("the same seed and options give the same rows; another seed gives others", async (t) => {
  const options = { dataStart: START, dataEnd: new Date(START.getTime() + 2 * DAY), callsPerHour: 30 };
  const a = await startGraphSimulator({ ...options, seed: 42 });
  const b = await startGraphSimulator({ ...options, seed: 42 });
  const c = await startGraphSimulator({ ...options, seed: 43 });
  t.after(() => Promise.all([a.close(), b.close(), c.close()]));
  const rowsA = a.visibleRows();
  assert.ok(rowsA.length > 1000);
  assert.deepEqual(b.visibleRows(), rowsA);
  const idsC = new Set(c.visibleRows().map((row) => row.id));
  assert.equal(rowsA.filter((row) => idsC.has(row.id)).length, 0, "no id in common between two seeds");
  // A narrower dataEnd or a visibility delay only filters: the rows that remain are the same.
  const d = await startGraphSimulator({ ...options, seed: 42, dataEnd: new Date(START.getTime() + DAY) });
  t.after(() => d.close());
  assert.deepEqual(d.visibleRows(), a.visibleRows(START, new Date(START.getTime() + DAY)));
});

test("rows are realistic and varied, with Graph's property names", async (t) => {
  const sim = await startGraphSimulator({
    seed: 8,
    dataStart: START,
    dataEnd: new Date(START.getTime() + 3 * DAY),
    callsPerHour: 100,
  });
  t.after(() => sim.close());
  const rows = sim.visibleRows();
  assert.ok(rows.length > 6000);
  const properties = [
    "id",
    "callId",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "startDateTime",
    "endDateTime",
    "duration",
    "charge",
    "callType",
    "currency",
    "calleeNumber",
    "usageCountryCode",
    "tenantCountryCode",
    "connectionCharge",
    "callerNumber",
    "destinationContext",
    "destinationName",
    "conferenceId",
    "licenseCapability",
    "inventoryType",
    "operator",
    "callDurationSource",
    "otherPartyCountryCode",
    "clientPublicIpV4Address",
    "clientPublicIpV6Address",
    "clientLocalIpV4Address",
    "clientLocalIpV6Address",
    "administrativeUnitInfos",
  ];
  for (const row of rows) assert.deepEqual(Object.keys(row), properties);

  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  assert.ok(rows.every((row) => guid.test(row.id)));
  assert.equal(new Set(rows.map((row) => row.id)).size, rows.length, "ids are unique");
  assert.ok(new Set(rows.map((row) => row.callId)).size < rows.length, "callId repeats sometimes");

  const digits = new Set(rows.map((row) => /(?:\.(\d+))?Z$/.exec(row.startDateTime)?.[1]?.length ?? 0));
  assert.deepEqual([...digits].sort(), [0, 1, 2, 3, 4, 5, 6, 7], "0 to 7 fractional digits");
  for (const row of rows) {
    assert.match(row.startDateTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$/);
    const start = parseInstant(row.startDateTime)!;
    const end = parseInstant(row.endDateTime)!;
    assert.equal(end.ms - start.ms, row.duration * 1000);
    assert.match(row.charge ?? "", /^\d+(\.\d{1,4})?$/);
    assert.match(row.connectionCharge ?? "", /^\d+(\.\d{1,4})?$/);
    assert.match(row.calleeNumber, /^\+\d{3,14}$/);
    assert.match(row.callerNumber, /^\+\d{3,14}$/);
    assert.ok(["USD", "EUR", "GBP"].includes(row.currency));
    assert.ok(Array.isArray(row.administrativeUnitInfos) && row.administrativeUnitInfos.length <= 2);
  }
  const bots = rows.filter((row) => row.callType === "ucap_in" || row.callType === "ucap_out");
  assert.ok(bots.length > 100);
  assert.ok(bots.every((row) => row.userId === null || row.userId === ""));
  assert.ok(
    bots.some((row) => row.userPrincipalName === null) && bots.some((row) => row.userPrincipalName === ""),
  );
  const share = (predicate: (row: SimulatedRow) => boolean) => rows.filter(predicate).length / rows.length;
  assert.ok(share((row) => row.destinationContext === null) > 0.05);
  assert.ok(
    share((row) => row.conferenceId === null) > 0.5 && share((row) => row.conferenceId !== null) > 0.05,
  );
  assert.ok(share((row) => row.clientPublicIpV4Address === null) > 0.05);
  assert.ok(share((row) => row.charge === "0.00") > 0.3);
  assert.ok(share((row) => /\.\d{4}$/.test(row.charge ?? "")) > 0.05);
  assert.ok(share((row) => row.administrativeUnitInfos?.length === 2) > 0.02);
  assert.ok(new Set(rows.map((row) => row.callType)).size >= 8);
  assert.ok(new Set(rows.map((row) => row.otherPartyCountryCode)).size >= 8);
});

test("the fast serializer writes exactly what the general one writes, money unquoted", () => {
  for (let gen = 0; gen < 3000; gen++) {
    const slot = {
      hour: 470_000 + (gen % 7),
      gen,
      ms: 470_000 * HOUR + gen * 997,
      sub: gen % 10_000,
      digits: gen % 8,
    };
    const row = buildRow(5, slot, NO_FAULTS);
    for (const beta of [true, false]) {
      const json = serializeRow(row, beta);
      assert.equal(serializePlainRow(row, beta), json);
      const parsed = JSON.parse(json) as Record<string, unknown>;
      assert.equal(parsed.charge, Number(row.charge));
      assert.ok(json.includes(`"charge":${row.charge},`));
      assert.ok(json.includes(`"connectionCharge":${row.connectionCharge},`));
      assert.equal("administrativeUnitInfos" in parsed, beta);
    }
  }
});

test("row faults: unknown properties, malformed rows, charges too big for decimal(38,12)", async (t) => {
  const h = await harness(t, {
    seed: 6,
    dataStart: START,
    dataEnd: new Date(START.getTime() + DAY),
    callsPerHour: 200,
    faults: { extraPropertyRate: 0.1, malformedRowRate: 0.05, oversizedChargeRate: 0.05 },
  });
  const truth = h.sim.visibleRows();
  const known = new Set(Object.keys(buildRow(6, { hour: 0, gen: 0, ms: 0, sub: 0, digits: 7 }, NO_FAULTS)));
  const extra = truth.filter((row) => Object.keys(row).some((key) => !known.has(key)));
  const noId = truth.filter((row) => !("id" in row));
  const badStart = truth.filter((row) => parseInstant(row.startDateTime) === undefined);
  const oversized = truth.filter((row) => {
    const [whole = "", fraction = ""] = (row.charge ?? "").split(".");
    return whole.length > 26 || fraction.length > 12;
  });
  for (const [name, list, rate] of [
    ["extra", extra, 0.1],
    ["malformed", [...noId, ...badStart], 0.05],
    ["oversized", oversized, 0.05],
  ] as const) {
    const share = list.length / truth.length;
    assert.ok(share > rate / 2 && share < rate * 2, `${name}: ${share}`);
  }
  assert.ok(noId.length > 0 && badStart.length > 0);

  // Served exactly so: the raw text carries the long charges as numbers.
  const bearer = await token(h);
  const pass = await readAll(h, pstnUrl(h.sim, "2023-06-01", "2023-06-02"), bearer);
  assert.equal(pass.rows.length, truth.length);
  const body = pass.texts.join("");
  for (const row of oversized) assert.ok(body.includes(`"charge":${row.charge},`), row.charge ?? "");
  assert.deepEqual(
    pass.rows.map((row) => row.startDateTime),
    truth.map((row) => row.startDateTime),
  );

  // Faults off: the same rows come back clean.
  h.sim.setFaults({});
  const clean = h.sim.visibleRows();
  assert.equal(clean.length, truth.length);
  assert.ok(clean.every((row) => "id" in row && parseInstant(row.startDateTime) !== undefined));
});

test("late rows: visibility is evaluated per request, and $skip paging over arriving rows repeats rows", async (t) => {
  const clock = manualClock(START.getTime() + 6 * HOUR);
  const h = await harness(t, {
    seed: 12,
    dataStart: START,
    dataEnd: new Date(START.getTime() + 6 * HOUR),
    callsPerHour: 60,
    visibilityDelayMs: { min: 0, max: 6 * HOUR },
    pageSize: 50,
    now: clock.now,
  });
  const bearer = await token(h);
  const all = h.sim.allRows();
  const early = h.sim.visibleRows();
  assert.ok(
    early.length > 0 && early.length < all.length,
    `${early.length} of ${all.length} visible at first`,
  );
  for (const row of early) assert.ok(all.some((r) => r.id === row.id));

  const url = pstnUrl(h.sim, "2023-06-01", "2023-06-01T06:00:00Z");
  const first = await graphGet(h, url, bearer);
  const firstIds = (first.json().value as { id: string }[]).map((row) => row.id);
  assert.deepEqual(
    firstIds,
    early.slice(0, 50).map((row) => row.id),
  );

  clock.advance(6 * HOUR); // everything is visible now
  assert.deepEqual(h.sim.visibleRows(), all);
  const second = await graphGet(h, nextLinkOf(first.json())!.link, await token(h)); // the first expired
  assert.equal(second.status, 200, second.text);
  const secondIds = (second.json().value as { id: string }[]).map((row) => row.id);
  assert.deepEqual(
    secondIds,
    all.slice(50, 100).map((row) => row.id),
    "page 2 is evaluated over the rows visible now",
  );
  const repeated = secondIds.filter((id) => firstIds.includes(id));
  assert.ok(repeated.length > 0, "rows that arrived before the cut pushed seen rows onto page 2");
});

test("a far $skip on a big range answers the right slice", async (t) => {
  const h = await harness(t, {
    seed: 13,
    dataStart: START,
    dataEnd: new Date(START.getTime() + 10 * DAY),
    callsPerHour: 500,
  });
  const bearer = await token(h);
  const url = `${pstnUrl(h.sim, "2023-06-01", "2023-06-11")}?$skip=100000`;
  const reply = await graphGet(h, url, bearer);
  assert.equal(reply.status, 200);
  const ids = (reply.json().value as { id: string }[]).map((row) => row.id);
  const truth = h.sim.visibleRows(START, new Date("2023-06-11T00:00:00Z"));
  assert.ok(truth.length > 101_000);
  assert.deepEqual(
    ids,
    truth.slice(100_000, 101_000).map((row) => row.id),
  );
  assert.equal(reply.json()["@odata.count"], 1000);
});
