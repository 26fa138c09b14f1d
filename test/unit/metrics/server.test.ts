/** The metrics server under clients that trickle, stall or crowd it, and its bind address. */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { type TestContext, test } from "node:test";
import { request } from "undici";
import { loadConfig } from "../../../src/config/index.js";
import { Health, StreamsHealth } from "../../../src/metrics/health.js";
import { Metrics } from "../../../src/metrics/index.js";
import {
  DEFAULT_METRICS_LIMITS,
  type MetricsServer,
  type MetricsServerLimits,
  startMetricsServer,
} from "../../../src/metrics/server.js";
import { validEnv } from "../config/helpers.js";

async function server(
  t: TestContext,
  host: string | undefined,
  limits: Partial<MetricsServerLimits> = {},
): Promise<MetricsServer> {
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.rowsPublished.inc(3);
  const started = await startMetricsServer(metrics, new Health(), 0, host, limits);
  t.after(() => started.close());
  return started;
}

interface Trickler {
  socket: Socket;
  openedAt: number;
  closedAt: Promise<number>;
}

/**
 * A client that opens a connection and sends `first`, then one more byte of the request line every
 * `everyMs`; with `first` empty it sends nothing at all.
 */
function trickle(port: number, first: string, everyMs = 1_000, host = "127.0.0.1"): Promise<Trickler> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.on("error", () => undefined);
    let timer: NodeJS.Timeout | undefined;
    const closedAt = new Promise<number>((done) =>
      socket.once("close", () => {
        clearInterval(timer);
        done(Date.now());
      }),
    );
    socket.once("connect", () => {
      const openedAt = Date.now();
      if (first !== "") socket.write(first);
      if (first !== "") timer = setInterval(() => socket.write("s"), everyMs);
      resolve({ socket, openedAt, closedAt });
    });
    socket.once("error", reject);
  });
}

async function getMetrics(port: number, host = "127.0.0.1"): Promise<{ status: number; text: string }> {
  const response = await request(`http://${host.includes(":") ? `[${host}]` : host}:${port}/metrics`, {
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  return { status: response.statusCode, text: await response.body.text() };
}

test("300 slow connections are closed within about 10-12 s; /metrics answers meanwhile", {
  timeout: 30_000,
}, async (t) => {
  const metrics = await server(t, "127.0.0.1");
  // Silent ones, a byte a second, a byte every 4 s: each kind of slow client.
  const clients = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      trickle(metrics.port, i % 3 === 0 ? "" : "GET /metr", i % 3 === 1 ? 1_000 : 4_000),
    ),
  );
  t.after(() => {
    for (const client of clients) client.socket.destroy();
  });
  const scrape = await getMetrics(metrics.port);
  assert.equal(scrape.status, 200, "a scrape while 300 slow clients are connected");
  assert.match(scrape.text, /^pstn_connector_rows_published_total 3$/m);

  const lifetimes = await Promise.all(clients.map(async (c) => (await c.closedAt) - c.openedAt));
  const longest = Math.max(...lifetimes);
  const shortest = Math.min(...lifetimes);
  t.diagnostic(`connection lifetimes: ${shortest} ms to ${longest} ms`);
  assert.ok(
    shortest >= DEFAULT_METRICS_LIMITS.requestTimeoutMs - 500,
    `closed by the timeout, not before: ${shortest}`,
  );
  assert.ok(longest <= 12_000, `every trickler closed within 12 s: ${longest} ms`);
  assert.equal((await getMetrics(metrics.port)).status, 200, "and the server still answers");
});

