import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";
import { consumeAll, createTopic, deleteTopics, produce, testKafka, uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const callSchemaV1 = {
  type: "record",
  name: "smokeCall",
  namespace: "test.pstn",
  fields: [
    { name: "id", type: "string" },
    { name: "duration", type: "int" },
    { name: "calleeNumber", type: ["null", "string"], default: null },
  ],
};

describe("@kafkajs/confluent-schema-registry against the real registry", () => {
  let stack: TestStack;
  let registry: SchemaRegistry;

  before(async () => {
    stack = await startTestStack();
    registry = new SchemaRegistry({ host: stack.registryUrl });
  });
  after(async () => {
    await stack?.stop();
  });

  test("registers under <topic>-value, encodes in the Confluent wire format and decodes back", async () => {
    const topic = uniqueName("registry-topic");
    const subject = `${topic}-value`;
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(callSchemaV1) },
      { subject },
    );
    assert.equal(await registry.getLatestSchemaId(subject), id);

    const row = { id: "9c4984c7-6c3c-427d-a30c-bd0b2eacee90", duration: 219, calleeNumber: "+1234567890" };
    const encoded = await registry.encode(id, row);
    assert.equal(encoded.readUInt8(0), 0, "magic byte");
    assert.equal(encoded.readUInt32BE(1), id, "schema id, big-endian");

    // A fresh client knows nothing but the registry: decoding proves the id resolves there.
    const fresh = new SchemaRegistry({ host: stack.registryUrl });
    assert.deepEqual({ ...(await fresh.decode(encoded)) }, row);
  });

  test("the same schema gets the same id; a compatible change a new one; an incompatible one is refused", async () => {
    const subject = `${uniqueName("registry-topic")}-value`;
    const schema = { type: SchemaType.AVRO as const, schema: JSON.stringify(callSchemaV1) };
    const first = await registry.register(schema, { subject });
    const again = await registry.register(schema, { subject });
    assert.equal(again.id, first.id);

    const withOptionalField = {
      ...callSchemaV1,
      fields: [...callSchemaV1.fields, { name: "currency", type: ["null", "string"], default: null }],
    };
    const evolved = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(withOptionalField) },
      { subject },
    );
    assert.notEqual(evolved.id, first.id);

    const withRequiredField = {
      ...withOptionalField,
      fields: [...withOptionalField.fields, { name: "charge", type: "string" }],
    };
    await assert.rejects(
      registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(withRequiredField) }, { subject }),
      (error: Error & { status?: number }) => error.status === 409 && /incompatible/i.test(error.message),
    );
    const config = await fetch(`${stack.registryUrl}/config`);
    assert.deepEqual(await config.json(), { compatibilityLevel: "BACKWARD" });
  });

  test("values written to Kafka decode with the schema fetched by the id in each message", async () => {
    const kafka = testKafka(stack.brokers, "registry-test");
    const topic = uniqueName("registry-topic");
    await createTopic(kafka, topic);

    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(callSchemaV1) },
      { subject: `${topic}-value` },
    );
    const rows = Array.from({ length: 5 }, (_, i) => ({
      id: `row-${i}`,
      duration: i * 10,
      calleeNumber: i % 2 ? null : "+1",
    }));
    await produce(
      kafka,
      topic,
      await Promise.all(rows.map(async (row) => ({ key: row.id, value: await registry.encode(id, row) }))),
    );

    const messages = await consumeAll(stack.brokers, topic, { expected: rows.length, settleMs: 200 });
    await deleteTopics(kafka, [topic]);
    const decoded = await Promise.all(messages.map(async (m) => ({ ...(await registry.decode(m.value!)) })));
    assert.deepEqual(decoded, rows);
    assert.deepEqual(
      messages.map((m) => m.key?.toString()),
      rows.map((r) => r.id),
    );
  });
});
