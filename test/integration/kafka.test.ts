import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CompressionTypes, Kafka, logLevel } from "kafkajs";
import { consumeAll, uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

// kafkajs 2.2.4 against Kafka 4.x: every API the connector relies on, on the real broker.
describe("kafkajs against the real broker", () => {
  let stack: TestStack;
  let kafka: Kafka;

  before(async () => {
    stack = await startTestStack();
    kafka = new Kafka({ clientId: "kafka-test", brokers: stack.brokers, logLevel: logLevel.ERROR });
  });
  after(async () => {
    await stack?.stop();
  });

  async function createTopic(partitions = 1): Promise<string> {
    const topic = uniqueName("test-topic");
    const admin = kafka.admin();
    await admin.connect();
    try {
      const created = await admin.createTopics({
        topics: [{ topic, numPartitions: partitions }],
        waitForLeaders: true,
      });
      assert.equal(created, true);
    } finally {
      await admin.disconnect();
    }
    return topic;
  }

  test("admin creates a topic with the partitions asked for, and refuses a duplicate", async () => {
    const topic = await createTopic(3);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      assert.equal(metadata.topics[0]?.partitions.length, 3);
      assert.ok((await admin.listTopics()).includes(topic));
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }), false);
    } finally {
      await admin.disconnect();
    }
  });

  test("a consumer group reads what was produced and commits its offsets", async () => {
    const topic = await createTopic(2);
    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 4}`, value: `v${i}` }));
    try {
      await producer.send({ topic, messages: sent, compression: CompressionTypes.GZIP });
    } finally {
      await producer.disconnect();
    }

    const groupId = uniqueName("group");
    const received = await consumeAll(kafka, topic, { expected: sent.length, groupId, settleMs: 500 });
    assert.deepEqual(received.map((m) => m.value?.toString()).sort(), sent.map((m) => m.value).sort());

    const admin = kafka.admin();
    await admin.connect();
    try {
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const highWatermarks = await admin.fetchTopicOffsets(topic);
      const byPartition = new Map(highWatermarks.map((p) => [p.partition, p.high]));
      for (const partition of committed[0]?.partitions ?? []) {
        assert.equal(
          partition.offset,
          byPartition.get(partition.partition),
          `partition ${partition.partition}`,
        );
      }
      assert.equal(committed[0]?.partitions.length, 2);
    } finally {
      await admin.disconnect();
    }
  });

  test("an idempotent producer writes each message once", async () => {
    const topic = await createTopic();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let batch = 0; batch < 5; batch++) {
        const results = await producer.send({
          topic,
          acks: -1,
          messages: Array.from({ length: 10 }, (_, i) => ({ key: "k", value: `b${batch}-m${i}` })),
        });
        assert.equal(results[0]?.errorCode, 0);
      }
    } finally {
      await producer.disconnect();
    }
    const received = await consumeAll(kafka, topic, { expected: 50 });
    const values = received.map((m) => m.value?.toString());
    assert.equal(values.length, 50);
    assert.equal(new Set(values).size, 50);
  });

  test("read_committed sees committed transactions only; read_uncommitted sees the aborted one too", async () => {
    const topic = await createTopic();
    const producer = kafka.producer({
      transactionalId: uniqueName("txn"),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      const committed = await producer.transaction();
      await committed.send({ topic, messages: [{ value: "c1" }, { value: "c2" }, { value: "c3" }] });
      await committed.commit();

      const aborted = await producer.transaction();
      await aborted.send({ topic, messages: [{ value: "a1" }, { value: "a2" }, { value: "a3" }] });
      await aborted.abort();

      const second = await producer.transaction();
      await second.send({ topic, messages: [{ value: "c4" }, { value: "c5" }] });
      await second.commit();
    } finally {
      await producer.disconnect();
    }

    const readCommitted = await consumeAll(kafka, topic, { expected: 5 });
    assert.deepEqual(
      readCommitted.map((m) => m.value?.toString()),
      ["c1", "c2", "c3", "c4", "c5"],
    );
    const readUncommitted = await consumeAll(kafka, topic, { expected: 8, readUncommitted: true });
    assert.deepEqual(
      readUncommitted.map((m) => m.value?.toString()),
      ["c1", "c2", "c3", "a1", "a2", "a3", "c4", "c5"],
    );
  });
});
