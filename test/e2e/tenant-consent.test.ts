/**
 * Issue 16, isolation: one tenant's consent revoked mid-run. Three tenants from the tenants file in
 * one `run`, two streams each, days of history then live rows. Once every tenant has published its
 * history (read back from Kafka), tenant B's admin revokes the app's consent: Graph answers B 403,
 * and the connector stops B's units alone. B shows stopped in the metrics, /status and /readyz,
 * the process stays ready, and A and C go on publishing on schedule: each of their rows that
 * becomes visible after the revocation is read from Kafka (Kafka's Java consumer, read_committed,
 * reading while the connector runs) within POLL_INTERVAL and a few seconds, and their watermarks
 * keep up with the clock. In the end every row of A and C is in Kafka once, B's up to the
 * revocation once and none after.
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { ErrorCode } from "../../src/errors.js";
import { type StreamTruth, startGraphSimulator } from "../../tools/simulator/index.js";
import { runFleet, waitFor } from "../support/connector.js";
import { javaRuntime, readTopicWithJava, TOPIC_READER_SOURCE } from "../support/java-reader.js";
import { uniqueName } from "../support/kafka.js";
import { sampleOf } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
const POLL_MS = 1000;
/** "On schedule": a row visible at t is in Kafka by t + POLL_INTERVAL + this. */
const SLACK_MS = 4000;
/** How late the healthy tenants' rows become visible after their start (LOOKBACK 1m covers it). */
const MAX_DELAY_MS = 2000;
const B = "fabrikam.example.com";
const C = "northwind.example.com";
const STREAMS = ["pstn", "directRouting"] as const;
type Stream = (typeof STREAMS)[number];

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

/**
 * Kafka's Java consumer (test/support/java/TopicReader.java, read_committed) reading `topic` from
 * its beginning while the connector writes: the instant each id was first read, in this process.
 */
class LiveReader {
  /** id → when this process first got it from the reader, and the tenant its header names. */
  readonly read = new Map<string, { at: number; tenant: string | undefined }>();
  private rest = "";
  private stderr = "";
  private constructor(
    readonly topic: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => this.take(chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
    });
  }

  static async start(t: TestContext, brokers: readonly string[], topic: string): Promise<LiveReader> {
    const { java, classpath } = await javaRuntime();
    // Waits for more records than there will ever be, for longer than the test: it is killed.
    const child = spawn(java, [
      "-cp",
      classpath,
      TOPIC_READER_SOURCE,
      brokers.join(","),
      topic,
      String(Number.MAX_SAFE_INTEGER),
      "300000",
      "0",
      "read_committed",
    ]);
    const reader = new LiveReader(topic, child);
    t.after(() => reader.stop());
    return reader;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get log(): string {
    return this.stderr.slice(-1500);
  }

  stop(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }

  private take(chunk: string): void {
    const at = Date.now();
    const lines = (this.rest + chunk).split("\n");
    this.rest = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      const record = JSON.parse(line) as {
        done?: boolean;
        key?: string | null;
        headers?: [string, string | null][];
      };
      if (record.done || !record.key) continue;
      const id = Buffer.from(record.key, "base64").toString("utf8");
      const header = record.headers?.find(
        ([name]) => Buffer.from(name, "base64").toString() === "pstn.tenant",
      );
      const tenant = header?.[1] ? Buffer.from(header[1], "base64").toString("utf8") : undefined;
      if (!this.read.has(id)) this.read.set(id, { at, tenant });
    }
  }
}

