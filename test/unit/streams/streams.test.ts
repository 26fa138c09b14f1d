import assert from "node:assert/strict";
import { describe, test } from "node:test";
import avsc from "avsc";
import { createRowCodec, decimalFields, decodedToGraphJson } from "../../../src/avro/index.js";
import { recordPlan } from "../../../src/avro/plan.js";
import { rowSchema } from "../../../src/avro/schema.js";
import { decodePage } from "../../../src/pipeline/page-codec.js";
import { STREAMS, type StreamDefinition } from "../../../src/streams/index.js";

const definitions: StreamDefinition[] = Object.values(STREAMS);

/** A page as Graph sends it: money as JSON numbers, in the stream's own property names. */
function page(rows: string[]): string {
  return `{"@odata.count":${rows.length},"value":[${rows.join(",")}]}`;
}

/** Graph's JSON of `row`, through the page decoder and the codec, back from Avro as Graph-like JSON. */
function roundTrip(stream: StreamDefinition, body: string): Record<string, unknown>[] {
  const { schema } = rowSchema(stream.schemaFile);
  const codec = createRowCodec(schema, stream.keyField);
  const type = avsc.Type.forSchema(schema as avsc.Schema, { wrapUnions: false });
  return decodePage(body, undefined, stream).rows.map((row) => {
    const encoded = codec.encode(row);
    assert.ok(encoded.ok, encoded.ok ? "" : encoded.reason);
    return decodedToGraphJson(type.fromBuffer(Buffer.from(encoded.value)) as Record<string, unknown>, schema);
  });
}

describe("stream definitions", () => {
  for (const stream of definitions) {
    test(`${stream.name}: its schema names its key and its start`, () => {
      const { schema } = rowSchema(stream.schemaFile);
      const plan = recordPlan(schema);
      const key = plan.fieldsByName.get(stream.keyField);
      assert.equal(key?.value.kind, "string");
      assert.equal(key?.nullable, false, "the key is required");
      const start = plan.fieldsByName.get(stream.startField);
      assert.equal(start?.value.kind, "timestampMicros");
      assert.equal(start?.nullable, false, "the start is required");
      assert.ok(stream.apiVersions.length > 0);
      assert.equal((schema as { namespace?: string }).namespace, "microsoft.graph.callRecords");
    });

    test(`${stream.name}: every field added after the key and start is nullable with default null`, () => {
      const { schema } = rowSchema(stream.schemaFile);
      for (const field of (schema as { fields: { name: string; type: unknown; default?: unknown }[] })
        .fields) {
        if (field.name === stream.keyField || field.name === stream.startField) continue;
        assert.ok(
          Array.isArray(field.type) && field.type[0] === "null",
          `${field.name} is a union with null first`,
        );
        assert.equal(field.default, null, `${field.name} defaults to null`);
      }
    });
  }

  test("each stream is its own: function, schema and name differ", () => {
    for (const key of ["name", "function", "schemaFile"] as const) {
      assert.equal(new Set(definitions.map((d) => d[key])).size, definitions.length, key);
    }
    assert.equal(STREAMS.directRouting.toDateTimeInclusive, false, "Graph: toDateTime is exclusive");
    assert.deepEqual(STREAMS.sms.apiVersions, ["beta"], "Graph serves getSmsLog in beta only");
    const money = (stream: StreamDefinition) => decimalFields(rowSchema(stream.schemaFile).schema);
    assert.deepEqual(money(STREAMS.pstn), ["charge", "connectionCharge"]);
    assert.deepEqual(money(STREAMS.directRouting), []);
    assert.deepEqual(money(STREAMS.sms), ["callCharge"]);
  });
});

describe("rows of each stream, as Graph sends them", () => {
  test("directRouting: a failed call has no endDateTime; codes, flags and times are kept", () => {
    const [failed, ok] = roundTrip(
      STREAMS.directRouting,
      page([
        '{"id":"9e8bba57-dab4-4de5-8b8a-0f5e8e0a1d41","correlationId":"c1","callType":"ByotIn","userId":null,' +
          '"startDateTime":"2026-11-02T10:00:00.1234567Z","inviteDateTime":"2026-11-02T10:00:00.1234567Z",' +
          '"failureDateTime":"2026-11-02T10:00:03Z","duration":0,"successfulCall":false,' +
          '"callerNumber":"+15551230000","calleeNumber":"+442071234567","mediaBypassEnabled":true,' +
          '"mediaPathLocation":"EUWE","signalingLocation":"EUNO","trunkFullyQualifiedDomainName":"sbc1.contoso.com",' +
          '"finalSipCode":487,"finalSipCodePhrase":"Request Terminated","callEndSubReason":540487}',
        '{"id":"0b4a4c1e-77a4-4b1e-9d55-3f0f5d6f1b22","startDateTime":"2026-11-02T11:00:00Z",' +
          '"endDateTime":"2026-11-02T11:05:00Z","duration":300,"successfulCall":true,"finalSipCode":0,' +
          '"transferorCorrelationId":"t1","otherPartyCountryCode":"GB","userCountryCode":"US",' +
          '"administrativeUnitInfos":[{"id":"au1"}]}',
      ]),
    );
    assert.equal(failed?.endDateTime, null);
    assert.equal(failed?.startDateTime, "2026-11-02T10:00:00.123456Z");
    assert.equal(failed?.failureDateTime, "2026-11-02T10:00:03.000000Z");
    assert.equal(failed?.successfulCall, false);
    assert.equal(failed?.mediaBypassEnabled, true);
    assert.equal(failed?.finalSipCode, 487);
    assert.equal(failed?.callEndSubReason, 540487);
    assert.equal(failed?.trunkFullyQualifiedDomainName, "sbc1.contoso.com");
    assert.equal(failed?.userId, null);
    assert.equal(ok?.endDateTime, "2026-11-02T11:05:00.000000Z");
    assert.equal(ok?.failureDateTime, null);
    assert.equal(ok?.transferorCorrelationId, "t1");
    assert.deepEqual(ok?.administrativeUnitInfos, [{ id: "au1" }]);
  });

  test("sms: callCharge is exact, masked numbers stay as Graph sent them", () => {
    const [row] = roundTrip(
      STREAMS.sms,
      page([
        '{"id":"5d0c7a3e-1f2b-4c3d-9e8f-7a6b5c4d3e2f","smsId":"s1","sentDateTime":"2026-11-02T09:30:00Z",' +
          '"smsType":"outbound","smsUnits":2,"sourceNumber":"+15551230000","destinationNumber":"+33 612345***",' +
          '"callCharge":0.012345678901,"currency":"EUR","licenseCapability":"MCOPSTNU","tenantCountryCode":"US"}',
      ]),
    );
    assert.equal(row?.callCharge, "0.012345678901");
    assert.equal(row?.destinationNumber, "+33 612345***");
    assert.equal(row?.smsUnits, 2);
    assert.equal(row?.sentDateTime, "2026-11-02T09:30:00.000000Z");
    const codec = createRowCodec(rowSchema(STREAMS.sms.schemaFile).schema, "id");
    const [tooFine] = decodePage(
      page(['{"id":"x","sentDateTime":"2026-11-02T09:30:00Z","callCharge":0.0123456789012}']),
      undefined,
      STREAMS.sms,
    ).rows;
    const refused = codec.encode(tooFine as Record<string, unknown>);
    assert.equal(
      refused.ok,
      false,
      "more digits than the schema's scale: refused (dead-lettered), never rounded",
    );
  });
});
