import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Kafka } from "../../../src/kafka/index.js";
import { byPartition, type Message, topicLayout } from "../../../src/kafka/layout.js";
import { sendEachPartition } from "../../../src/kafka/session.js";
import type { Logger } from "../../../src/log.js";
import type { OutRecord } from "../../../src/sink.js";

const counts = new Map([
  ["data", 4],
  ["data.dlq", 1],
]);

function letters(count: number, valueBytes: number): OutRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `row-${i}`,
    value: Buffer.alloc(valueBytes, i % 256),
    headers: { "pstn.reason": `duration: expected an integer (${i})` },
  }));
}

describe("byPartition", () => {
  test("without a byte limit: one send per partition, in partition order, messages in their order", () => {
    const messages = letters(100, 10);
    const sends = byPartition("data", messages, counts);
    assert.ok(sends.length > 1 && sends.length <= 4);
    const partitions = sends.map((s) => s.messages[0]?.partition as number);
    assert.deepEqual(
      partitions,
      [...partitions].sort((a, b) => a - b),
    );
    for (const send of sends) {
      assert.ok(send.messages.every((m) => m.partition === send.messages[0]?.partition));
      const order = send.messages.map((m) => messages.findIndex((r) => r.key === m.key));
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
      );
    }
    assert.equal(
      sends.reduce((n, s) => n + s.messages.length, 0),
      100,
    );
  });

  test("a partition's records over the limit: consecutive sends, each under it, none lost, order kept", () => {
    const messages = letters(500, 1_000);
    const sends = byPartition("data.dlq", messages, counts, 20_000);
    assert.ok(sends.length >= 25, `500 KB of letters in sends of 20 KB at most: ${sends.length}`);
    for (const send of sends) {
      const bytes = send.messages.reduce((n, m) => n + (m.value as Buffer).length, 0);
      assert.ok(bytes <= 20_000, `a send of ${bytes} bytes of values`);
    }
    assert.deepEqual(
      sends.flatMap((s) =>
        s.messages.map(({ key, value, headers }) => ({
          key: key?.toString(),
          value,
          headers: Object.fromEntries(
            [...((headers as Map<Buffer, Buffer>) ?? [])].map(([k, v]) => [k.toString(), v.toString()]),
          ),
        })),
      ),
      messages,
    );
  });

  test("a message larger than the limit goes alone (the broker's answer is then the error to see)", () => {
    const messages = [...letters(2, 100), ...letters(1, 50_000), ...letters(2, 100)];
    const sends = byPartition("data.dlq", messages, counts, 20_000);
    assert.deepEqual(
      sends.map((s) => s.messages.length),
      [2, 1, 2],
    );
  });
});

describe("sendEachPartition", () => {
  test("partitions at once; a partition's sends one after the other, in order; a failure after all settle", async () => {
    const sends = byPartition("data.dlq", letters(60, 1_000), counts, 20_000);
    sends.push(...byPartition("data", letters(8, 10), counts));
    const started: string[] = [];
    const finished: string[] = [];
    let inFlightDlq = 0;
    let maxInFlightDlq = 0;
    const transaction = {
      send: async ({ messages }: { messages: Message[] }) => {
        const topic = messages[0]?.topic;
        const name = `${topic}:${String(messages[0]?.key)}`;
        started.push(name);
        if (topic === "data.dlq") maxInFlightDlq = Math.max(maxInFlightDlq, ++inFlightDlq);
        await new Promise((resolve) => setTimeout(resolve, 2));
        if (topic === "data.dlq") inFlightDlq--;
        finished.push(name);
        return {};
      },
    };
    await sendEachPartition(transaction, sends, "gzip");
    assert.equal(maxInFlightDlq, 1, "one send of a partition at a time");
    const dlqOrder = finished.filter((n) => n.startsWith("data.dlq:"));
    assert.deepEqual(
      dlqOrder,
      sends.filter((s) => s.topic === "data.dlq").map((s) => `data.dlq:${String(s.messages[0]?.key)}`),
    );
    const dataSends = sends.filter((s) => s.topic === "data").length;
    assert.equal(
      started.slice(0, dataSends + 1).filter((n) => n.startsWith("data:")).length,
      dataSends,
      "every data partition starts with the first dead-letter send",
    );

    let calls = 0;
    const failing = {
      send: async () => {
        calls++;
        if (calls === 1) throw new Error("broker refused");
        await new Promise((resolve) => setTimeout(resolve, 5));
        return {};
      },
    };
    await assert.rejects(sendEachPartition(failing, sends, "gzip"), /broker refused/);
  });
});

describe("topicLayout", () => {
  /** An admin answering metadata, and describeConfigs with `configs` (or refusing it). */
  function kafkaWith(configs: Record<string, string> | Error): {
    kafka: Kafka;
    warnings: string[];
    logger: Logger;
  } {
    const admin = {
      close: async () => undefined,
      metadata: async ({ topics }: { topics: string[] }) => ({
        topics: new Map(topics.map((name) => [name, { partitionsCount: name === "data" ? 3 : 1 }])),
      }),
      describeConfigs: async () => {
        if (configs instanceof Error) throw configs;
        return Object.entries(configs).map(([resourceName, value]) => ({
          resourceName,
          configs: [{ name: "max.message.bytes", value }],
        }));
      },
    };
    const warnings: string[] = [];
    const logger = { warn: (_: unknown, message: string) => warnings.push(message) } as unknown as Logger;
    return { kafka: { admin: () => admin } as unknown as Kafka, warnings, logger };
  }

  test("each topic's max.message.bytes, less room for the batch header", async () => {
    const { kafka, logger } = kafkaWith({ data: "1048588", "data.dlq": "65536", "data.state": "2097152" });
    const layout = await topicLayout(kafka, ["data", "data.dlq", "data.state"], logger);
    assert.deepEqual(
      [...layout.partitions],
      [
        ["data", 3],
        ["data.dlq", 1],
        ["data.state", 1],
      ],
    );
    assert.equal(layout.maxBatchBytes.get("data.dlq"), 65_536 - 4_096);
    assert.equal(layout.maxBatchBytes.get("data.state"), 2_097_152 - 4_096);
  });

  test("without DescribeConfigs on the topics: the broker default, and a warning", async () => {
    const refused = Object.assign(new Error("Cluster authorization failed"), {
      type: "TOPIC_AUTHORIZATION_FAILED",
    });
    const { kafka, warnings, logger } = kafkaWith(refused);
    const layout = await topicLayout(kafka, ["data", "data.dlq"], logger);
    assert.equal(layout.maxBatchBytes.get("data"), 1_048_588 - 4_096);
    assert.equal(layout.maxBatchBytes.get("data.dlq"), 1_048_588 - 4_096);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /max\.message\.bytes/);
  });
});
