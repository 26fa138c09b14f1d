import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ConfigResourceTypes } from "@platformatic/kafka";
import type { Kafka } from "../../src/kafka/index.js";
import { byPartition } from "../../src/kafka/layout.js";
import { partitionOfKey } from "../../src/kafka/partition.js";
import { addPartitions, openProducer, sendEachPartition } from "../../src/kafka/session.js";
import { ensureTopics } from "../../src/kafka/topics.js";
import type { SourceTopics } from "../../src/sink.js";
import { consumeAll, createTopic, deleteTopics, testKafka, uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

// @platformatic/kafka against Kafka 4.x: what the Sink relies on, read back by Kafka's Java consumer.
describe("the connector's Kafka client against the real broker", () => {
  let stack: TestStack;
  let kafka: Kafka;
  const topics: string[] = [];

  before(async () => {
    stack = await startTestStack();
    kafka = testKafka(stack.brokers, "kafka-test");
  });
  after(async () => {
    if (kafka) await deleteTopics(kafka, topics);
    await stack?.stop();
  });

  test("ensureTopics creates a source's three topics with their settings, then finds them there", async () => {
    const data = uniqueName("test-data");
    const names: SourceTopics = {
      outputs: [data],
      dlq: uniqueName("test-dlq"),
      state: uniqueName("test-state"),
    };
    topics.push(data, names.dlq, names.state);
    const admin = kafka.admin();
    try {
      assert.deepEqual(await ensureTopics(admin, names, { dataPartitions: 3 }), [
        data,
        names.dlq,
        names.state,
      ]);
      assert.deepEqual(await ensureTopics(admin, names, { dataPartitions: 3 }), [], "nothing created twice");
      const metadata = await admin.metadata({ topics: [data, names.dlq, names.state] });
      assert.deepEqual(
        [data, names.dlq, names.state].map((name) => metadata.topics.get(name)?.partitionsCount),
        [3, 1, 1],
      );
      const [state] = await admin.describeConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: names.state,
            configurationKeys: ["cleanup.policy", "min.cleanable.dirty.ratio"],
          },
        ],
      });
      assert.deepEqual(Object.fromEntries(state?.configs.map((c) => [c.name, c.value]) ?? []), {
        "cleanup.policy": "compact",
        "min.cleanable.dirty.ratio": "0.1",
      });
    } finally {
      await admin.close();
    }
  });

  for (const compression of ["none", "gzip", "snappy", "lz4", "zstd"] as const) {
    test(`${compression}: a transaction over several partitions, read back exactly by Java's consumer, each key where Java's partitioner puts it`, async () => {
      const topic = uniqueName(`test-${compression}`);
      await createTopic(kafka, topic, { partitions: 4 });
      topics.push(topic);
      const records = Array.from({ length: 300 }, (_, i) => ({
        key: `call-${i}-${"é".repeat(i % 3)}`,
        value: Buffer.from(`{"charge":"${i}.0100","n":${i}}`.repeat(1 + (i % 5))),
        headers: { "pstn.n": String(i) },
      }));
      const sends = byPartition(topic, records, new Map([[topic, 4]]), 4_000);
      assert.ok(sends.length > 4, "some partitions in several sends");
      const producer = openProducer(kafka, uniqueName("test-txn"), 30_000);
      try {
        const transaction = await producer.beginTransaction();
        await addPartitions(producer, transaction, sends);
        await sendEachPartition(transaction, sends, compression);
        await transaction.commit();
        const aborted = await producer.beginTransaction();
        const abortedSends = byPartition(topic, [{ key: "aborted", value: "x" }], new Map([[topic, 4]]));
        await addPartitions(producer, aborted, abortedSends);
        await sendEachPartition(aborted, abortedSends, compression);
        await aborted.abort();
      } finally {
        await producer.close();
      }
      const read = await consumeAll(stack.brokers, topic, { expected: records.length, settleMs: 1_000 });
      const byKey = new Map(read.map((record) => [record.key?.toString("utf8"), record]));
      assert.equal(read.length, records.length, "each committed record once, the aborted one not");
      for (const record of records) {
        const got = byKey.get(record.key);
        assert.ok(got, record.key);
        assert.deepEqual(got.value, record.value, record.key);
        assert.equal(got.partition, partitionOfKey(record.key, 4), record.key);
        assert.deepEqual(
          got.headers.map(([name, value]) => [name, value?.toString()]),
          [["pstn.n", record.headers["pstn.n"]]],
        );
      }
    });
  }
});
