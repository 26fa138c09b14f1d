import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import avsc from "avsc";
import { createRowCodec, PSTN_ROW_SCHEMA_TEXT } from "../../src/avro/index.js";
import type { Kafka } from "../../src/kafka/index.js";
import { openProducer } from "../../src/kafka/session.js";
import { registrarOf } from "../../src/registry.js";
import {
  type AvroReadResult,
  type AvroRecord,
  apicurioNativeUrl,
  readAvroWithJava,
  readAvroWithPython,
} from "../support/avro-readers.js";
import { createTopic, deleteTopics, testKafka, toProduce, uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

/** The connector's row schema, as the readers fetch it from the registry. */
const schema = JSON.parse(PSTN_ROW_SCHEMA_TEXT) as { fields: { name: string }[] };

interface Fixture {
  partition: number;
  key: string | null;
  headers: Record<string, string>;
  /** The row as Graph sends it, what the connector's codec encodes. */
  graph: Record<string, unknown>;
  /** What both readers must print for it: fields left out are null. */
  expected: Record<string, unknown>;
}

const headers = { "pstn.tenant": "contoso", "pstn.source": "getPstnCalls/v1.0", "x-note": "größe ✓ 東京" };

/** Written in transactions that commit. */
const committed: Fixture[] = [
  {
    partition: 0,
    key: "9c4984c7-6c3c-427d-a30c-bd0b2eacee90",
    headers,
    graph: {
      id: "9c4984c7-6c3c-427d-a30c-bd0b2eacee90",
      callId: "1234567890",
      userId: "db03c14b-06eb-4189-939b-7cbf3a20ba27",
      userPrincipalName: "alice@contoso.com",
      userDisplayName: "Alice Müller 東京",
      // Graph's 7th fractional digit is truncated.
      startDateTime: "2026-11-30T08:15:42.1234567Z",
      endDateTime: "2026-11-30T08:19:21Z",
      duration: 219,
      charge: "0.023",
      connectionCharge: "-12345678901234567890.123456789012",
      currency: "USD",
      callType: "user_out",
      calleeNumber: "+1234567890",
      callerNumber: "+0987654321",
      usageCountryCode: "US",
      tenantCountryCode: "US",
      otherPartyCountryCode: "DE",
      destinationContext: "International",
      destinationName: "Germany",
      conferenceId: null,
      licenseCapability: "MCOPSTNU",
      inventoryType: "Subscriber",
      operator: "Microsoft",
      callDurationSource: "microsoft",
      clientPublicIpV4Address: "203.0.113.7",
      clientLocalIpV6Address: "fe80::1",
      administrativeUnitInfos: [
        { id: "0b6c1a2e-4f7a-4b8e-9d3c-2a1f5e6d7c8b" },
        { id: "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" },
      ],
    },
    expected: {
      id: "9c4984c7-6c3c-427d-a30c-bd0b2eacee90",
      callId: "1234567890",
      userId: "db03c14b-06eb-4189-939b-7cbf3a20ba27",
      userPrincipalName: "alice@contoso.com",
      userDisplayName: "Alice Müller 東京",
      startDateTime: 1_796_026_542_123_456,
      endDateTime: 1_796_026_761_000_000,
      duration: 219,
      charge: "0.023000000000",
      connectionCharge: "-12345678901234567890.123456789012",
      currency: "USD",
      callType: "user_out",
      calleeNumber: "+1234567890",
      callerNumber: "+0987654321",
      usageCountryCode: "US",
      tenantCountryCode: "US",
      otherPartyCountryCode: "DE",
      destinationContext: "International",
      destinationName: "Germany",
      licenseCapability: "MCOPSTNU",
      inventoryType: "Subscriber",
      operator: "Microsoft",
      callDurationSource: "microsoft",
      clientPublicIpV4Address: "203.0.113.7",
      clientLocalIpV6Address: "fe80::1",
      administrativeUnitInfos: [
        { id: "0b6c1a2e-4f7a-4b8e-9d3c-2a1f5e6d7c8b" },
        { id: "5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" },
      ],
    },
  },
  {
    partition: 1,
    key: "2f0c8e1a-9b7d-4c6e-8f5a-3d2b1c0e9f8a",
    headers: { "pstn.tenant": "fabrikam" },
    graph: {
      id: "2f0c8e1a-9b7d-4c6e-8f5a-3d2b1c0e9f8a",
      userId: "",
      // One microsecond before the epoch: a negative timestamp.
      startDateTime: "1969-12-31T23:59:59.999999Z",
      // str(Decimal) would print 1E-12.
      charge: "1e-12",
      connectionCharge: 0,
      administrativeUnitInfos: [],
    },
    expected: {
      id: "2f0c8e1a-9b7d-4c6e-8f5a-3d2b1c0e9f8a",
      userId: "",
      startDateTime: -1,
      charge: "0.000000000001",
      connectionCharge: "0.000000000000",
      administrativeUnitInfos: [],
    },
  },
  {
    partition: 0,
    key: null,
    headers: {},
    graph: {
      id: "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
      startDateTime: "2026-12-01T00:00:00.5+01:00",
      endDateTime: null,
      // decimal(38, 12) at its widest.
      charge: "99999999999999999999999999.999999999999",
      connectionCharge: -1.5,
      callerNumber: 'say "hi"\\\n\ttab',
    },
    expected: {
      id: "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
      startDateTime: 1_796_079_600_500_000,
      charge: "99999999999999999999999999.999999999999",
      connectionCharge: "-1.500000000000",
      callerNumber: 'say "hi"\\\n\ttab',
    },
  },
];

/** Written after an aborted transaction, in a transaction that commits. */
const last: Fixture = {
  partition: 1,
  key: "e1d2c3b4-a5f6-4789-8abc-def012345678",
  headers,
  graph: {
    id: "e1d2c3b4-a5f6-4789-8abc-def012345678",
    startDateTime: "2026-11-30T09:00:00.000001Z",
    duration: 0,
    // A JSON number, as Graph v1.0 sends the charge: its shortest text is what is carried.
    charge: 0.1,
    currency: "EUR",
  },
  expected: {
    id: "e1d2c3b4-a5f6-4789-8abc-def012345678",
    startDateTime: 1_796_029_200_000_001,
    duration: 0,
    charge: "0.100000000000",
    currency: "EUR",
  },
};

const aborted: Fixture[] = [0, 1].map((partition) => ({
  partition,
  key: `aborted-${partition}`,
  headers,
  graph: { id: `aborted-${partition}`, startDateTime: "2026-11-30T10:00:00Z", charge: "666" },
  expected: {},
}));

/**
 * A record of a schema new to the registry (its namespace is unique to the run), which tells a
 * lookup by content id from one by global id. Apicurio gives the version that brings new content a
 * global id equal to the content id, so a reader looking up global ids would find the same schema;
 * registered under a twin subject first, which is then deleted for good, the probe's id names its
 * content and no version at all, and only a content-id lookup finds it.
 */
const probeSchema = {
  type: "record",
  name: "idProbe",
  namespace: `test.pstn.p${randomUUID().replaceAll("-", "")}`,
  fields: [{ name: "note", type: "string" }],
};
const probeKey = "id-probe";
const probeValue = { note: "read by content id" };

/** The committed fixtures, `last`, and the probe. */
const committedCount = committed.length + 2;

/** Every field of the schema, null unless the fixture gives it. */
function fullRow(given: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(schema.fields.map(({ name }) => [name, given[name] ?? null]));
}

/** Records as both readers agree to print them, ordered by partition, then offset. */
function ordered(result: AvroReadResult): AvroRecord[] {
  return [...result.records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

describe("the Python and Java Avro readers", () => {
  let stack: TestStack;
  let kafka: Kafka;
  let topic: string;
  let schemaId: number;
  let probeId: number;

  before(async () => {
    stack = await startTestStack();
    kafka = testKafka(stack.brokers, "avro-readers-test");
    topic = uniqueName("avro-readers");
    await createTopic(kafka, topic, { partitions: 2 });

    const registrar = registrarOf(new SchemaRegistry({ host: stack.registryUrl }));
    schemaId = await registrar.register(`${topic}-value`, PSTN_ROW_SCHEMA_TEXT);
    const twin = `${topic}-probe-twin-value`;
    const twinId = await registrar.register(twin, JSON.stringify(probeSchema));
    probeId = await registrar.register(`${topic}-probe-value`, JSON.stringify(probeSchema));
    assert.equal(probeId, twinId);
    // Soft, then permanent: the Confluent API deletes a subject in two steps.
    for (const query of ["", "?permanent=true"]) {
      const response = await fetch(`${stack.registryUrl}/subjects/${twin}${query}`, { method: "DELETE" });
      assert.equal(response.status, 200, `DELETE ${twin}${query}: ${await response.text()}`);
    }

    const codec = createRowCodec();
    const wireHeader = Buffer.alloc(5);
    wireHeader.writeUInt32BE(schemaId, 1);
    const message = (fixture: Fixture) => {
      const encoded = codec.encode(fixture.graph, wireHeader);
      assert.ok(encoded.ok, `fixture ${String(fixture.graph.id)}: ${encoded.ok ? "" : encoded.reason}`);
      return toProduce(topic, {
        key: fixture.key,
        value: encoded.value,
        partition: fixture.partition,
        headers: fixture.headers,
      });
    };

    const producer = openProducer(kafka, uniqueName("avro-readers-tx"), 30_000);
    try {
      const plan: [outcome: "commit" | "abort", fixtures: Fixture[]][] = [
        ["commit", committed],
        ["abort", aborted],
        ["commit", [last]],
      ];
      for (const [index, [outcome, fixtures]] of plan.entries()) {
        const messages = fixtures.map(message);
        if (index === plan.length - 1) {
          const probe = Buffer.concat([
            Buffer.from([0, 0, 0, 0, 0]),
            avsc.Type.forSchema(probeSchema as avsc.Schema).toBuffer(probeValue),
          ]);
          probe.writeUInt32BE(probeId, 1);
          messages.push(toProduce(topic, { key: probeKey, value: probe, partition: 1 }));
        }
        const transaction = await producer.beginTransaction();
        await transaction.send({ messages });
        if (outcome === "abort") await transaction.abort();
        else await transaction.commit();
      }
    } finally {
      await producer.close();
    }
  });
  after(async () => {
    if (kafka) await deleteTopics(kafka, [topic]);
    await stack?.stop();
  });

  test("the registry's Confluent-compatible ids are content ids; the probe's names no version", async () => {
    const api = apicurioNativeUrl(stack.registryUrl);
    for (const [subject, id] of [
      [`${topic}-value`, schemaId],
      [`${topic}-probe-value`, probeId],
    ] as const) {
      const response = await fetch(`${api}/groups/default/artifacts/${subject}/versions/branch=latest`);
      assert.equal(response.status, 200, subject);
      const version = (await response.json()) as { globalId: number; contentId: number };
      assert.equal(version.contentId, id, subject);
    }
    assert.equal((await fetch(`${api}/ids/contentIds/${probeId}`)).status, 200);
    assert.equal((await fetch(`${api}/ids/globalIds/${probeId}`)).status, 404);
  });

  test("both read exactly the committed records, decoded identically", async () => {
    const all = [...committed, last];
    const options = { expected: committedCount, settleMs: 1000 };
    const [python, java] = await Promise.all([
      readAvroWithPython(stack.brokers, stack.registryUrl, topic, options),
      readAvroWithJava(stack.brokers, stack.registryUrl, topic, options),
    ]);
    assert.equal(python.timedOut, false);
    assert.equal(java.timedOut, false);
    assert.deepEqual(ordered(python), ordered(java));

    const expected = [
      ...[0, 1].flatMap((partition) =>
        all
          .filter((fixture) => fixture.partition === partition)
          .map((fixture) => ({
            partition,
            key: fixture.key,
            schemaId,
            headers: fixture.headers,
            value: fullRow(fixture.expected),
          })),
      ),
      // Sent after `last`, in its transaction.
      { partition: 1, key: probeKey, schemaId: probeId, headers: {}, value: probeValue },
    ];
    assert.deepEqual(
      ordered(python).map(({ offset: _, ...record }) => record),
      expected,
    );
  });

  test("waiting for more than was committed runs out with the same records, no aborted one", async () => {
    const options = { expected: committedCount + 1, timeoutMs: 4000 };
    const [python, java] = await Promise.all([
      readAvroWithPython(stack.brokers, stack.registryUrl, topic, options),
      readAvroWithJava(stack.brokers, stack.registryUrl, topic, options),
    ]);
    for (const result of [python, java]) {
      assert.equal(result.timedOut, true);
      assert.equal(result.records.length, committedCount);
      assert.ok(result.records.every((record) => !record.key?.startsWith("aborted")));
    }
    assert.deepEqual(ordered(python), ordered(java));
  });
});
