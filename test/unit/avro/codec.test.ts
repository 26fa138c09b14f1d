import assert from "node:assert/strict";
import { describe, test } from "node:test";
import avsc from "avsc";
import {
  createRowCodec,
  decodedToGraphJson,
  type EncodeResult,
  normaliseGraphRow,
  PSTN_ROW_SCHEMA,
  PSTN_ROW_SCHEMA_TEXT,
  unscaledToBytes,
} from "../../../src/avro/index.js";
import { SEED_ROW, seedRow } from "./seed-row.js";

/** What a consumer does: fetch the schema text from the registry and parse it into a fresh Type. */
const consumerType = avsc.Type.forSchema(JSON.parse(PSTN_ROW_SCHEMA_TEXT));
const codec = createRowCodec();

function encoded(result: EncodeResult): Buffer {
  if (!result.ok) assert.fail(`expected a record, got: ${result.reason}`);
  return result.value;
}

function reason(result: EncodeResult): string {
  if (result.ok) assert.fail("expected a reason, got a record");
  return result.reason;
}

function decode(bytes: Buffer): Record<string, unknown> {
  return consumerType.fromBuffer(bytes) as Record<string, unknown>;
}

function roundTrip(row: Record<string, unknown>): Record<string, unknown> {
  return decodedToGraphJson(decode(encoded(codec.encode(row))));
}

describe("encode → decode with the registry's schema", () => {
  test("the seed row comes back as its normalised self", () => {
    const result = codec.encode(seedRow());
    assert.ok(result.ok);
    assert.equal(result.unknownProperties, 0);
    assert.deepEqual(decodedToGraphJson(decode(result.value)), normaliseGraphRow(seedRow()));
  });

  test("the seed row's values, spelled out", () => {
    assert.deepEqual(roundTrip(seedRow()), {
      ...SEED_ROW,
      startDateTime: "2019-11-01T00:00:08.258993Z",
      endDateTime: "2019-11-01T00:03:47.258993Z",
      charge: "0",
      connectionCharge: "0",
    });
  });

  test("decimals travel as Avro decimal bytes of the unscaled value", () => {
    const decoded = decode(encoded(codec.encode(seedRow({ charge: "0.0123", connectionCharge: "-12.5" }))));
    assert.deepEqual(decoded.charge, unscaledToBytes(12_300_000_000n));
    assert.deepEqual(decoded.connectionCharge, unscaledToBytes(-12_500_000_000_000n));
    assert.equal(decoded.startDateTime, 1_572_566_408_258_993);
    const json = decodedToGraphJson(decoded);
    assert.equal(json.charge, "0.0123");
    assert.equal(json.connectionCharge, "-12.5");
  });

  test("v1.0 doubles given as JSON numbers are carried by their shortest text", () => {
    const json = roundTrip(seedRow({ charge: 0.0123, connectionCharge: 0 }));
    assert.equal(json.charge, "0.0123");
    assert.equal(json.connectionCharge, "0");
  });

  test("the largest decimal(38, 12) values survive", () => {
    const max = "99999999999999999999999999.999999999999";
    const json = roundTrip(seedRow({ charge: max, connectionCharge: `-${max}` }));
    assert.equal(json.charge, max);
    assert.equal(json.connectionCharge, `-${max}`);
  });

  test("a v1.0 row (no beta properties) keeps nulls as nulls", () => {
    const row = seedRow();
    for (const name of [
      "administrativeUnitInfos",
      "clientPublicIpV4Address",
      "clientPublicIpV6Address",
      "clientLocalIpV4Address",
      "clientLocalIpV6Address",
      "endDateTime",
      "duration",
      "charge",
    ]) {
      delete row[name];
    }
    const json = roundTrip(row);
    assert.deepEqual(json, normaliseGraphRow(row));
    assert.equal(json.administrativeUnitInfos, null);
    assert.equal(json.clientLocalIpV6Address, null);
    assert.equal(json.endDateTime, null);
    assert.equal(json.duration, null);
    assert.equal(json.charge, null);
    assert.equal(json.destinationContext, null);
    assert.equal(json.conferenceId, null);
  });

  test("a bot call's empty user fields stay empty strings, an empty array stays empty", () => {
    const json = roundTrip(
      seedRow({
        callType: "ucap_in",
        userId: "",
        userPrincipalName: "",
        userDisplayName: null,
        administrativeUnitInfos: [],
      }),
    );
    assert.equal(json.userId, "");
    assert.equal(json.userPrincipalName, "");
    assert.equal(json.userDisplayName, null);
    assert.deepEqual(json.administrativeUnitInfos, []);
  });

  test("the codec's reused record never leaks one row's values into the next", () => {
    encoded(codec.encode(seedRow({ conferenceId: "conf-1", charge: "1.5" })));
    reason(codec.encode(seedRow({ callType: 7 })));
    const json = roundTrip({ id: "only-required", startDateTime: "2020-01-01T00:00:00Z" });
    assert.equal(json.conferenceId, null);
    assert.equal(json.charge, null);
    assert.equal(json.callType, null);
    assert.equal(json.callId, null);
    assert.equal(json.administrativeUnitInfos, null);
  });

  test("decodedToGraphJson also takes a record decoded with a logical-type-free Type built from the object", () => {
    const type = avsc.Type.forSchema(structuredClone(PSTN_ROW_SCHEMA) as never, { wrapUnions: false });
    const json = decodedToGraphJson(
      type.fromBuffer(encoded(codec.encode(seedRow()))) as Record<string, unknown>,
    );
    assert.deepEqual(json, normaliseGraphRow(seedRow()));
  });
});

