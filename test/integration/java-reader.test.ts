import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Kafka } from "../../src/kafka/index.js";
import { openProducer } from "../../src/kafka/session.js";
import { readTopicWithJava } from "../support/java-reader.js";
import { createTopic, deleteTopics, testKafka, toProduce, uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

// The tests' independent reader: Kafka's Java consumer, the reference for read_committed. One
// producer aborting several transactions in one partition is the state topic's everyday case.
describe("the Java topic reader", () => {
  let stack: TestStack;
  let kafka: Kafka;
  let topic: string;

  before(async () => {
    stack = await startTestStack();
    kafka = testKafka(stack.brokers, "java-reader-test");
    topic = uniqueName("java-reader");
    await createTopic(kafka, topic, { partitions: 2 });
    const producer = openProducer(kafka, uniqueName("java-reader-tx"), 30_000);
    const plan: [outcome: "abort" | "commit", values: string[]][] = [
      ["abort", ["a1", "a2", "a3"]],
      ["commit", ["b1"]],
      ["abort", ["c1", "c2", "c3"]],
      ["commit", ["d1"]],
      ["abort", ["e1"]],
      ["commit", ["f1"]],
    ];
    for (const [outcome, values] of plan) {
      const transaction = await producer.beginTransaction();
      await transaction.send({
        messages: values.map((value) =>
          toProduce(topic, { key: "k", value, partition: 0, headers: { "x-name": value } }),
        ),
      });
      if (outcome === "abort") await transaction.abort();
      else await transaction.commit();
    }
    await producer.close();
  });
  after(async () => {
    if (kafka) await deleteTopics(kafka, [topic]);
    await stack?.stop();
  });

  test("read_committed returns the committed records only, in order, with keys and headers", async () => {
    const { records, timedOut } = await readTopicWithJava(stack.brokers, topic, {
      expected: 3,
      settleMs: 500,
    });
    assert.equal(timedOut, false);
    assert.deepEqual(
      records.map((record) => record.value?.toString()),
      ["b1", "d1", "f1"],
    );
    for (const record of records) {
      assert.equal(record.partition, 0);
      assert.equal(record.key?.toString(), "k");
      assert.deepEqual(
        record.headers.map(([name, value]) => [name, value?.toString()]),
        [["x-name", record.value?.toString()]],
      );
    }
  });

  test("read_uncommitted returns the aborted records too; a short topic reports the wait ran out", async () => {
    const all = await readTopicWithJava(stack.brokers, topic, {
      expected: 11,
      timeoutMs: 4000,
      readUncommitted: true,
    });
    assert.equal(all.timedOut, true);
    assert.deepEqual(
      all.records.map((record) => record.value?.toString()),
      ["a1", "a2", "a3", "b1", "c1", "c2", "c3", "d1", "e1", "f1"],
    );
  });
});
