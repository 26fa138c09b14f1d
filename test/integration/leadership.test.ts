import assert from "node:assert/strict";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin } from "@platformatic/kafka";
import type { Kafka } from "../../src/kafka/index.js";
import { Leadership } from "../../src/kafka/leadership.js";
import { createLogger } from "../../src/log.js";
import { Metrics } from "../../src/metrics/index.js";
import { createTopic, deleteTopics, testKafka, uniqueName } from "../support/kafka.js";
import { startTestStack, type TestStack } from "../support/stack.js";

// The broker's default group.min.session.timeout.ms (the container stack keeps it; the local one allows less).
const SESSION_TIMEOUT_MS = 6_000;
/** Time for a member's join to reach the broker and the group to settle. */
const SETTLE_MS = SESSION_TIMEOUT_MS + 5_000;

interface Member {
  name: string;
  leadership: Leadership;
  metrics: Metrics;
}

describe("Leadership: one active member per group, on the real broker", () => {
  let stack: TestStack;
  let admin: Admin;
  const topics: string[] = [];
  const groups: string[] = [];

  before(async () => {
    stack = await startTestStack();
    admin = client("leadership-admin").admin();
  });
  after(async () => {
    if (admin) {
      await deleteTopics(client("leadership-cleanup"), topics);
      if (groups.length > 0) await admin.deleteGroups({ groups }).catch(() => undefined);
      await admin.close();
    }
    await stack?.stop();
  });

  /** Each member gets a client of its own, as separate replicas have. */
  function client(clientId: string): Kafka {
    return testKafka(stack.brokers, clientId);
  }

  /** A fresh one-partition topic and group, as a source's state topic and election group. */
  async function election(): Promise<{ topic: string; groupId: string }> {
    const topic = uniqueName("test-leadership");
    const groupId = uniqueName("test-leadership-group");
    await createTopic(client("leadership-topics"), topic);
    topics.push(topic);
    groups.push(groupId);
    return { topic, groupId };
  }

  /**
   * Joins as `name`, which also prefixes the member id the broker gives (clientId-uuid): the
   * assigner's fallback order is the member ids' order, so tests choose it through the names.
   */
  async function join(
    t: TestContext,
    name: string,
    { topic, groupId }: { topic: string; groupId: string },
  ): Promise<Member> {
    const metrics = new Metrics({ defaultMetrics: false });
    const leadership = await Leadership.join({
      kafka: client(uniqueName(name)),
      groupId,
      topic,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      logger: createLogger("silent"),
      metrics: metrics.forStream("pstn"),
    });
    t.after(() => leadership.leave());
    return { name, leadership, metrics };
  }

  async function activeGauge(member: Member): Promise<number | undefined> {
    return (await member.metrics.active.get()).values[0]?.value;
  }

  /** Waits until the broker reports the group stable with exactly these members, by client id prefix. */
  async function groupSettled(groupId: string, members: readonly Member[]): Promise<Map<string, string>> {
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      const group = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
      const byName = new Map<string, string>();
      for (const member of group?.members.values() ?? []) {
        const owner = members.find((m) => member.clientId.startsWith(`${m.name}-`));
        if (owner) byName.set(owner.name, member.id);
      }
      if (
        String(group?.state).toUpperCase() === "STABLE" &&
        group?.members.size === members.length &&
        byName.size === members.length
      ) {
        return byName;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `group ${groupId}: ${group?.state} with ${group?.members.size} members, not ${members.length}`,
        );
      }
      await sleep(100);
    }
  }

  async function until(what: string, condition: () => boolean, timeoutMs = SETTLE_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await sleep(25);
    }
  }

  /** Samples the members' roles for `ms`; every sample must name exactly one active member, the same. */
  async function soleActiveThroughout(members: readonly Member[], ms: number): Promise<Member> {
    const seen = new Set<string>();
    const deadline = Date.now() + ms;
    let samples = 0;
    while (Date.now() < deadline) {
      const active = members.filter((m) => m.leadership.isActive);
      assert.equal(
        active.length,
        1,
        `active at sample ${samples}: [${active.map((m) => m.name).join(", ")}]`,
      );
      seen.add(active[0]!.name);
      samples++;
      await sleep(20);
    }
    assert.equal(seen.size, 1, `the role moved between ${[...seen].join(", ")}`);
    assert.ok(samples > 10);
    return members.find((m) => m.leadership.isActive)!;
  }

  /** A fresh election with one member elected and a second one standing by, the group settled. */
  async function activeAndStandby(t: TestContext): Promise<{ active: Member; standby: Member }> {
    const spec = await election();
    const active = await join(t, "a-active", spec);
    await active.leadership.waitUntilActive(AbortSignal.timeout(SETTLE_MS));
    const standby = await join(t, "b-standby", spec);
    await groupSettled(spec.groupId, [active, standby]);
    return { active, standby };
  }

  test("alone: the member becomes active, waitUntilActive resolves and the active gauge reads 1", async (t) => {
    const spec = await election();
    const only = await join(t, "only", spec);
    await only.leadership.waitUntilActive(AbortSignal.timeout(SETTLE_MS));
    assert.equal(only.leadership.isActive, true);
    assert.equal(only.leadership.lostSignal.aborted, false);
    assert.equal(await activeGauge(only), 1);

    await only.leadership.leave();
    assert.equal(only.leadership.isActive, false);
    assert.equal(only.leadership.lostSignal.aborted, true);
    assert.equal(await activeGauge(only), 0);
  });

  test("two members joining together: exactly one is active at every moment, and it stays the same", async (t) => {
    const spec = await election();
    const members = await Promise.all([join(t, "left", spec), join(t, "right", spec)]);
    await groupSettled(spec.groupId, members);
    await until("one member active", () => members.some((m) => m.leadership.isActive));
    const active = await soleActiveThroughout(members, 2_000);
    const standby = members.find((m) => m !== active)!;
    assert.deepEqual([await activeGauge(active), await activeGauge(standby)], [1, 0]);
    assert.equal(active.leadership.lostSignal.aborted, false);
  });

  test("sticky: a member joining later does not take the role, even when its member id sorts first", async (t) => {
    const spec = await election();
    const first = await join(t, "z-first", spec);
    await first.leadership.waitUntilActive(AbortSignal.timeout(SETTLE_MS));
    const second = await join(t, "m-second", spec);
    await groupSettled(spec.groupId, [first, second]);
    const third = await join(t, "a-third", spec);
    const memberIds = await groupSettled(spec.groupId, [first, second, third]);
    // Without stickiness the assigner hands the partition to the lowest member id: the newcomer's.
    assert.ok(memberIds.get("a-third")! < memberIds.get("z-first")!, JSON.stringify([...memberIds]));

    assert.equal(await soleActiveThroughout([first, second, third], 2_000), first);
    assert.equal(first.leadership.lostSignal.aborted, false, "the active member never lost the role");
    assert.deepEqual(await Promise.all([first, second, third].map(activeGauge)), [1, 0, 0]);
  });

  test("the active member leaves: its lostSignal aborts and one standby takes over within the session timeout", async (t) => {
    const spec = await election();
    const leaving = await join(t, "a-leaving", spec);
    await leaving.leadership.waitUntilActive(AbortSignal.timeout(SETTLE_MS));
    const standbys = [await join(t, "b-standby", spec), await join(t, "c-standby", spec)];
    await groupSettled(spec.groupId, [leaving, ...standbys]);
    assert.equal(await soleActiveThroughout([leaving, ...standbys], 500), leaving);
    const lost = leaving.leadership.lostSignal;

    const started = performance.now();
    const limitMs = SESSION_TIMEOUT_MS + 3_000;
    const takeover = AbortSignal.timeout(limitMs);
    const elected = Promise.any(standbys.map((m) => m.leadership.waitUntilActive(takeover).then(() => m)));
    await leaving.leadership.leave();
    const successor = await elected;
    const tookMs = performance.now() - started;
    t.diagnostic(
      `takeover after leave(): ${Math.round(tookMs)} ms (session timeout ${SESSION_TIMEOUT_MS} ms)`,
    );

    assert.equal(lost.aborted, true);
    assert.equal(leaving.leadership.isActive, false);
    assert.ok(tookMs < limitMs, `took ${tookMs} ms`);
    await groupSettled(spec.groupId, standbys);
    assert.equal(await soleActiveThroughout(standbys, 1_500), successor);
    assert.deepEqual(await Promise.all([leaving, ...standbys].map(activeGauge)), [
      0,
      ...standbys.map((m) => (m === successor ? 1 : 0)),
    ]);
    assert.equal(successor.leadership.lostSignal.aborted, false, "the successor's signal is a fresh one");
  });

  test("waitUntilActive rejects with the signal's reason when it aborts before this member is elected", async (t) => {
    const { active, standby } = await activeAndStandby(t);

    const controller = new AbortController();
    const reason = new Error("shutting down");
    const waiting = standby.leadership.waitUntilActive(controller.signal);
    setTimeout(() => controller.abort(reason), 300);
    await assert.rejects(waiting, (error) => error === reason);
    assert.equal(standby.leadership.isActive, false);
    assert.equal(active.leadership.isActive, true);
  });

  test("waitUntilActive rejects at once when the signal is already aborted", async (t) => {
    const { standby } = await activeAndStandby(t);

    const reason = new Error("already shut down");
    const outcome = await Promise.race([
      standby.leadership.waitUntilActive(AbortSignal.abort(reason)).then(
        () => "resolved",
        (error) => (error === reason ? "rejected" : `rejected with ${error}`),
      ),
      sleep(2_000).then(() => "still pending after 2 s"),
    ]);
    assert.equal(outcome, "rejected");
  });

  test("two waitUntilActive calls on one member both resolve when it is elected", async (t) => {
    const { active: leaving, standby } = await activeAndStandby(t);

    const giveUp = new AbortController();
    t.after(() => giveUp.abort());
    const outcomes = ["pending", "pending"];
    [0, 1].forEach((i) => {
      standby.leadership.waitUntilActive(giveUp.signal).then(
        () => {
          outcomes[i] = "resolved";
        },
        () => {
          outcomes[i] = "rejected";
        },
      );
    });
    await leaving.leadership.leave();
    await until("the standby active", () => standby.leadership.isActive, SESSION_TIMEOUT_MS + 3_000);
    await sleep(200);
    assert.deepEqual([...outcomes], ["resolved", "resolved"]);
  });
});