test("past the connection cap new connections are closed at once; slots free up with the timeouts", {
  timeout: 20_000,
}, async (t) => {
  const metrics = await server(t, "127.0.0.1", {
    maxConnections: 20,
    requestTimeoutMs: 1_500,
    checkIntervalMs: 250,
  });
  const held = await Promise.all(Array.from({ length: 20 }, () => trickle(metrics.port, "")));
  const extra = await Promise.all(Array.from({ length: 10 }, () => trickle(metrics.port, "")));
  t.after(() => {
    for (const client of [...held, ...extra]) client.socket.destroy();
  });
  const extraLifetimes = await Promise.all(extra.map(async (c) => (await c.closedAt) - c.openedAt));
  assert.ok(
    Math.max(...extraLifetimes) < 1_000,
    `over the cap: closed at once (${extraLifetimes.join(", ")} ms)`,
  );
  await Promise.all(held.map((c) => c.closedAt));
  const heldLifetime = Math.min(
    ...(await Promise.all(held.map(async (c) => (await c.closedAt) - c.openedAt))),
  );
  assert.ok(heldLifetime >= 1_000, `the held ones lived to their timeout (${heldLifetime} ms)`);
  assert.equal((await getMetrics(metrics.port)).status, 200, "a scrape gets in once the slots are free");
});

test("a client that sends its request and does not read is dropped after the keep-alive timeout", {
  timeout: 20_000,
}, async (t) => {
  const metrics = await server(t, "127.0.0.1");
  const client = await trickle(metrics.port, "");
  t.after(() => client.socket.destroy());
  client.socket.pause();
  client.socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  // A paused client learns of the close only when it reads: it reads again after the keep-alive
  // timeout, and finds the answer and the server's end of the connection waiting.
  await new Promise((resolve) => setTimeout(resolve, DEFAULT_METRICS_LIMITS.keepAliveTimeoutMs + 1_000));
  const resumedAt = Date.now();
  let answer = "";
  client.socket.on("data", (chunk: Buffer) => {
    answer += chunk.toString();
  });
  client.socket.resume();
  const closedAfter = (await client.closedAt) - resumedAt;
  assert.match(answer, /^HTTP\/1\.1 200 OK/);
  assert.ok(closedAfter < 500, `the server had closed it already (closed ${closedAfter} ms after reading)`);
});

test("METRICS_HOST=127.0.0.1 binds loopback only; unset, all interfaces", async (t) => {
  const config = loadConfig({ env: validEnv({ METRICS_HOST: "127.0.0.1", METRICS_PORT: "0" }) });
  const loopback = await server(t, config.metricsHost);
  assert.equal(loopback.address, "127.0.0.1");
  assert.equal((await getMetrics(loopback.port)).status, 200);

  const all = await server(t, loadConfig({ env: validEnv() }).metricsHost);
  assert.ok(all.address === "::" || all.address === "0.0.0.0", `all interfaces: ${all.address}`);

  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && !a.internal && a.family === "IPv4")?.address;
  if (external === undefined) {
    t.diagnostic("no non-loopback IPv4 address on this machine: the reachability half is skipped");
    return;
  }
  assert.equal(
    (await getMetrics(all.port, external)).status,
    200,
    `all interfaces: reachable on ${external}`,
  );
  await assert.rejects(getMetrics(loopback.port, external), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, "ECONNREFUSED", String(error));
    return true;
  });
});

test("/status lists what the health describes; without a description there is no /status", async (t) => {
  const units = {
    replica: "pod-a/1",
    units: [{ tenant: "contoso.onmicrosoft.com", stream: "pstn", state: "active" }],
  };
  const health = new StreamsHealth(new Map([["pstn", new Health()]]), () => units);
  const described = await startMetricsServer(new Metrics({ defaultMetrics: false }), health, 0, "127.0.0.1");
  t.after(() => described.close());
  const answer = await request(`http://127.0.0.1:${described.port}/status`);
  assert.equal(answer.statusCode, 200);
  assert.equal(answer.headers["content-type"], "application/json");
  assert.deepEqual(await answer.body.json(), units);

  const plain = await startMetricsServer(
    new Metrics({ defaultMetrics: false }),
    new Health(),
    0,
    "127.0.0.1",
  );
  t.after(() => plain.close());
  const missing = await request(`http://127.0.0.1:${plain.port}/status`);
  await missing.body.dump();
  assert.equal(missing.statusCode, 404);
});
