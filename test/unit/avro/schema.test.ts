import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import avsc from "avsc";
import { PSTN_ROW_SCHEMA, PSTN_ROW_SCHEMA_PATH, PSTN_ROW_SCHEMA_TEXT } from "../../../src/avro/index.js";

/** The pstnCallLogRow table of GRAPH.md (v1.0 and beta), one entry a documented property. */
const GRAPH_PROPERTIES = [
  "id",
  "callId",
  "userId",
  "userPrincipalName",
  "userDisplayName",
  "startDateTime",
  "endDateTime",
  "duration",
  "charge",
  "connectionCharge",
  "currency",
  "callType",
  "calleeNumber",
  "callerNumber",
  "usageCountryCode",
  "tenantCountryCode",
  "otherPartyCountryCode",
  "destinationContext",
  "destinationName",
  "conferenceId",
  "licenseCapability",
  "inventoryType",
  "operator",
  "callDurationSource",
  "clientPublicIpV4Address",
  "clientPublicIpV6Address",
  "clientLocalIpV4Address",
  "clientLocalIpV6Address",
  "administrativeUnitInfos",
] as const;

/** Fields that stay required, with why (the schema's doc says the same). */
const REQUIRED = new Set(["id", "startDateTime"]);

interface Field {
  name: string;
  type: unknown;
  default?: unknown;
  doc?: string;
}

const schema = JSON.parse(readFileSync(PSTN_ROW_SCHEMA_PATH, "utf8")) as {
  type: string;
  name: string;
  namespace: string;
  doc?: string;
  fields: Field[];
};
const fieldsByName = new Map(schema.fields.map((field) => [field.name, field]));

function field(name: string): Field {
  const found = fieldsByName.get(name);
  assert.ok(found, `no field ${name}`);
  return found;
}

describe("schemas/pstnCallLogRow.avsc", () => {
  test("is valid Avro, with and without avsc's logical types", () => {
    const plain = avsc.Type.forSchema(schema as never);
    assert.equal(plain.name, "microsoft.graph.callRecords.pstnCallLogRow");
    const withLogicalTypes = avsc.Type.forSchema(schema as never, { logicalTypes: {} });
    assert.equal(withLogicalTypes.name, plain.name);
  });

  test("is found at the package root and exported as text and parsed JSON", () => {
    assert.ok(PSTN_ROW_SCHEMA_PATH.endsWith(join("schemas", "pstnCallLogRow.avsc")));
    assert.ok(existsSync(join(dirname(dirname(PSTN_ROW_SCHEMA_PATH)), "package.json")));
    assert.equal(PSTN_ROW_SCHEMA_TEXT, readFileSync(PSTN_ROW_SCHEMA_PATH, "utf8"));
    assert.deepEqual(PSTN_ROW_SCHEMA, schema);
    assert.ok(Object.isFrozen(PSTN_ROW_SCHEMA), "shared by every codec: frozen");
  });

  test("record pstnCallLogRow in namespace microsoft.graph.callRecords", () => {
    assert.equal(schema.type, "record");
    assert.equal(schema.name, "pstnCallLogRow");
    assert.equal(schema.namespace, "microsoft.graph.callRecords");
  });

  test("every property GRAPH.md documents is a field, under Graph's exact JSON name", () => {
    const missing = GRAPH_PROPERTIES.filter((name) => !fieldsByName.has(name));
    assert.deepEqual(missing, []);
    const extra = schema.fields
      .map((f) => f.name)
      .filter((name) => !(GRAPH_PROPERTIES as readonly string[]).includes(name));
    assert.deepEqual(extra, [], "a field Graph does not document");
  });

  test('only id and startDateTime are required; every other field is ["null", T] with default null', () => {
    for (const f of schema.fields) {
      if (REQUIRED.has(f.name)) {
        assert.ok(!Array.isArray(f.type), `${f.name} is required`);
        assert.equal(f.default, undefined, f.name);
        continue;
      }
      assert.ok(Array.isArray(f.type), `${f.name} is a union`);
      assert.equal(f.type.length, 2, f.name);
      assert.equal(f.type[0], "null", `${f.name}: null first, so that default null is legal`);
      assert.equal(f.default, null, f.name);
    }
  });

  test("every field and the record carry a doc; startDateTime's says why it is required", () => {
    assert.ok(schema.doc && schema.doc.length > 0);
    for (const f of schema.fields)
      assert.ok(typeof f.doc === "string" && f.doc.length > 0, `${f.name} has a doc`);
    assert.match(field("startDateTime").doc ?? "", /Required/);
  });

  test("types: id string, duration int, exact decimals, microsecond timestamps, admin units as records", () => {
    assert.equal(field("id").type, "string");
    assert.deepEqual(field("duration").type, ["null", "int"]);
    const decimal = { type: "bytes", logicalType: "decimal", precision: 38, scale: 12 };
    assert.deepEqual(field("charge").type, ["null", decimal]);
    assert.deepEqual(field("connectionCharge").type, ["null", decimal]);
    const micros = { type: "long", logicalType: "timestamp-micros" };
    assert.deepEqual(field("startDateTime").type, micros);
    assert.deepEqual(field("endDateTime").type, ["null", micros]);
    const units = field("administrativeUnitInfos").type as [
      string,
      { type: string; items: Field & { fields: Field[] } },
    ];
    assert.equal(units[1].type, "array");
    assert.equal(units[1].items.type, "record");
    assert.equal(units[1].items.name, "administrativeUnitInfo");
    assert.deepEqual(
      units[1].items.fields.map((f) => [f.name, f.type]),
      [["id", "string"]],
    );
    for (const name of GRAPH_PROPERTIES) {
      if (
        [
          "id",
          "startDateTime",
          "endDateTime",
          "duration",
          "charge",
          "connectionCharge",
          "administrativeUnitInfos",
        ].includes(name)
      ) {
        continue;
      }
      assert.deepEqual(field(name).type, ["null", "string"], name);
    }
  });

  test("BACKWARD evolution: a next version adding a nullable field reads today's data", () => {
    const v1 = avsc.Type.forSchema(schema as never);
    const v2Schema = structuredClone(schema);
    v2Schema.fields.push({ name: "someFutureProperty", type: ["null", "string"], default: null });
    const v2 = avsc.Type.forSchema(v2Schema as never);
    const written = v1.toBuffer({
      ...Object.fromEntries(schema.fields.map((f) => [f.name, null])),
      id: "x",
      startDateTime: 0,
    });
    const read = v2.fromBuffer(written, v2.createResolver(v1)) as Record<string, unknown>;
    assert.equal(read.id, "x");
    assert.equal(read.someFutureProperty, null);
  });

  test("relaxing startDateTime to nullable later stays BACKWARD compatible", () => {
    const v1 = avsc.Type.forSchema(schema as never);
    const relaxed = structuredClone(schema);
    const start = relaxed.fields.find((f) => f.name === "startDateTime")!;
    start.type = ["null", start.type];
    start.default = null;
    const v2 = avsc.Type.forSchema(relaxed as never);
    assert.doesNotThrow(() => v2.createResolver(v1));
  });
});
