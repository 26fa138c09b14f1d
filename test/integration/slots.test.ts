/**
 * The slots on the real broker: replicas in one group share the slots out, balanced and sticky
 * (a replica joining takes a fair share and the others keep the rest; a replica leaving loses its
 * slots to the others); a unit's state written through one replica's slot is what the next owner
 * restores, and the old owner's writer is fenced.
 */
import assert from "node:assert/strict";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka } from "../../src/kafka/index.js";
import { SlotWriter } from "../../src/kafka/slot-writer.js";
import { SlotGroup } from "../../src/kafka/slots.js";
import { ensureSlotsTopic, ensureTopics } from "../../src/kafka/topics.js";
import { createLogger } from "../../src/log.js";
import type { SinkSession, SourceTopics } from "../../src/sink.js";
import { readTopicWithJava } from "../support/java-reader.js";
import { deleteTopics, testKafka, uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const SESSION_TIMEOUT_MS = 6_000;
const SLOTS = 6;

describe("SlotGroup: slots spread over replicas by the group, fenced per slot", () => {
  let stack: TestStack;
  const topicsMade: string[] = [];

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    if (stack) await deleteTopics(testKafka(stack.brokers, "slots-cleanup"), topicsMade);
    await stack?.stop();
  });

  function client(name: string): Kafka {
    return testKafka(stack.brokers, uniqueName(name));
  }

  /** A fresh deployment: its slots topic, one stream's topics, its group. */
  async function deployment(): Promise<{ slotsTopic: string; topics: SourceTopics; groupId: string }> {
    const slotsTopic = uniqueName("test-slots");
    const data = uniqueName("test-slots-data");
    const topics = { outputs: [data], dlq: `${data}.dlq`, state: `${data}.state` };
    const admin = client("slots-admin").admin();
    try {
      assert.equal(await ensureSlotsTopic(admin, slotsTopic, SLOTS), SLOTS);
      await ensureTopics(admin, topics, { dataPartitions: 2 });
    } finally {
      await admin.close();
    }
    topicsMade.push(slotsTopic, data, topics.dlq, topics.state);
    return { slotsTopic, topics, groupId: uniqueName("test-slots-group") };
  }

  async function join(
    t: TestContext,
    name: string,
    where: { slotsTopic: string; topics: SourceTopics; groupId: string },
    units: string[] = [],
  ): Promise<SlotGroup> {
    const group = await SlotGroup.join({
      kafka: client(name),
      logger: createLogger("silent"),
      topic: where.slotsTopic,
      slots: SLOTS,
      groupId: where.groupId,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      transactionalIdOf: (slot) => `${where.groupId}:slot-${slot}`,
      stateTopics: () => [where.topics.state],
      units: () => units.map((identity) => ({ identity, stateTopic: where.topics.state })),
      compression: "none",
      transactionTimeoutMs: 30_000,
      restoreTimeoutMs: 30_000,
    });
    t.after(() => group.leave());
    return group;
  }

  /** Waits until the groups hold every slot between them, each once, and returns who holds what. */
  async function settled(groups: SlotGroup[], expectCounts: number[]): Promise<number[][]> {
    const deadline = Date.now() + 4 * SESSION_TIMEOUT_MS + 10_000;
    let held: number[][] = [];
    while (Date.now() < deadline) {
      held = groups.map((group) => group.held());
      const all = held.flat().sort((a, b) => a - b);
      const counts = held.map((slots) => slots.length).sort();
      if (
        all.length === SLOTS &&
        new Set(all).size === SLOTS &&
        JSON.stringify(counts) === JSON.stringify([...expectCounts].sort())
      )
        return held;
      await sleep(200);
    }
    assert.fail(`slots did not settle to ${expectCounts}: held ${JSON.stringify(held)}`);
  }

  test("balanced and sticky: a second and third replica take fair shares, the others keep theirs; one leaving hands its slots on", async (t) => {
    const where = await deployment();
    const a = await join(t, "replica-a", where);
    const [alone] = await settled([a], [SLOTS]);
    assert.deepEqual(alone, [0, 1, 2, 3, 4, 5]);

    const b = await join(t, "replica-b", where);
    const two = await settled([a, b], [3, 3]);
    // Sticky: a kept the slots it still holds, and b got only what a gave up.
    assert.ok(two[0]?.every((slot) => alone?.includes(slot)));

    const c = await join(t, "replica-c", where);
    const three = await settled([a, b, c], [2, 2, 2]);
    for (const [i, slots] of three.slice(0, 2).entries())
      assert.ok(
        slots.every((slot) => two[i]?.includes(slot)),
        `replica ${i} kept only slots it held before: ${slots} of ${two[i]}`,
      );

    const leftAt = Date.now();
    await b.leave();
    const after = await settled([a, c], [3, 3]);
    t.diagnostic(`slots reassigned ${Date.now() - leftAt} ms after a replica left`);
    assert.ok(after[0]?.every((slot) => three[0]?.includes(slot) || three[1]?.includes(slot)));
  });

  test("a unit's commits through one replica's slot are what the next owner restores; the old writer is fenced", async (t) => {
    const where = await deployment();
    const identity = `${uniqueName("tenant")}/pstn/default`;
    const a = await join(t, "owner-a", where, [identity]);
    await settled([a], [SLOTS]);
    const spec = {
      identity,
      transactionalId: "unused",
      topics: where.topics,
      lookbackMs: 3_600_000,
      start: new Date("2026-01-01T00:00:00Z"),
    };
    const first: SinkSession = await a.openSession(spec);
    assert.equal(first.state.watermark, undefined);
    const watermark = new Date("2026-01-02T00:00:00Z");
    await first.commit({
      outputs: [[{ key: "row-1", value: Buffer.from("one") }]],
      dlq: [],
      state: first.state.advance(watermark, new Date("2026-01-01T00:00:00Z")),
    });

    // The unit's slot moves to b when a leaves: b restores what a committed.
    const slot = a.slotOf(identity);
    const b = await join(t, "owner-b", where, [identity]);
    const split = await settled([a, b], [3, 3]);
    let owner = split[0]?.includes(slot) ? a : b;
    if (owner === a) {
      // The unit stayed with a: make it move by a leaving.
      await a.leave();
      await settled([b], [SLOTS]);
      owner = b;
    }
    const restored = await owner.openSession(spec);
    assert.equal(restored.state.watermark?.toISOString(), watermark.toISOString());

    if (split[1]?.includes(slot)) {
      // a still runs but b opened the slot: a's writer is fenced, its commit refused.
      await assert.rejects(
        first.commit({ outputs: [[{ key: "row-2", value: Buffer.from("two") }]], dlq: [], state: [] }),
        (error: Error & { code?: string }) => error.code === "PSTN_KAFKA_FENCED",
      );
    }
  });

  test("a writer that failed or was fenced never writes again, not even on a new producer (that would fence the newer writer): the newer one goes on", async () => {
    const where = await deployment();
    const writerOptions = (name: string) => ({
      kafka: client(name),
      transactionalId: `${where.groupId}:slot-0`,
      barrierIdentity: `${where.groupId}:slot-0`,
      compression: "none" as const,
      transactionTimeoutMs: 30_000,
      logger: createLogger("silent"),
    });
    const { writer: older } = await SlotWriter.open(writerOptions("older"), [where.topics.state]);
    const batch = (key: string) => ({ outputs: [[{ key, value: Buffer.from(key) }]], dlq: [], state: [] });
    await older.commit(where.topics, batch("before"));
    const { writer: newer } = await SlotWriter.open(writerOptions("newer"), [where.topics.state]);
    // The older writer does not know yet: its next transaction fails for a reason of its own (a
    // topic the cluster does not have), not by the fence.
    const missing = { ...where.topics, outputs: [uniqueName("test-slots-missing")] };
    await assert.rejects(older.commit(missing, batch("zombie-0")));
    await assert.rejects(older.commit(where.topics, batch("zombie-1")));
    assert.equal(older.ended.aborted, true, "the older writer ended");
    await assert.rejects(older.commit(where.topics, batch("zombie-2")), "and stays ended");
    await newer.commit(where.topics, batch("after"));
    await older.close();
    await newer.close();
    const keys = (
      await readTopicWithJava(stack.brokers, where.topics.outputs[0] as string, {
        expected: 2,
        timeoutMs: 30_000,
        settleMs: 1500,
      })
    ).records.map((record) => record.key?.toString());
    assert.deepEqual(keys.sort(), ["after", "before"]);
  });
});
