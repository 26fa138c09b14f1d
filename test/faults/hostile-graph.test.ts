/**
 * A hostile Graph: the simulator (real HTTPS, port 0) serves the first two days as usual, then
 * attacks every range ending after them. Each test asserts what leaked (nothing reaches the other
 * origin, the token least of all), what was said (the refusal's code, its metric, a log line),
 * what was bounded (requests to the attacking link; bytes read; a child process's peak RSS), and
 * that the rows published before the attack are each in the topic exactly once.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import type { App } from "../../src/app.js";
import { ErrorCode } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import {
  type GraphSimulator,
  type HostileOptions,
  startGraphSimulator,
} from "../../tools/simulator/index.js";
import { CliProcess, cleanEnv } from "../support/cli.js";
import {
  assertEachIdOnce,
  type ConnectorEnv,
  connectorEnv,
  createTestApp,
  waitFor,
} from "../support/connector.js";
import { freePort, sampleOf, writeCaFile } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
const MiB = 1024 * 1024;
const REFUSED = "pstn_connector_graph_responses_refused_total";

/** An http server on 127.0.0.1 that records every request made to it, and its Authorization header. */
interface StealServer {
  base: string;
  requests: { url: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

async function startStealServer(): Promise<StealServer> {
  const requests: StealServer["requests"] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
    res.writeHead(200, { "content-type": "application/json" }).end('{"value":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Scene {
  sim: GraphSimulator;
  env: ConnectorEnv;
  /** The connector's start: the attack meets every range ending after start + 2 days. */
  start: number;
  attackAfter: number;
  /** The last row's start, a minute before the attack. */
  dataEnd: number;
  /** The ids of the rows before the attack: what the topic must hold, each once. */
  spared: string[];
}

async function scene(
  t: TestContext,
  stack: TestStack,
  seed: number,
  hostile: HostileOptions,
  extra: ConnectorEnv = {},
  /** Days of history: 2 spared, the rest attacked (4 or more: every window read ahead is attacked). */
  historyDays = 3,
): Promise<Scene> {
  const now = Date.now();
  const start = now - historyDays * DAY;
  const attackAfter = start + 2 * DAY;
  const dataEnd = attackAfter - 60_000;
  const sim = await startGraphSimulator({
    seed,
    clientSecret: "simulator-secret",
    dataStart: new Date(start),
    // No row within a minute of the attack: a re-read ending after it (the lookback's) is attacked,
    // so the watermark may stop a lookback short of it, and every row must still be under it.
    dataEnd: new Date(dataEnd),
    callsPerHour: 40,
    pageSize: 100,
    hostile: { ...hostile, after: new Date(attackAfter) },
  });
  t.after(() => sim.close());
  const env = connectorEnv(sim, stack, {
    CONNECTOR_START: new Date(start).toISOString(),
    POLL_INTERVAL: "1s",
    LOOKBACK: "15s",
    WINDOW_SLICE: "1d",
    GRAPH_MAX_REQUESTS_PER_MINUTE: "1200",
    GRAPH_MAX_RETRIES: "3",
    ...extra,
  });
  const spared = sim.visibleRows(undefined, new Date(dataEnd), "v1.0").map((row) => row.id as string);
  assert.ok(spared.length > 1000, `rows before the attack: ${spared.length}`);
  return { sim, env, start, attackAfter, dataEnd, spared };
}

async function refusedCount(app: App, code: string): Promise<number> {
  const metric = app.metrics.registry.getSingleMetric(REFUSED);
  assert.ok(metric, `no metric ${REFUSED}`);
  const { values } = await metric.get();
  return values.filter((v) => v.labels.code === code).reduce((sum, v) => sum + v.value, 0);
}

interface Outcome {
  refused: number;
  logs: string[];
  /** Hostile answers the simulator gave while the connector ran on after its first refusal. */
  hostileAfterRefusal: number;
  observedMs: number;
}

/**
 * Runs the connector in this process until it refused `code` and its watermark reached the attack,
 * then `observeMs` more; stops it as SIGTERM would. `run` must not end by itself: a refusal is a
 * failed session, not a reason to exit.
 */
async function runAttack(t: TestContext, s: Scene, code: ErrorCode, observeMs = 3_000): Promise<Outcome> {
  const logs: string[] = [];
  const app = createTestApp(s.sim, s.env, {
    logger: createLogger("warn", { write: (line: string) => void logs.push(line) }),
  });
  t.after(() => app.close());
  const stop = new AbortController();
  let ended: unknown = "running";
  const running = app.source.run(stop.signal).then(
    () => {
      ended = "returned";
    },
    (error: unknown) => {
      ended = error;
    },
  );
  try {
    await waitFor(
      `${code} and the watermark past the last row`,
      async () =>
        ended !== "running" ||
        ((await refusedCount(app, code)) > 0 && (app.source.stats.watermark?.getTime() ?? 0) >= s.dataEnd),
      90_000,
    ).catch(async (error: unknown) => {
      const watermark = app.source.stats.watermark?.toISOString();
      const state = `refused ${await refusedCount(app, code)}, watermark ${watermark}, rows end ${new Date(s.dataEnd).toISOString()}, stats ${JSON.stringify(s.sim.stats())}`;
      throw new Error(`${(error as Error).message}; ${state}; last logs ${logs.slice(-3).join("")}`);
    });
    assert.equal(ended, "running", `run ended by itself: ${String(ended)}`);
    const before = s.sim.stats().faultsInjected.hostile;
    const started = Date.now();
    await sleep(observeMs);
    const hostileAfterRefusal = s.sim.stats().faultsInjected.hostile - before;
    assert.equal(ended, "running", `run ended by itself: ${String(ended)}`);
    return {
      refused: await refusedCount(app, code),
      logs,
      hostileAfterRefusal,
      observedMs: Date.now() - started,
    };
  } finally {
    stop.abort();
    await running;
  }
}

function logLine(outcome: Outcome, code: string): Record<string, unknown> {
  // The client's own warning, logged where the answer is refused (the session's error follows).
  const line = outcome.logs.find((l) => l.includes('"level":"warn"') && l.includes(`"code":"${code}"`));
  assert.ok(line, `a log line with ${code} among ${outcome.logs.length}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe("hostile Graph: nothing leaks, nothing grows, what was published stays once", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test("a nextLink to another origin over http: no request reaches it, the token least of all", async (t) => {
    const steal = await startStealServer();
    t.after(() => steal.close());
    const link = `${steal.base}/v1.0/communications/callRecords/getPstnCalls?$skip=100`;
    const s = await scene(t, stack, 301, { nextLink: link });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_LINK_REFUSED);
    t.diagnostic(
      `refused ${outcome.refused}, hostile answers in ${outcome.observedMs} ms after: ${outcome.hostileAfterRefusal}`,
    );
    assert.deepEqual(steal.requests, [], "the other origin got no request");
    assert.ok(outcome.refused > 0);
    const line = logLine(outcome, ErrorCode.GRAPH_LINK_REFUSED);
    assert.match(String(line.msg), new RegExp(`nextLink "${steal.base.replace(/\./g, "\\.")}`));
    assert.ok(!outcome.logs.join("").includes("Bearer"), "no token in the logs");
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("an ftp: nextLink is refused the same way", async (t) => {
    const s = await scene(t, stack, 302, {
      nextLink: "ftp://127.0.0.1:2121/v1.0/communications/callRecords/x",
    });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_LINK_REFUSED);
    assert.match(String(logLine(outcome, ErrorCode.GRAPH_LINK_REFUSED).msg), /uses ftp: instead of https:/);
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("the same nextLink forever: a loop, not followed again; a few requests a session, not thousands", async (t) => {
    const s = await scene(t, stack, 303, { loop: true });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_LINK_LOOP);
    t.diagnostic(
      `hostile answers in ${outcome.observedMs} ms after the first refusal: ${outcome.hostileAfterRefusal}`,
    );
    // Two attacked windows, each refused at its first page, once a session (one a second here).
    assert.ok(outcome.hostileAfterRefusal <= 30, `${outcome.hostileAfterRefusal} hostile answers`);
    logLine(outcome, ErrorCode.GRAPH_LINK_LOOP);
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("new links without end: the window stops at GRAPH_MAX_PAGES_PER_WINDOW", async (t) => {
    const s = await scene(t, stack, 304, { endless: true }, { GRAPH_MAX_PAGES_PER_WINDOW: "25" });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_TOO_MANY_PAGES);
    t.diagnostic(
      `hostile answers in ${outcome.observedMs} ms after the first refusal: ${outcome.hostileAfterRefusal}`,
    );
    assert.match(String(logLine(outcome, ErrorCode.GRAPH_TOO_MANY_PAGES).msg), /25 pages for one window/);
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("a 1 GiB text/html 200 is refused unread (content type)", async (t) => {
    const s = await scene(t, stack, 305, { oversized: { bytes: 1024 * MiB } });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_BAD_CONTENT_TYPE);
    const stats = s.sim.stats();
    const perAnswer = stats.hostileBytesWritten / stats.faultsInjected.hostile;
    t.diagnostic(
      `${stats.faultsInjected.hostile} hostile answers, ${(perAnswer / MiB).toFixed(1)} MiB written per answer`,
    );
    assert.ok(perAnswer < 16 * MiB, `${perAnswer} bytes written per answer`);
    logLine(outcome, ErrorCode.GRAPH_BAD_CONTENT_TYPE);
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("a JSON 200 declaring 1 GiB is refused before its body is read (Content-Length)", async (t) => {
    const s = await scene(t, stack, 306, {
      oversized: { bytes: 1024 * MiB, contentType: "application/json; charset=utf-8" },
    });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_BODY_TOO_LARGE);
    const stats = s.sim.stats();
    const perAnswer = stats.hostileBytesWritten / stats.faultsInjected.hostile;
    t.diagnostic(
      `${stats.faultsInjected.hostile} hostile answers, ${(perAnswer / MiB).toFixed(1)} MiB written per answer`,
    );
    assert.ok(perAnswer < 16 * MiB, `${perAnswer} bytes written per answer`);
    assert.match(String(logLine(outcome, ErrorCode.GRAPH_BODY_TOO_LARGE).msg), /declares 1073741824 bytes/);
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("a page of 1,000,000 rows is refused before it is parsed; the decoder thread lives on", async (t) => {
    const s = await scene(t, stack, 307, { rows: 1_000_000 });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_TOO_MANY_ROWS);
    logLine(outcome, ErrorCode.GRAPH_TOO_MANY_ROWS);
    assert.ok(
      !outcome.logs.some((l) => l.includes(ErrorCode.DECODER_FAILED)),
      "the decoder thread never died",
    );
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("a row nested 1,000,000 deep is refused before it is parsed or hashed", async (t) => {
    const s = await scene(t, stack, 308, { depth: 1_000_000 });
    const outcome = await runAttack(t, s, ErrorCode.GRAPH_TOO_DEEP);
    logLine(outcome, ErrorCode.GRAPH_TOO_DEEP);
    assert.ok(
      !outcome.logs.some((l) => l.includes(ErrorCode.DECODER_FAILED)),
      "the decoder thread never failed",
    );
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });

  test("a chunked 1 GiB JSON 200 on every window read ahead, against the connector process: cut at GRAPH_MAX_PAGE_BYTES, peak RSS far below", async (t) => {
    // Six days: the four windows read ahead are all attacked at once.
    const s = await scene(
      t,
      stack,
      309,
      { oversized: { bytes: 1024 * MiB, contentType: "application/json", contentLength: false } },
      {},
      6,
    );
    const port = await freePort();
    const child = new CliProcess(
      ["run"],
      cleanEnv({
        ...s.env,
        METRICS_PORT: String(port),
        NODE_EXTRA_CA_CERTS: await writeCaFile(s.sim.caCertificatePem),
      }),
    );
    t.after(async () => {
      child.kill("SIGKILL");
      await child.done;
    });
    await waitFor(
      "the refusals and the watermark past the last row",
      async () => {
        const metrics = await scrape(port);
        const watermark = sampleOf(metrics, "pstn_connector_watermark_timestamp_seconds");
        return (
          (sampleOf(metrics, `${REFUSED}{code="${ErrorCode.GRAPH_BODY_TOO_LARGE}"}`) ?? 0) >= 8 &&
          (watermark ?? 0) * 1000 >= s.dataEnd
        );
      },
      120_000,
    );
    const peakKb = Number(
      /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.child.pid}/status`, "utf8"))?.[1],
    );
    child.kill("SIGTERM");
    const exit = await child.done;
    const stats = s.sim.stats();
    const perAnswer = stats.hostileBytesWritten / stats.faultsInjected.hostile;
    t.diagnostic(
      `peak RSS ${(peakKb / 1024).toFixed(0)} MB; ${stats.faultsInjected.hostile} hostile answers, ${(perAnswer / MiB).toFixed(1)} MiB written per answer`,
    );
    assert.equal(exit.code, 0, exit.stderr.slice(-1500));
    assert.ok(peakKb > 0 && peakKb < 400 * 1024, `peak RSS ${peakKb} kB`);
    assert.ok(perAnswer < 64 * MiB + 16 * MiB, `${perAnswer} bytes written per answer`);
    assert.match(
      exit.stderr,
      new RegExp(`"code":"${ErrorCode.GRAPH_BODY_TOO_LARGE}".*sent more than 67108864 bytes`),
    );
    await assertEachIdOnce(stack.brokers, s.env.KAFKA_TOPIC!, s.spared);
  });
});

async function scrape(port: number): Promise<string> {
  try {
    const response = await request(`http://127.0.0.1:${port}/metrics`, {
      headersTimeout: 1000,
      bodyTimeout: 1000,
    });
    return await response.body.text();
  } catch {
    return "";
  }
}

/** The value of the sample named exactly `series` (a name with its labels, if any). */
