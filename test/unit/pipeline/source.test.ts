/**
 * The engine end to end in one process: a Graph over HTTP serving a fixed set of rows, the real
 * GraphClient, decoder and codec, and the in-memory Sink (memory-sink.ts) in place of Kafka.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { Agent } from "undici";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import { GraphClient } from "../../../src/graph/client.js";
import { RequestPacer } from "../../../src/graph/pacer.js";
import { createLogger } from "../../../src/log.js";
import { Metrics } from "../../../src/metrics/index.js";
import { Source, type SourceOptions, transactionalIdOf } from "../../../src/pipeline/source.js";
import { decodeCheckpoint } from "../../../src/state/records.js";
import { STREAMS } from "../../../src/streams/index.js";
import { SEED_ROW } from "../avro/seed-row.js";
import { MemorySink } from "./memory-sink.js";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-06-10T12:00:00Z");
const START = new Date(NOW - 72 * HOUR);
const PAGE_ROWS = 7;
/** Rows per page the fake Graph serves; a test may page as Graph does (1,000). */
let pageRows = PAGE_ROWS;

/** One row every 20 minutes over the three days, one malformed, one repeated under its id. */
const ROWS: Record<string, unknown>[] = Array.from({ length: 216 }, (_, i) => ({
  ...SEED_ROW,
  id: `row-${String(i).padStart(4, "0")}`,
  startDateTime: new Date(START.getTime() + i * 20 * 60_000 + 1000).toISOString(),
  ...(i === 30 ? { duration: "not a number" } : {}),
}));
const MALFORMED_ID = "row-0030";
/** The rows the fake Graph serves (a test may serve others). */
let served = ROWS;

let base = "";
let requests = 0;
/** The paths asked for, decoded. */
const paths: string[] = [];
/** Requests for windows reaching past this instant get a body that is not JSON. */
let poisonAfter = Number.POSITIVE_INFINITY;
const server = createServer((req, res) => {
  requests++;
  const url = new URL(req.url ?? "/", "http://graph");
  paths.push(decodeURIComponent(url.pathname));
  const match = /fromDateTime=([^,]+),toDateTime=([^)]+)\)/.exec(decodeURIComponent(url.pathname));
  if (!match) {
    res.writeHead(400).end();
    return;
  }
  const from = Date.parse(match[1] as string);
  const to = Date.parse(match[2] as string);
  if (to > poisonAfter) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("<html><body>Service Unavailable</body></html>");
    return;
  }
  // As Graph: getDirectRoutingCalls leaves out a row that starts exactly at toDateTime.
  const exclusive = url.pathname.includes("getDirectRoutingCalls");
  const inWindow = served.filter((row) => {
    const at = Date.parse(String(row.startDateTime));
    return at >= from && (exclusive ? at < to : at <= to);
  });
  const skip = Number(url.searchParams.get("$skip") ?? 0);
  const value = inWindow.slice(skip, skip + pageRows);
  const next =
    skip + pageRows < inWindow.length ? `${base}${url.pathname}?$skip=${skip + pageRows}` : undefined;
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ value, ...(next ? { "@odata.nextLink": next } : {}) }));
});

const agent = new Agent();
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await agent.close();
  await new Promise((resolve) => server.close(resolve));
});

interface Shape {
  sliceMs?: number;
  maxBatchRows?: number;
  lookbackMs?: number;
}

function optionsOn(sink: MemorySink, options: Shape = {}): SourceOptions {
  const metrics = new Metrics({ defaultMetrics: false });
  const graph = new GraphClient({
    endpoint: base,
    apiVersion: "v1.0",
    tokens: { getToken: async () => "token", invalidate: () => undefined },
    dispatcher: agent,
    headersTimeoutMs: 5000,
    bodyTimeoutMs: 5000,
    maxPageBytes: 1 << 20,
    maxPagesPerWindow: 1000,
    maxRetries: 2,
    pacer: new RequestPacer(60_000, 1000),
    backoff: { minMs: 5, maxMs: 10 },
  });
  return {
    unit: {
      tenantId: "contoso",
      stream: STREAMS.pstn,
      name: "test",
      topics: { outputs: ["calls"], dlq: "calls.dlq", state: "calls.state" },
      start: START,
    },
    pollIntervalMs: 60_000,
    lookbackMs: options.lookbackMs ?? 24 * HOUR,
    sliceMs: options.sliceMs ?? 6 * HOUR,
    maxBatchRows: options.maxBatchRows ?? 20,
    pageDecoder: "inline",
    graph,
    sink,
    registry: { register: async () => 42 },
    metrics,
    logger: createLogger("silent"),
    firstRestartBackoffMs: 2,
    maxRestartBackoffMs: 4,
    now: () => NOW,
  };
}

