import assert from "node:assert/strict";
import { after, before, describe, type TestContext, test } from "node:test";
import { type Consumer, FetchIsolationLevels, type Producer } from "@platformatic/kafka";
import { HorizonIdSet } from "../../src/dedupe/id-set.js";
import { ErrorCode, isPstnError } from "../../src/errors.js";
import { Kafka } from "../../src/kafka/index.js";
import { restoreState } from "../../src/kafka/restore.js";
import { addPartitions, KafkaSession, openProducer } from "../../src/kafka/session.js";
import { ensureTopics } from "../../src/kafka/topics.js";
import { createLogger } from "../../src/log.js";
import type { CommitBatch, SessionSpec, SourceTopics } from "../../src/sink.js";
import {
  barrierKey,
  checkpointKey,
  encodeBarrier,
  encodeCheckpoint,
  encodeIds,
  idsKey,
} from "../../src/state/records.js";
import type { StateTracker } from "../../src/state/tracker.js";
import {
  consumeAll,
  createTopic,
  deleteTopics,
  type FixtureMessage,
  testKafka,
  toProduce,
  uniqueName,
} from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ME = "contoso/pstn/main";
const OTHER = "fabrikam/pstn/main";
const NOW = Date.now();
const START = NOW - 3 * DAY;
/** The hour the test's rows started in: inside the horizon of every watermark used here. */
const BUCKET = HorizonIdSet.bucketOf(NOW - 2 * HOUR);
const silent = createLogger("silent");

/** A client that keeps the consumers it made, to tell whether they were closed. */
class RecordingKafka extends Kafka {
  readonly consumers: Consumer[] = [];

  override consumer(options: Parameters<Kafka["consumer"]>[0]): Consumer {
    const consumer = super.consumer(options);
    this.consumers.push(consumer);
    return consumer;
  }
}

type Message = FixtureMessage & { key: string };

function idsRecord(identity: string, seq: number, ids: string[]): Message {
  return { key: idsKey(identity, BUCKET, seq), value: encodeIds(ids) };
}

function checkpointRecord(identity: string, watermark: number): Message {
  return {
    key: checkpointKey(identity),
    value: encodeCheckpoint({ start: new Date(START), watermark: new Date(watermark) }),
  };
}

function barrierRecord(identity: string, nonce: string): Message {
  return { key: barrierKey(identity), value: encodeBarrier(nonce) };
}

function holds(tracker: StateTracker, ids: readonly string[]): boolean[] {
  return ids.map((id) => tracker.ids.hasAnywhere(id));
}

