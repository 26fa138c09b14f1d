import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type KafkaClusterSpec,
  kafkaBrokers,
  kafkaNodeProperties,
  newClusterId,
} from "../../../tools/stack/kafka.js";

function cluster(nodes: number): KafkaClusterSpec {
  return {
    nodes: Array.from({ length: nodes }, (_, i) => ({
      nodeId: i + 1,
      port: 29092 + 2 * i,
      controllerPort: 29093 + 2 * i,
      dataDir: `/data/${i + 1}`,
      configFile: `/conf/${i + 1}`,
      logFile: `/log/${i + 1}`,
    })),
    replicationFactor: nodes === 1 ? 1 : 3,
    minInsyncReplicas: nodes === 1 ? 1 : 2,
    heapMb: 384,
  };
}

function parse(properties: string): Map<string, string> {
  return new Map(
    properties
      .trim()
      .split("\n")
      .map((line) => {
        const at = line.indexOf("=");
        return [line.slice(0, at), line.slice(at + 1)] as [string, string];
      }),
  );
}

test("a three-node cluster names every voter on every node, each with its own ports and dir", () => {
  const spec = cluster(3);
  const props = spec.nodes.map((node) => parse(kafkaNodeProperties(spec, node)));
  for (const [i, p] of props.entries()) {
    assert.equal(p.get("controller.quorum.voters"), "1@127.0.0.1:29093,2@127.0.0.1:29095,3@127.0.0.1:29097");
    assert.equal(p.get("node.id"), String(i + 1));
    assert.equal(
      p.get("listeners"),
      `PLAINTEXT://127.0.0.1:${29092 + 2 * i},CONTROLLER://127.0.0.1:${29093 + 2 * i}`,
    );
    assert.equal(p.get("log.dirs"), `/data/${i + 1}`);
    assert.equal(p.get("default.replication.factor"), "3");
    assert.equal(p.get("min.insync.replicas"), "2");
    assert.equal(p.get("transaction.state.log.min.isr"), "2");
    assert.equal(p.get("share.coordinator.state.topic.replication.factor"), "3");
  }
  assert.deepEqual(kafkaBrokers(spec), ["127.0.0.1:29092", "127.0.0.1:29094", "127.0.0.1:29096"]);
});

test("a single node replicates its internal topics once", () => {
  const spec = cluster(1);
  const p = parse(kafkaNodeProperties(spec, spec.nodes[0]!));
  for (const key of [
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
  ]) {
    assert.equal(p.get(key), "1", key);
  }
  assert.equal(p.get("auto.create.topics.enable"), "false");
});

test("cluster ids are 22 URL-safe base64 characters and differ", () => {
  const a = newClusterId();
  assert.match(a, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(a, newClusterId());
});

test("a cluster id never begins with '-' (kafka-storage would read it as an option)", () => {
  // 0xf8 as the first byte encodes to "-" first; the second draw is used.
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x41)];
  const id = newClusterId(() => draws.shift() as Buffer);
  assert.equal(draws.length, 0, "the id starting with '-' was drawn again");
  assert.ok(!id.startsWith("-"), id);
  assert.equal(id, Buffer.alloc(16, 0x41).toString("base64url"));
});