function sourceOn(sink: MemorySink, options: Shape = {}) {
  const sourceOptions = optionsOn(sink, options);
  return { source: new Source(sourceOptions), metrics: sourceOptions.metrics };
}

const goodIds = ROWS.map((row) => String(row.id)).filter((id) => id !== MALFORMED_ID);

function watermarkOf(sink: MemorySink, identity: string): string | undefined {
  const checkpoints = sink.records("calls.state").filter((r) => r.key === `${identity}|checkpoint`);
  const last = checkpoints.at(-1)?.value;
  return last ? decodeCheckpoint(Buffer.from(last)).watermark?.toISOString() : undefined;
}

describe("Source on an in-memory sink", () => {
  test("a backfill publishes every row once, the malformed one as a dead letter, and moves the watermark to its end", async () => {
    const sink = new MemorySink();
    const { source } = sourceOn(sink);
    const to = new Date(NOW);
    assert.equal(await source.backfill(START, to, new AbortController().signal), true);
    await source.close();
    assert.deepEqual(sink.keys("calls"), goodIds);
    assert.deepEqual(sink.keys("calls.dlq"), [MALFORMED_ID]);
    const value = sink.records("calls")[0]?.value as Buffer;
    assert.equal(value[0], 0, "Confluent wire format: magic byte");
    assert.equal(value.readUInt32BE(1), 42, "then the registered schema's id");
    const identity = source.identity(`/backfill/${START.toISOString()}/${to.toISOString()}`);
    assert.equal(watermarkOf(sink, identity), to.toISOString());
    assert.ok(
      sink.commits.every((c) => (c.outputs[0]?.length ?? 0) + c.dlq.length <= 20 + PAGE_ROWS),
      "batches stay bounded",
    );
  });

  test("the same backfill again resumes from the state it committed and publishes nothing twice", async () => {
    const sink = new MemorySink();
    const to = new Date(NOW);
    const first = sourceOn(sink).source;
    await first.backfill(START, to, new AbortController().signal);
    await first.close();
    const before = requests;
    const second = sourceOn(sink).source;
    assert.equal(await second.backfill(START, to, new AbortController().signal), true);
    await second.close();
    assert.equal(requests, before, "a finished range reads nothing");
    assert.deepEqual(sink.keys("calls"), goodIds);
  });

  test("a failed transaction ends the session; the next one restores the committed state and nothing is lost or doubled", async () => {
    const sink = new MemorySink();
    sink.failCommitAt = 4;
    const { source, metrics } = sourceOn(sink);
    assert.equal(await source.backfill(START, new Date(NOW), new AbortController().signal), true);
    await source.close();
    assert.equal(sink.sessionsOpened, 2);
    assert.deepEqual(sink.keys("calls"), goodIds);
    assert.deepEqual(sink.keys("calls.dlq"), [MALFORMED_ID]);
    const failures = (await metrics.sessionFailures.get()).values.find(
      (v) => v.labels.code === ErrorCode.KAFKA_PUBLISH_FAILED,
    );
    assert.equal(failures?.value, 1);
  });

  test("run polls from the start to now once, with overlapping windows deduped, and stops when aborted", async () => {
    const sink = new MemorySink();
    const { source } = sourceOn(sink, { sliceMs: 5 * HOUR });
    const stop = new AbortController();
    const running = source.run(stop.signal);
    const deadline = Date.now() + 10_000;
    while (source.stats.watermark?.getTime() !== NOW && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stop.abort();
    await running;
    await source.close();
    assert.equal(source.stats.watermark?.getTime(), NOW);
    assert.deepEqual(sink.keys("calls"), goodIds);
    assert.equal(watermarkOf(sink, source.identity()), new Date(NOW).toISOString());
  });

  test("firstPollDelayMs: run asks Graph nothing before it, then polls as usual", async () => {
    const sink = new MemorySink();
    const options = optionsOn(sink, { sliceMs: 5 * HOUR });
    const source = new Source({ ...options, firstPollDelayMs: 400 });
    paths.length = 0;
    const stop = new AbortController();
    const started = performance.now();
    const running = source.run(stop.signal);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(paths.length, 0, "no request during the delay");
    while (source.stats.watermark?.getTime() !== NOW && performance.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    stop.abort();
    await running;
    await source.close();
    assert.ok(paths.length > 0);
    assert.equal(source.stats.watermark?.getTime(), NOW);
  });

  test("a newer session of the same identity fences this one: run ends with the final error", async () => {
    const sink = new MemorySink();
    const { source } = sourceOn(sink, { maxBatchRows: 5 });
    const identity = source.identity();
    const spec = {
      identity,
      transactionalId: transactionalIdOf("calls.state", identity),
      topics: source.unit.topics,
      lookbackMs: 0,
      start: START,
    };
    const originalCommit = sink.commit.bind(sink);
    let fenced = false;
    sink.commit = (s, epoch, batch) => {
      originalCommit(s, epoch, batch);
      if (!fenced && sink.keys("calls").length > 20) {
        fenced = true;
        void sink.openSession(spec);
      }
    };
    await assert.rejects(source.run(new AbortController().signal), (error) =>
      isPstnError(error, ErrorCode.KAFKA_FENCED),
    );
    await source.close();
    const keys = sink.keys("calls");
    assert.equal(new Set(keys).size, keys.length, "what was committed before is there once");
  });

  test("a window that always fails does not hold back the rows and checkpoint read before it, while Kafka is slow", async (t) => {
    // The sessions after the first re-read from an hour behind the watermark: with the windows
    // sliced from there, the failing one also covers the last hour of the window before it.
    poisonAfter = START.getTime() + 12 * HOUR;
    t.after(() => {
      poisonAfter = Number.POSITIVE_INFINITY;
    });
    const sink = new MemorySink();
    // Each transaction outlasts the fetch of a window: one is in flight whenever a window ends.
    sink.commitMs = 40;
    const { source } = sourceOn(sink, { sliceMs: 6 * HOUR, maxBatchRows: 5, lookbackMs: HOUR });
    const stop = new AbortController();
    const running = source.run(stop.signal);
    const before = goodIds.filter((id) => Number(id.slice(4)) < 36);
    const deadline = Date.now() + 5_000;
    while ((sink.keys("calls").length < before.length || sink.sessionsOpened < 3) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    stop.abort();
    await running;
    await source.close();
    assert.ok(sink.sessionsOpened >= 3, "sessions kept failing on the window");
    assert.deepEqual(
      sink.keys("calls").filter((k) => before.includes(k)),
      before,
      "every row of the two windows before the failing one, once",
    );
    assert.equal(watermarkOf(sink, source.identity()), new Date(START.getTime() + 12 * HOUR).toISOString());
  });

  test("sources of two tenants on one sink and one state topic: each exact, each with its own state and transactional id", async () => {
    const sink = new MemorySink();
    const make = (tenantId: string) => {
      const options = optionsOn(sink);
      return new Source({ ...options, unit: { ...options.unit, tenantId } });
    };
    const sources = [make("contoso"), make("fabrikam")];
    const to = new Date(NOW);
    const done = await Promise.all(sources.map((s) => s.backfill(START, to, new AbortController().signal)));
    await Promise.all(sources.map((s) => s.close()));
    assert.deepEqual(done, [true, true]);
    const keys = sink.keys("calls");
    assert.equal(keys.length, 2 * goodIds.length, "each tenant's rows once (the same ids, two tenants)");
    for (const id of goodIds) assert.equal(keys.filter((k) => k === id).length, 2, id);
    const stateKeys = sink.keys("calls.state");
    for (const tenant of ["contoso", "fabrikam"]) {
      assert.ok(
        stateKeys.some((k) => k.startsWith(`${tenant}/pstn/test/backfill/`) && k.endsWith("|checkpoint")),
      );
    }
    assert.notEqual(
      transactionalIdOf("calls.state", sources[0]?.identity() ?? ""),
      transactionalIdOf("calls.state", sources[1]?.identity() ?? ""),
    );
  });

  test("a stream served in one API version reads it whatever GRAPH_API_VERSION says; the others read the configured one", async () => {
    for (const [stream, version] of [
      [STREAMS.sms, "beta"],
      [STREAMS.directRouting, "v1.0"],
      [STREAMS.pstn, "v1.0"],
    ] as const) {
      const options = optionsOn(new MemorySink());
      const source = new Source({ ...options, unit: { ...options.unit, stream } });
      assert.equal(source.graph.apiVersion, version, stream.name);
      paths.length = 0;
      const to = new Date(START.getTime() + HOUR);
      assert.equal(await source.backfill(START, to, new AbortController().signal), true);
      await source.close();
      assert.ok(paths.length > 0);
      for (const path of paths)
        assert.ok(path.startsWith(`/${version}/communications/callRecords/${stream.function}(`), path);
    }
  });

  test("a quiet spell, then a busy day: the long window that meets it is read again in shorter ones, every row once", async () => {
    const quietDays = 40;
    const busyStart = START.getTime() - 10 * 24 * HOUR;
    const from = new Date(busyStart - quietDays * 24 * HOUR);
    const quiet = Array.from({ length: quietDays }, (_, day) => ({
      ...SEED_ROW,
      id: `quiet-${day}`,
      startDateTime: new Date(from.getTime() + day * 24 * HOUR + 5000).toISOString(),
    }));
    // More than a window may hold before it is cut (SPLIT_AFTER_ROWS), in Graph's full pages.
    const busy = Array.from({ length: 25_000 }, (_, i) => ({
      ...SEED_ROW,
      id: `busy-${String(i).padStart(5, "0")}`,
      startDateTime: new Date(busyStart + i * 4000).toISOString(),
    }));
    served = [...quiet, ...busy];
    pageRows = 1000;
    paths.length = 0;
    try {
      const sink = new MemorySink();
      const options = optionsOn(sink, { sliceMs: 24 * HOUR, maxBatchRows: 5000 });
      const source = new Source(options);
      const to = new Date(busyStart + 2 * 24 * HOUR);
      assert.equal(await source.backfill(from, to, new AbortController().signal), true);
      await source.close();
      const published = sink.keys("calls");
      assert.equal(published.length, served.length);
      assert.deepEqual([...published].sort(), served.map((row) => String(row.id)).sort());
      assert.deepEqual(sink.keys("calls.dlq"), []);
      // A window start asked for with two different ends: the window was cut and read again.
      const ends = new Map<string, Set<string>>();
      for (const path of paths) {
        const match = /fromDateTime=([^,]+),toDateTime=([^)]+)\)/.exec(path);
        if (match)
          ends.set(match[1] as string, (ends.get(match[1] as string) ?? new Set()).add(match[2] as string));
      }
      assert.ok(
        [...ends.values()].some((set) => set.size > 1),
        "some window was split",
      );
    } finally {
      served = ROWS;
      pageRows = PAGE_ROWS;
    }
  });

  test("directRouting, whose toDateTime is exclusive: rows exactly at the windows' bounds arrive once", async () => {
    const slice = 6 * HOUR;
    // A row at each bound of the first windows (WINDOW_SLICE long), and one between each two.
    served = Array.from({ length: 13 }, (_, k) => [
      { id: `bound-${k}`, startDateTime: new Date(START.getTime() + k * slice).toISOString() },
      { id: `between-${k}`, startDateTime: new Date(START.getTime() + k * slice + HOUR).toISOString() },
    ]).flat();
    paths.length = 0;
    try {
      const sink = new MemorySink();
      const options = optionsOn(sink, { sliceMs: slice });
      const source = new Source({ ...options, unit: { ...options.unit, stream: STREAMS.directRouting } });
      const to = new Date(START.getTime() + 12 * slice + 2 * HOUR);
      assert.equal(await source.backfill(START, to, new AbortController().signal), true);
      await source.close();
      assert.deepEqual([...sink.keys("calls")].sort(), served.map((row) => row.id).sort());
      assert.deepEqual(sink.keys("calls.dlq"), []);
      assert.equal(source.stats.duplicates, 0, "an exclusive bound reads a boundary row once, not twice");
      const bounds = paths.map((path) => /toDateTime=([^)]+)\)/.exec(path)?.[1]);
      assert.ok(bounds.includes(new Date(START.getTime() + slice).toISOString()), "a window ended on a row");
    } finally {
      served = ROWS;
    }
  });
});