describe("the state topic's restore and the session's fencing, on the real broker", () => {
  let stack: TestStack;
  let kafka: RecordingKafka;
  const topics: string[] = [];

  before(async () => {
    stack = await startTestStack();
    kafka = new RecordingKafka(testKafka(stack.brokers, "state-restore-test").options);
  });
  after(async () => {
    if (kafka) await deleteTopics(kafka, topics);
    await stack?.stop();
  });

  async function stateTopic(): Promise<string> {
    const topic = uniqueName("test-state");
    await createTopic(kafka, topic, { configs: { "cleanup.policy": "compact" } });
    topics.push(topic);
    return topic;
  }

  /** A transactional producer configured as the sessions' is. */
  async function producer(t: TestContext): Promise<Producer> {
    const created = openProducer(kafka, uniqueName("test-txn"), 30_000);
    t.after(() => created.close(true));
    return created;
  }

  /** Sends `sends` (each one record batch) in one transaction, then commits or aborts it. */
  async function transaction(
    writer: Producer,
    topic: string,
    outcome: "commit" | "abort",
    ...sends: Message[][]
  ): Promise<void> {
    const txn = await writer.beginTransaction();
    for (const messages of sends) {
      await txn.send({
        messages: messages.map((message) => ({ ...toProduce(topic, message), partition: 0 })),
      });
    }
    await (outcome === "commit" ? txn.commit() : txn.abort());
  }

  /** How many records the client's fetch returns with read_committed (its own filter applied). */
  async function clientReadCommitted(topic: string): Promise<number> {
    const consumer = kafka.consumer({
      groupId: uniqueName("test-read-committed"),
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    try {
      const metadata = await consumer.metadata({ topics: [topic] });
      const described = metadata.topics.get(topic);
      const answer = await consumer.fetch({
        node: described?.partitions[0]?.leader ?? 0,
        topics: [
          {
            topicId: described?.id ?? "",
            partitions: [
              {
                partition: 0,
                fetchOffset: 0n,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
                partitionMaxBytes: 1 << 20,
              },
            ],
          },
        ],
        maxBytes: 1 << 20,
        maxWaitTime: 250,
        minBytes: 1,
      });
      return answer.responses
        .flatMap((topicAnswer) => topicAnswer.partitions)
        .flatMap((partition) => partition.records ?? [])
        .filter((batch) => (batch.attributes & 0x20) === 0)
        .reduce((sum, batch) => sum + batch.records.length, 0);
    } finally {
      await consumer.close(true);
    }
  }

  function restore(topic: string, nonce: string, timeoutMs = 20_000): Promise<StateTracker> {
    return restoreState({
      kafka,
      stateTopic: topic,
      identity: ME,
      barrierNonce: nonce,
      lookbackMs: DAY,
      start: new Date(NOW - DAY),
      timeoutMs,
      logger: silent,
    });
  }

  test("restores what was committed before the barrier; an aborted transaction's records are not read", async (t) => {
    const topic = await stateTopic();
    const writer = await producer(t);
    await transaction(writer, topic, "commit", [
      idsRecord(ME, 0, ["a1", "a2"]),
      checkpointRecord(ME, NOW - HOUR),
    ]);
    await transaction(writer, topic, "abort", [idsRecord(ME, 1, ["x1"]), checkpointRecord(ME, NOW)]);
    await transaction(writer, topic, "commit", [idsRecord(ME, 2, ["a3"])], [barrierRecord(ME, "mine")]);
    // The aborted records are in the log: only read_committed keeps them out.
    const everything = await consumeAll(stack.brokers, topic, {
      expected: 6,
      readUncommitted: true,
      settleMs: 200,
    });
    assert.equal(everything.length, 6);

    const tracker = await restore(topic, "mine");
    assert.deepEqual(holds(tracker, ["a1", "a2", "a3", "x1"]), [true, true, true, false]);
    assert.equal(tracker.ids.size, 3);
    assert.equal(tracker.watermark?.getTime(), NOW - HOUR, "the committed checkpoint, not the aborted one");
    assert.equal(tracker.start.getTime(), START, "the checkpoint's start wins over the given one");
  });

  test("one producer's several aborted transactions (a source's sessions share one producer id): none is read", async (t) => {
    const topic = await stateTopic();
    const writer = await producer(t);
    await transaction(writer, topic, "abort", [idsRecord(ME, 0, ["x1", "x2"])]);
    await transaction(writer, topic, "commit", [
      idsRecord(ME, 1, ["a1"]),
      checkpointRecord(ME, NOW - 2 * HOUR),
    ]);
    await transaction(writer, topic, "abort", [idsRecord(ME, 2, ["x3"]), checkpointRecord(ME, NOW)]);
    await transaction(writer, topic, "commit", [idsRecord(ME, 3, ["a2"])]);
    await transaction(writer, topic, "abort", [idsRecord(ME, 4, ["x4"])]);
    await transaction(writer, topic, "commit", [barrierRecord(ME, "mine")]);

    const tracker = await restore(topic, "mine");
    assert.deepEqual(holds(tracker, ["a1", "a2", "x1", "x2", "x3", "x4"]), [
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
    assert.equal(
      tracker.watermark?.getTime(),
      NOW - 2 * HOUR,
      "the committed checkpoint, not the aborted later one",
    );
  });

  test("a transaction aborted before it wrote to the state topic leaves a bare ABORT marker: nothing committed before it is lost", async (t) => {
    // A replica paused, killed or fenced between adding the state partition to its transaction and
    // writing to it: the next writer's fencing aborts the transaction, and the partition gets an
    // ABORT marker that the broker's list of aborted transactions does not name.
    const topic = await stateTopic();
    const writer = await producer(t);
    await transaction(writer, topic, "abort", [idsRecord(ME, 0, ["x1"])]);
    await transaction(writer, topic, "commit", [idsRecord(ME, 1, ["a1"]), checkpointRecord(ME, NOW - HOUR)]);
    await transaction(writer, topic, "commit", [idsRecord(ME, 2, ["a2"])]);
    const bare = await writer.beginTransaction();
    await addPartitions(writer, bare, [{ topic, messages: [{ topic, partition: 0 }] }]);
    await bare.abort();
    await transaction(writer, topic, "commit", [barrierRecord(ME, "mine")]);
    // Kafka's Java consumer (read_committed) finds the two committed transactions and the barrier.
    const committed = await consumeAll(stack.brokers, topic, { expected: 4, settleMs: 500 });
    assert.deepEqual(
      committed.map((record) => record.key?.toString()),
      [idsKey(ME, BUCKET, 1), checkpointKey(ME), idsKey(ME, BUCKET, 2), barrierKey(ME)],
    );
    t.diagnostic(`the client's own read_committed fetch returns ${await clientReadCommitted(topic)} of them`);

    const tracker = await restore(topic, "mine");
    assert.deepEqual(holds(tracker, ["x1", "a1", "a2"]), [false, true, true]);
    assert.equal(tracker.watermark?.getTime(), NOW - HOUR, "the committed checkpoint");
  });

  test("records after the barrier do not count, those in the barrier's own batch neither", async (t) => {
    const topic = await stateTopic();
    const writer = await producer(t);
    await transaction(writer, topic, "commit", [
      barrierRecord(ME, "an-older-session"),
      idsRecord(ME, 0, ["before"]),
      checkpointRecord(ME, NOW - 2 * HOUR),
    ]);
    await transaction(writer, topic, "commit", [
      barrierRecord(ME, "mine"),
      idsRecord(ME, 1, ["same-batch"]),
      checkpointRecord(ME, NOW - HOUR),
    ]);
    await transaction(writer, topic, "commit", [idsRecord(ME, 2, ["later"]), checkpointRecord(ME, NOW)]);

    // Everything is written before the restore begins: it must stop at the barrier, not at the end.
    const tracker = await restore(topic, "mine");
    assert.deepEqual(holds(tracker, ["before", "same-batch", "later"]), [true, false, false]);
    assert.equal(tracker.watermark?.getTime(), NOW - 2 * HOUR);
    const [next] = tracker.idsRecords(new Map([[BUCKET, ["next"]]]));
    assert.equal(next?.key, idsKey(ME, BUCKET, 1), "sequence numbers continue after the last one read");
  });

  test("another identity's records in the same topic are ignored, its barrier with the same nonce too", async (t) => {
    const topic = await stateTopic();
    const writer = await producer(t);
    await transaction(writer, topic, "commit", [
      idsRecord(OTHER, 0, ["theirs"]),
      checkpointRecord(OTHER, NOW),
      barrierRecord(OTHER, "mine"),
    ]);
    await transaction(writer, topic, "commit", [
      idsRecord(ME, 0, ["ours"]),
      checkpointRecord(ME, NOW - HOUR),
    ]);
    await transaction(writer, topic, "commit", [barrierRecord(ME, "mine")]);

    const tracker = await restore(topic, "mine");
    assert.deepEqual(holds(tracker, ["ours", "theirs"]), [true, false]);
    assert.equal(tracker.watermark?.getTime(), NOW - HOUR);
    assert.equal(tracker.identity, ME);
  });

  test("reads the whole topic up to the barrier over many fetches", async (t) => {
    const topic = await stateTopic();
    const writer = await producer(t);
    const sends = Array.from({ length: 8 }, (_, send) =>
      Array.from({ length: 1_000 }, (_, i) => {
        const seq = send * 1_000 + i;
        return idsRecord(
          ME,
          seq,
          Array.from({ length: 5 }, (_, j) => `call-${seq}-${j}-${"x".repeat(30)}`),
        );
      }),
    );
    await transaction(writer, topic, "commit", ...sends, [barrierRecord(ME, "mine")]);

    const tracker = await restore(topic, "mine");
    assert.equal(tracker.ids.size, 40_000);
    assert.ok(tracker.ids.hasAnywhere(`call-7999-4-${"x".repeat(30)}`));
    assert.equal(tracker.liveKeyCount(), 8_000);
  });

  test("a barrier that never comes: PSTN_STATE_INVALID after timeoutMs, and the restore's consumer is closed", async (t) => {
    const topic = await stateTopic();
    const writer = await producer(t);
    await transaction(writer, topic, "commit", [
      idsRecord(ME, 0, ["a"]),
      barrierRecord(ME, "an-older-session"),
    ]);
    const consumersBefore = kafka.consumers.length;

    const timeoutMs = 2_000;
    const started = performance.now();
    await assert.rejects(restore(topic, "never-written", timeoutMs), (error) => {
      assert.ok(isPstnError(error, ErrorCode.STATE_INVALID), String(error));
      assert.match(error.message, /did not reach this session's barrier within 2000 ms/);
      return true;
    });
    const tookMs = performance.now() - started;
    t.diagnostic(`restore gave up after ${Math.round(tookMs)} ms`);
    assert.ok(tookMs >= timeoutMs && tookMs < timeoutMs + 5_000, `took ${tookMs} ms`);

    const made = kafka.consumers.slice(consumersBefore);
    assert.equal(made.length, 1);
    assert.equal(made[0]?.closed, true);
    assert.equal(made[0]?.isConnected(), false, "no connection left open");
  });

  test("an unreadable record of this identity fails the restore at once, with the decoder's reason", async (t) => {
    const topic = await stateTopic();
    const writer = await producer(t);
    await transaction(writer, topic, "commit", [
      { key: idsKey(ME, BUCKET, 0), value: "not json" },
      barrierRecord(ME, "mine"),
    ]);
    const timeoutMs = 4_000;
    const started = performance.now();
    await assert.rejects(restore(topic, "mine", timeoutMs), (error) => {
      assert.ok(isPstnError(error, ErrorCode.STATE_INVALID), String(error));
      assert.match(error.message, /ids record is not JSON/);
      return true;
    });
    assert.ok(performance.now() - started < timeoutMs, "failed before the barrier's timeout");
  });

  test("KafkaSession: a second session with the same transactional id fences the first and restores what it committed", async (t) => {
    const data = uniqueName("test-session-data");
    const names: SourceTopics = {
      outputs: [data],
      dlq: uniqueName("test-session-dlq"),
      state: uniqueName("test-session-state"),
    };
    topics.push(data, names.dlq, names.state);
    const admin = kafka.admin();
    t.after(() => admin.close());
    assert.equal((await ensureTopics(admin, names, { dataPartitions: 3 })).length, 3);
    const spec: SessionSpec = {
      identity: `${ME}/${uniqueName("session")}`,
      transactionalId: uniqueName("test-session-txn"),
      topics: names,
      lookbackMs: DAY,
      start: new Date(START),
    };
    // Each session on a client of its own, as two replicas of the connector are.
    const open = (clientId: string) =>
      KafkaSession.open(spec, {
        kafka: testKafka(stack.brokers, uniqueName(clientId)),
        compression: "gzip",
        restoreTimeoutMs: 20_000,
        transactionTimeoutMs: 30_000,
        logger: silent,
      });

    const first = await open("first");
    t.after(() => first.close());
    assert.equal(first.state.ids.size, 0, "a first run restores nothing");
    assert.equal(first.state.watermark, undefined);

    /** A batch as the committer builds it: the rows, a dead letter, and the state that records them. */
    const batch = (tracker: StateTracker, ids: string[], watermark: number): CommitBatch => {
      for (const id of ids) tracker.ids.add(id, BUCKET);
      return {
        outputs: [ids.map((id) => ({ key: id, value: `row ${id}` }))],
        dlq: [{ key: `dead-${ids[0]}`, value: "unencodable", headers: { reason: "test" } }],
        state: [
          ...tracker.idsRecords(new Map([[BUCKET, ids]])),
          ...tracker.advance(new Date(watermark), new Date(watermark - DAY)),
          ...tracker.takeTombstones(),
        ],
      };
    };
    const range = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => `call-${from + i}`);
    const committedByFirst = [...range(0, 40), ...range(40, 40)];
    await first.commit(batch(first.state, range(0, 40), NOW - 2 * HOUR));
    await first.commit(batch(first.state, range(40, 40), NOW - HOUR));

    const second = await open("second");
    t.after(() => second.close());
    const fencedIds = range(80, 10);
    await assert.rejects(first.commit(batch(first.state, fencedIds, NOW)), (error) => {
      assert.ok(isPstnError(error, ErrorCode.KAFKA_FENCED), String(error));
      assert.equal(error.final, true);
      return true;
    });

    assert.equal(second.state.ids.size, committedByFirst.length);
    assert.ok(holds(second.state, committedByFirst).every(Boolean), "every id the first session committed");
    assert.ok(!holds(second.state, fencedIds).some(Boolean), "none of the fenced commit's ids");
    assert.equal(second.state.watermark?.getTime(), NOW - HOUR);
    assert.equal(second.state.start.getTime(), START);

    const secondIds = range(100, 20);
    await second.commit(batch(second.state, secondIds, NOW));
    const expected = [...committedByFirst, ...secondIds].sort();
    const rows = await consumeAll(stack.brokers, data, { expected: expected.length, settleMs: 1_500 });
    assert.deepEqual(
      rows.map((m) => m.key?.toString()).sort(),
      expected,
      "each committed row once, nothing else",
    );
    const deadLetters = await consumeAll(stack.brokers, names.dlq, { expected: 3, settleMs: 500 });
    assert.deepEqual(deadLetters.map((m) => m.key?.toString()).sort(), [
      "dead-call-0",
      "dead-call-100",
      "dead-call-40",
    ]);
  });
});