interface Unit {
  tenant: string;
  name: string;
  stream: string;
  state: string;
  lastFailure: string | null;
  watermark: string | null;
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

test("one tenant's consent revoked mid-run: it stops alone, shown in metrics, /status and /readyz; the others publish on schedule; every row once", async (t) => {
  const t0 = Date.now();
  // Live rows (2 PSTN calls a second a tenant, half a Direct Routing call) until liveEnd.
  const liveEnd = t0 + 33_000;
  const sim = await startGraphSimulator({
    seed: 61,
    clientSecret: "simulator-secret",
    dataStart: new Date(t0 - 3 * DAY),
    dataEnd: new Date(liveEnd),
    callsPerHour: 20,
    live: { since: new Date(t0), callsPerHour: 7200 },
    visibilityDelayMs: { min: 0, max: MAX_DELAY_MS },
    // B's rows are visible as they start: every row of B that started by B's last watermark was
    // visible when B read it, so what B must have published is known exactly.
    tenants: [{ tenantId: B, visibilityDelayMs: { min: 0, max: 0 } }, { tenantId: C }],
  });
  t.after(() => sim.close());
  const A = sim.tenantId;
  const TENANTS = [A, B, C];
  const HEALTHY = [A, C];
  const truth = (tenant: string, stream: Stream, from?: Date, to?: Date): string[] =>
    (sim.tenant(tenant).streams[stream] as StreamTruth<{ id: string }>)
      .visibleRows(from, to, "v1.0")
      .map((row) => String(row.id));

  const dir = mkdtempSync(join(tmpdir(), "pstn-tenant-consent-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tenants.yaml");
  writeFileSync(
    file,
    `tenants:\n  - id: ${A}\n    name: Main\n  - id: ${B}\n    name: Fabrikam\n  - id: ${C}\n    name: Northwind\n`,
  );
  const { child, env, port } = await runFleet(t, sim, stack, file, {
    POLL_INTERVAL: `${POLL_MS}ms`,
    CONNECTOR_START: new Date(t0 - 3 * DAY).toISOString(),
    CONNECTOR_STREAMS: STREAMS.join(","),
    KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("direct-routing-calls"),
  });
  const topics: Record<Stream, string> = {
    pstn: env.KAFKA_TOPIC as string,
    directRouting: env.KAFKA_TOPIC_DIRECT_ROUTING as string,
  };
  const get = async (path: string): Promise<{ status: number; text: string }> => {
    const response = await request(`http://127.0.0.1:${port}${path}`, {
      headersTimeout: 2000,
      bodyTimeout: 2000,
    }).catch(() => undefined);
    return { status: response?.statusCode ?? 0, text: (await response?.body.text()) ?? "" };
  };
  const watermarkOf = (text: string, tenant: string, stream: Stream) =>
    (sampleOf(text, `pstn_connector_watermark_timestamp_seconds{tenant="${tenant}",stream="${stream}"}`) ??
      0) * 1000;
  const running = () => {
    if (child.child.exitCode !== null) throw new Error(`the connector exited: ${child.stderr.slice(-1500)}`);
  };

  // 1. Every tenant's history published, and the live polls begun. The readers start as soon as
  // their topic holds records (the connector created it), while the history is still being read.
  const starting = new Map<Stream, Promise<LiveReader>>();
  await waitFor(
    "every tenant's streams past their history and polling live",
    async () => {
      running();
      const text = (await get("/metrics")).text;
      for (const stream of STREAMS) {
        if (
          !starting.has(stream) &&
          (sampleOf(text, `pstn_connector_rows_published_total{stream="${stream}"}`) ?? 0) > 0
        )
          starting.set(
            stream,
            LiveReader.start(t, stack.brokers, topics[stream]).then((reader) => {
              t.diagnostic(`the ${stream} reader started ${Date.now() - t0} ms after the start`);
              return reader;
            }),
          );
      }
      return TENANTS.every((tenant) =>
        STREAMS.every((stream) => watermarkOf(text, tenant, stream) > Math.max(t0, Date.now() - 3000)),
      );
    },
    40_000,
  );
  t.diagnostic(`every tenant caught up ${Date.now() - t0} ms after the start`);
  const live = Object.fromEntries(
    await Promise.all(STREAMS.map(async (stream) => [stream, await starting.get(stream)] as const)),
  ) as Record<Stream, LiveReader>;
  assert.ok(
    STREAMS.every((stream) => live[stream]),
    "a reader for each stream's topic",
  );
  const history = new Date(t0 - 1);
  await waitFor(
    "the independent reader to read every tenant's history from Kafka",
    () => {
      running();
      for (const reader of Object.values(live)) {
        if (reader.exited) throw new Error(`the Java reader exited: ${reader.log}`);
      }
      return STREAMS.every((stream) =>
        TENANTS.every((tenant) =>
          truth(tenant, stream, undefined, history).every((id) => live[stream].read.has(id)),
        ),
      );
    },
    30_000,
  );

  // 2. B's consent revoked. What was visible then is taken in the same turn: no request is served between.
  const visibleAtRevocation = new Map<string, Set<string>>();
  for (const tenant of TENANTS) {
    for (const stream of STREAMS)
      visibleAtRevocation.set(`${tenant}/${stream}`, new Set(truth(tenant, stream)));
  }
  const revokedAt = Date.now();
  sim.tenant(B).revokeConsent();
  t.diagnostic(`B's consent revoked ${revokedAt - t0} ms after the start`);
  assert.ok(revokedAt < liveEnd - 10_000, "at least 10 s of live rows come after the revocation");

  // When each healthy row became visible: the last look at the truth that did not show it yet (a
  // bound at most 100 ms before it did), so that the delays measured are never too short.
  const becameVisible = new Map<string, number>();
  let sampling = true;
  const visibility = (async () => {
    let lastLook = revokedAt;
    while (sampling) {
      await sleep(100);
      const look = Date.now();
      for (const tenant of HEALTHY) {
        for (const stream of STREAMS) {
          const before = visibleAtRevocation.get(`${tenant}/${stream}`) as Set<string>;
          for (const id of truth(tenant, stream, new Date(revokedAt - 10_000))) {
            if (!before.has(id) && !becameVisible.has(id)) becameVisible.set(id, lastLook);
          }
        }
      }
      lastLook = look;
    }
  })();
  // The healthy units' watermarks against the clock, and B's, every 250 ms.
  let worstLag = 0;
  let lagSamples = 0;
  const bWatermarks = new Map<Stream, Set<number>>(STREAMS.map((stream) => [stream, new Set<number>()]));
  let bStoppedSeenAt: number | undefined;
  const watch = (async () => {
    while (sampling) {
      const { text } = await get("/metrics");
      const at = Date.now();
      if (text !== "") {
        lagSamples++;
        for (const tenant of HEALTHY) {
          for (const stream of STREAMS) worstLag = Math.max(worstLag, at - watermarkOf(text, tenant, stream));
        }
        const stopped = STREAMS.every(
          (stream) => sampleOf(text, `pstn_connector_unit_stopped{tenant="${B}",stream="${stream}"}`) === 1,
        );
        if (stopped) {
          bStoppedSeenAt ??= at;
          for (const stream of STREAMS) bWatermarks.get(stream)?.add(watermarkOf(text, B, stream));
        }
      }
      await sleep(250);
    }
  })();
  const done = async () => {
    sampling = false;
    await Promise.all([visibility, watch]);
  };
  t.after(done);

  // 3. B stops alone: metrics, /status, /readyz; the process stays up and ready.
  await waitFor(
    "B's units stopped",
    () => {
      running();
      return bStoppedSeenAt !== undefined;
    },
    15_000,
  );
  t.diagnostic(`B seen stopped in the metrics ${(bStoppedSeenAt ?? 0) - revokedAt} ms after the revocation`);
  const forbiddenAtStop = sim.tenant(B).stats().byStatus["403"] ?? 0;
  const metrics = (await get("/metrics")).text;
  const stoppedSeries = metrics
    .split("\n")
    .filter((line) => line.startsWith("pstn_connector_unit_stopped{"))
    .map((line) => {
      const labels = Object.fromEntries(
        [...line.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]] as const),
      );
      return [labels.tenant, labels.stream, labels.code, Number(line.split(" ").at(-1))];
    });
  assert.deepEqual(
    stoppedSeries,
    STREAMS.map((stream) => [B, stream, ErrorCode.GRAPH_FORBIDDEN, 1]),
    "pstn_connector_unit_stopped names B's units, and them only, with the 403's code",
  );
  assert.equal(sampleOf(metrics, 'pstn_connector_units{state="stopped"}'), STREAMS.length, "B's units");
  assert.equal(sampleOf(metrics, 'pstn_connector_units{state="active"}'), HEALTHY.length * STREAMS.length);
  assert.ok(
    (sampleOf(
      metrics,
      `pstn_connector_session_failures_total{tenant="${B}",code="${ErrorCode.GRAPH_FORBIDDEN}"}`,
    ) ?? 0) >= 1,
    "B's failed session counted by its code",
  );
  // A tenant's counters by code start at their first event: a tenant never refused has none, or 0.
  for (const tenant of HEALTHY) {
    assert.equal(
      sampleOf(
        metrics,
        `pstn_connector_session_failures_total{tenant="${tenant}",code="${ErrorCode.GRAPH_FORBIDDEN}"}`,
      ) ?? 0,
      0,
      `${tenant} never refused`,
    );
  }

  const status = await get("/status");
  assert.equal(status.status, 200);
  const units = (JSON.parse(status.text) as { units: Unit[] }).units;
  assert.deepEqual(
    units.map((unit) => [unit.tenant, unit.name, unit.stream, unit.state, unit.lastFailure]),
    TENANTS.flatMap((tenant, i) =>
      STREAMS.map((stream) => [
        tenant,
        ["Main", "Fabrikam", "Northwind"][i],
        stream,
        tenant === B ? "stopped" : "active",
        tenant === B ? ErrorCode.GRAPH_FORBIDDEN : null,
      ]),
    ),
    "/status: B's units stopped with the 403's code, the others active without a failure",
  );
  const ready = await get("/readyz");
  assert.equal(ready.status, 200, `the process stays ready: ${ready.text}`);
  const readiness = JSON.parse(ready.text) as {
    status: string;
    dependencies: { streams: Record<string, { stopped?: string; graph: boolean | null }> };
  };
  assert.equal(readiness.status, "ready");
  const { streams: _, ...overall } = readiness.dependencies;
  t.diagnostic(
    `/readyz ${ready.status}: ${JSON.stringify(overall)}; ${B}/pstn ${JSON.stringify(readiness.dependencies.streams[`${B}/pstn`])}`,
  );
  for (const tenant of TENANTS) {
    for (const stream of STREAMS) {
      const detail = readiness.dependencies.streams[`${tenant}/${stream}`];
      assert.equal(
        detail?.stopped,
        tenant === B ? ErrorCode.GRAPH_FORBIDDEN : undefined,
        `${tenant}/${stream}`,
      );
      if (tenant !== B) assert.equal(detail?.graph, true, `${tenant}/${stream} reads Graph`);
    }
  }

  // 4. The healthy tenants go on: every row of theirs visible, polled and read back from Kafka.
  const settled = liveEnd + MAX_DELAY_MS + 500;
  await waitFor(
    "the healthy tenants' watermarks past their last row, and every row of theirs read from Kafka",
    async () => {
      running();
      if (Date.now() < settled) return false;
      const text = (await get("/metrics")).text;
      if (!HEALTHY.every((tenant) => STREAMS.every((stream) => watermarkOf(text, tenant, stream) > settled)))
        return false;
      return STREAMS.every((stream) =>
        HEALTHY.every((tenant) => truth(tenant, stream).every((id) => live[stream].read.has(id))),
      );
    },
    Math.max(0, settled - Date.now()) + 15_000,
  );
  await done();
  for (const reader of Object.values(live)) reader.stop();

  const delays: number[] = [];
  const byTenant = new Map<string, number[]>(HEALTHY.map((tenant) => [tenant, []]));
  for (const stream of STREAMS) {
    for (const tenant of HEALTHY) {
      for (const id of truth(tenant, stream)) {
        const visibleAt = becameVisible.get(id);
        if (visibleAt === undefined) continue; // visible before the revocation
        const read = live[stream].read.get(id);
        assert.ok(read, `${tenant}/${stream} row ${id} was read`);
        assert.equal(read.tenant, tenant, `row ${id} names its tenant`);
        delays.push(read.at - visibleAt);
        byTenant.get(tenant)?.push(read.at - visibleAt);
      }
    }
  }
  delays.sort((a, b) => a - b);
  const worst = delays.at(-1) ?? Number.NaN;
  t.diagnostic(
    `healthy tenants after the revocation: ${delays.length} rows became visible; visible → read from Kafka (read_committed): median ${quantile(delays, 0.5)} ms, p95 ${quantile(delays, 0.95)} ms, worst ${worst} ms (bound ${POLL_MS + SLACK_MS} ms); ${HEALTHY.map((tenant) => `${tenant}: ${byTenant.get(tenant)?.length} rows, worst ${Math.max(...(byTenant.get(tenant) ?? []))} ms`).join("; ")}`,
  );
  t.diagnostic(
    `healthy watermarks: worst lag behind the clock ${worstLag} ms over ${lagSamples} scrapes after the revocation`,
  );
  for (const tenant of HEALTHY) {
    assert.ok((byTenant.get(tenant)?.length ?? 0) >= 10, `${tenant}: enough live rows after the revocation`);
  }
  assert.ok(
    worst <= POLL_MS + SLACK_MS,
    `the worst healthy row reached Kafka ${worst} ms after it became visible`,
  );
  assert.ok(
    lagSamples >= 20 && worstLag <= POLL_MS + SLACK_MS,
    `the healthy watermarks kept up: worst lag ${worstLag} ms`,
  );

  // B stays stopped: no request of B's after the stop, its watermark frozen; the process still runs.
  const bStats = sim.tenant(B).stats();
  t.diagnostic(`B's Graph answers: ${JSON.stringify(bStats.byStatus)}`);
  assert.ok(forbiddenAtStop >= 1, "B was answered 403");
  assert.equal(bStats.byStatus["403"] ?? 0, forbiddenAtStop, "the 403 is final: B is not asked again");
  for (const stream of STREAMS) {
    assert.equal(bWatermarks.get(stream)?.size, 1, `B's ${stream} watermark stands still once stopped`);
  }
  const endUnits = JSON.parse((await get("/status")).text) as { units: Unit[] };
  const bWatermark = (stream: Stream) =>
    Date.parse(endUnits.units.find((unit) => unit.tenant === B && unit.stream === stream)?.watermark ?? "");
  for (const stream of STREAMS) {
    assert.ok(
      bWatermark(stream) <= revokedAt && bWatermark(stream) > revokedAt - (POLL_MS + SLACK_MS),
      `B's ${stream} had kept up until the revocation: watermark ${revokedAt - bWatermark(stream)} ms before it`,
    );
  }
  for (const tenant of HEALTHY) {
    for (const stream of STREAMS) {
      const unit = endUnits.units.find((u) => u.tenant === tenant && u.stream === stream);
      assert.ok(Date.parse(unit?.watermark ?? "") > settled, `${tenant}/${stream} watermark moved on`);
    }
  }
  assert.equal(child.child.exitCode, null, "the process is still running");
  const stoppedLog = child.stderr.split("\n").filter((line) => line.includes("tenant stopped"));
  t.diagnostic(`the log: ${stoppedLog.map((line) => line.slice(0, 600)).join("\n")}`);
  assert.equal(stoppedLog.length, 1, "one tenant stopped, once");
  assert.ok(stoppedLog[0]?.includes(B), "the log names the tenant stopped");
  assert.ok(!child.stderr.includes("simulator-secret"), "no secret in the log");
  child.kill("SIGTERM");
  const exit = await child.done;
  assert.equal(exit.code, 0, exit.stderr.slice(-1000));

  // 5. Each topic read again by a fresh consumer: A's and C's rows once each, B's once up to the revocation.
  const tenantOf = new Map<string, string>();
  for (const tenant of TENANTS) {
    for (const stream of STREAMS) for (const id of truth(tenant, stream)) tenantOf.set(id, tenant);
  }
  await Promise.all(
    STREAMS.map(async (stream) => {
      const required = new Map<string, string[]>([
        [A, truth(A, stream)],
        [C, truth(C, stream)],
        // Every row of B started by B's last watermark was visible (no delay) when B read its window.
        [B, truth(B, stream, undefined, new Date(bWatermark(stream)))],
      ]);
      const bBefore = visibleAtRevocation.get(`${B}/${stream}`) as Set<string>;
      const bAfter = truth(B, stream).filter((id) => !bBefore.has(id));
      assert.ok(bAfter.length >= 3, `${stream}: B has ${bAfter.length} rows after the revocation`);
      const expected = [...required.values()].reduce((sum, ids) => sum + ids.length, 0);
      const { records } = await readTopicWithJava(stack.brokers, topics[stream], {
        expected,
        timeoutMs: 30_000,
        settleMs: 2000,
      });
      // A record the consumer delivered twice (same partition and offset) is one record.
      const unique = new Map(records.map((record) => [`${record.partition}@${record.offset}`, record]));
      const keys = [...unique.values()].map((record) => ({
        id: record.key?.toString("utf8") ?? "",
        header: record.headers.find(([name]) => name === "pstn.tenant")?.[1]?.toString("utf8"),
      }));
      const ids = new Set(keys.map((key) => key.id));
      const bRead = keys.filter((key) => tenantOf.get(key.id) === B);
      const summary = {
        duplicates: keys.length - ids.size,
        missingA: (required.get(A) ?? []).filter((id) => !ids.has(id)).length,
        missingC: (required.get(C) ?? []).filter((id) => !ids.has(id)).length,
        missingBBeforeItsWatermark: (required.get(B) ?? []).filter((id) => !ids.has(id)).length,
        bAfterRevocation: bRead.filter((key) => !bBefore.has(key.id)).length,
        unknown: keys.filter((key) => !tenantOf.has(key.id)).length,
        wrongTenantHeader: keys.filter((key) => tenantOf.has(key.id) && key.header !== tenantOf.get(key.id))
          .length,
      };
      t.diagnostic(
        `${stream}: ${keys.length} records; A ${required.get(A)?.length}, C ${required.get(C)?.length}, B ${bRead.length} (${required.get(B)?.length} by its watermark, ${bBefore.size} visible at the revocation, ${bAfter.length} after it); ${JSON.stringify(summary)}`,
      );
      assert.deepEqual(summary, {
        duplicates: 0,
        missingA: 0,
        missingC: 0,
        missingBBeforeItsWatermark: 0,
        bAfterRevocation: 0,
        unknown: 0,
        wrongTenantHeader: 0,
      });
      assert.ok((required.get(B)?.length ?? 0) > 300, `${stream}: B's history is among them`);
    }),
  );
});