describe("unknown properties", () => {
  test("are ignored and counted; OData annotations are neither", () => {
    const row = seedRow({
      someNewProperty: "x",
      anotherOne: { nested: true },
      "@odata.type": "#microsoft.graph.callRecords.pstnCallLogRow",
      "charge@odata.type": "#Decimal",
    });
    const result = codec.encode(row);
    assert.ok(result.ok);
    assert.equal(result.unknownProperties, 2);
    assert.deepEqual(decodedToGraphJson(decode(result.value)), normaliseGraphRow(seedRow()));
  });

  test("inside an administrative unit too", () => {
    const result = codec.encode(
      seedRow({ administrativeUnitInfos: [{ id: "a", displayName: "Sales" }, { id: "b" }] }),
    );
    assert.ok(result.ok);
    assert.equal(result.unknownProperties, 1);
    assert.deepEqual(decodedToGraphJson(decode(result.value)).administrativeUnitInfos, [
      { id: "a" },
      { id: "b" },
    ]);
  });

  test("a key whose value is undefined is not counted when the schema knows it", () => {
    const result = codec.encode(seedRow({ conferenceId: undefined }));
    assert.ok(result.ok);
    assert.equal(result.unknownProperties, 0);
  });
});

describe("rows that cannot be carried give a reason, never an exception", () => {
  const bad: [string, Record<string, unknown>, string | RegExp][] = [
    ["id missing", seedRow({ id: undefined }), "id: missing"],
    ["id null", seedRow({ id: null }), "id: null is not allowed"],
    ["id not a string", seedRow({ id: 42 }), "id: expected a string, got a number"],
    ["startDateTime missing", seedRow({ startDateTime: undefined }), "startDateTime: missing"],
    ["startDateTime null", seedRow({ startDateTime: null }), "startDateTime: null is not allowed"],
    [
      "startDateTime without an offset",
      seedRow({ startDateTime: "2019-11-01T00:00:08" }),
      'startDateTime: "2019-11-01T00:00:08" is not a valid ISO-8601 instant',
    ],
    [
      "endDateTime not a date",
      seedRow({ endDateTime: "2019-02-30T00:00:00Z" }),
      'endDateTime: "2019-02-30T00:00:00Z" is not a valid ISO-8601 instant',
    ],
    [
      "endDateTime a number",
      seedRow({ endDateTime: 1_572_566_408 }),
      "endDateTime: expected an ISO-8601 instant, got a number",
    ],
    ["duration fractional", seedRow({ duration: 1.5 }), "duration: 1.5 is not a 32-bit integer"],
    ["duration over int32", seedRow({ duration: 2 ** 31 }), "duration: 2147483648 is not a 32-bit integer"],
    ["duration as text", seedRow({ duration: "219" }), 'duration: "219" is not a 32-bit integer'],
    [
      "charge with 13 fractional digits",
      seedRow({ charge: "0.1234567890123" }),
      "charge: 0.1234567890123 has more than 12 fractional digits; not rounded",
    ],
    [
      "connectionCharge with 27 integer digits",
      seedRow({ connectionCharge: "1e26" }),
      "connectionCharge: 1e26 has more than 26 integer digits; does not fit decimal(38, 12)",
    ],
    [
      "charge a double's noise",
      seedRow({ charge: 0.1 + 0.2 }),
      /^charge: 0\.30000000000000004 has more than 12 fractional/,
    ],
    ["charge not a number", seedRow({ charge: "12,50" }), 'charge: "12,50" is not a decimal number'],
    ["charge NaN", seedRow({ charge: Number.NaN }), "charge: NaN is not a decimal number"],
    [
      "charge a boolean",
      seedRow({ charge: true }),
      "charge: expected a decimal as text or number, got a boolean",
    ],
    ["a string field given a number", seedRow({ callType: 5 }), "callType: expected a string, got a number"],
    [
      "a string field given an object",
      seedRow({ clientPublicIpV4Address: {} }),
      "clientPublicIpV4Address: expected a string, got an object",
    ],
    [
      "administrativeUnitInfos not an array",
      seedRow({ administrativeUnitInfos: { id: "a" } }),
      "administrativeUnitInfos: expected an array, got an object",
    ],
    [
      "an administrative unit without id",
      seedRow({ administrativeUnitInfos: [{ id: "a" }, {}] }),
      "administrativeUnitInfos[1].id: missing",
    ],
    [
      "an administrative unit with a numeric id",
      seedRow({ administrativeUnitInfos: [{ id: 5 }] }),
      "administrativeUnitInfos[0].id: expected a string, got a number",
    ],
    [
      "an administrative unit that is a string",
      seedRow({ administrativeUnitInfos: ["a"] }),
      "administrativeUnitInfos[0]: expected an object, got a string",
    ],
    [
      "a null administrative unit",
      seedRow({ administrativeUnitInfos: [{ id: "a" }, null] }),
      "administrativeUnitInfos[1]: expected an object, got null",
    ],
  ];
  for (const [what, row, expected] of bad) {
    test(what, () => {
      const why = reason(codec.encode(row));
      if (typeof expected === "string") assert.equal(why, expected);
      else assert.match(why, expected);
    });
  }

  test("a row that is not an object", () => {
    assert.equal(reason(codec.encode(null as never)), "row: expected an object, got null");
    assert.equal(reason(codec.encode([] as never)), "row: expected an object, got an array");
  });

  test("a huge value is shown bounded", () => {
    const why = reason(codec.encode(seedRow({ charge: `0.${"1".repeat(10_000)}` })));
    assert.ok(why.length < 200, why);
    assert.match(why, /^charge: 0\.1+… has more than 12 fractional digits; not rounded$/);
  });

  test("a property that throws when read", () => {
    const row = seedRow();
    Object.defineProperty(row, "callId", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    assert.match(reason(codec.encode(row)), /^row: could not be read \(Error: boom\)$/);
  });
});

describe("createRowCodec", () => {
  test("takes another record schema, e.g. a later version with a new nullable field", () => {
    const next = structuredClone(PSTN_ROW_SCHEMA) as { fields: unknown[] };
    next.fields.push({ name: "trunkFullyQualifiedDomainName", type: ["null", "string"], default: null });
    const nextCodec = createRowCodec(next);
    const result = nextCodec.encode(seedRow({ trunkFullyQualifiedDomainName: "sbc.contoso.com" }));
    assert.ok(result.ok);
    assert.equal(result.unknownProperties, 0);
    const decoded = avsc.Type.forSchema(next as never).fromBuffer(result.value) as Record<string, unknown>;
    assert.equal(decodedToGraphJson(decoded, next).trunkFullyQualifiedDomainName, "sbc.contoso.com");
    assert.deepEqual(
      decodedToGraphJson(decoded, next),
      normaliseGraphRow(seedRow({ trunkFullyQualifiedDomainName: "sbc.contoso.com" }), next),
    );
  });

  test("refuses at once a schema shape it cannot convert", () => {
    const withEnum = {
      type: "record",
      name: "r",
      fields: [{ name: "e", type: { type: "enum", name: "E", symbols: ["a"] } }],
    };
    assert.throws(() => createRowCodec(withEnum), /e: type "enum" is not supported/);
    const withUnion = { type: "record", name: "r", fields: [{ name: "u", type: ["null", "string", "int"] }] };
    assert.throws(() => createRowCodec(withUnion), /u: a union other than/);
    const withMillis = {
      type: "record",
      name: "r",
      fields: [{ name: "t", type: { type: "long", logicalType: "timestamp-millis" } }],
    };
    assert.throws(
      () => createRowCodec(withMillis),
      /t: logical type timestamp-millis on long is not supported/,
    );
  });
});

describe("normaliseGraphRow", () => {
  test("absent → null, unknown dropped, timestamps truncated to micros, decimals canonical", () => {
    const normal = normaliseGraphRow({
      id: "x",
      startDateTime: "2019-11-01T02:00:08.9999999+02:00",
      charge: "1.500",
      connectionCharge: 2.5e-3,
      administrativeUnitInfos: [{ id: "a", extra: 1 }],
      unknown: true,
    });
    assert.equal(normal.startDateTime, "2019-11-01T00:00:08.999999Z");
    assert.equal(normal.charge, "1.5");
    assert.equal(normal.connectionCharge, "0.0025");
    assert.deepEqual(normal.administrativeUnitInfos, [{ id: "a" }]);
    assert.equal(normal.endDateTime, null);
    assert.equal(normal.callId, null);
    assert.ok(!("unknown" in normal));
    assert.deepEqual(
      Object.keys(normal),
      (PSTN_ROW_SCHEMA as { fields: { name: string }[] }).fields.map((f) => f.name),
    );
  });

  test("leaves a value it cannot convert as it is", () => {
    const normal = normaliseGraphRow({ id: "x", startDateTime: "yesterday", charge: "0.1234567890123" });
    assert.equal(normal.startDateTime, "yesterday");
    assert.equal(normal.charge, "0.1234567890123");
  });
});

describe("encode after a header", () => {
  test("the bytes are the header, then exactly the Avro of the row alone", () => {
    const header = Buffer.from([0, 0, 0, 0, 42]);
    const row = seedRow({ charge: "1.25" });
    const framed = encoded(codec.encode(row, header));
    assert.deepEqual(framed.subarray(0, 5), header);
    assert.deepEqual(framed.subarray(5), encoded(codec.encode(row)));
  });

  test("a row larger than the codec's scratch space is written whole, and the next one too", () => {
    const header = Buffer.from([0, 0, 0, 0, 7]);
    const huge = seedRow({ userDisplayName: "x".repeat(100_000) });
    const framed = encoded(codec.encode(huge, header));
    assert.deepEqual(framed.subarray(0, 5), header);
    assert.equal((decode(framed.subarray(5)) as { userDisplayName: string }).userDisplayName.length, 100_000);
    const small = seedRow();
    assert.deepEqual(
      decode(encoded(codec.encode(small, header)).subarray(5)),
      decode(encoded(codec.encode(small))),
    );
  });
});
