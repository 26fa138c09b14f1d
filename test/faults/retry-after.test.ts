/**
 * Retry-After is never early: 4 windows read at once (as the connector reads ahead) from the real
 * HTTPS simulator, with 429s (random and by budget) and 503s carrying Retry-After, tokens revoked
 * (401s) and slow token responses. The simulator logs when each request arrived and when each
 * Retry-After was sent; the client's dispatcher logs, in one sequence, when each request was handed
 * to the network and when each answer reached the client. Counting from the moment each 429/503
 * reached the client, no request sent after it arrived before its Retry-After had passed.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { rootCertificates } from "node:tls";
import { Agent, type Dispatcher } from "undici";
import { MsalTokenSource } from "../../src/auth/token-provider.js";
import { GraphClient } from "../../src/graph/client.js";
import { RequestPacer } from "../../src/graph/pacer.js";
import { Metrics } from "../../src/metrics/index.js";
import { STREAMS } from "../../src/streams/index.js";
import { type LoggedRequest, startGraphSimulator } from "../../tools/simulator/index.js";

const DAY = 86_400_000;
const WINDOWS = 4;

interface ClientEvent {
  /** Order of events in the client's one thread: dispatches and answers interleaved. */
  seq: number;
  at: number;
}

/** A dispatcher that tags each Graph request with a client-request-id and logs send and answer. */
function recordingAgent(ca: string) {
  let seq = 0;
  const sent = new Map<string, ClientEvent>();
  const answered = new Map<string, ClientEvent & { status: number }>();
  const base = new Agent({ connect: { ca: [...rootCertificates, ca] } });
  const agent = base.compose((dispatch) => (options, handler) => {
    if (!/^\/(v1\.0|beta)\//.test(options.path)) return dispatch(options, handler);
    const id = randomUUID();
    const headers = { ...(options.headers as Record<string, string>), "client-request-id": id };
    // The interceptor is handed the new handler API (compose wraps legacy handlers).
    const inner = handler as Dispatcher.DispatchHandler;
    const recording: Dispatcher.DispatchHandler = {
      onRequestStart: (controller, context) => inner.onRequestStart?.(controller, context),
      onRequestUpgrade: (controller, statusCode, upgradeHeaders, socket) =>
        inner.onRequestUpgrade?.(controller, statusCode, upgradeHeaders, socket),
      onResponseStart: (controller, statusCode, responseHeaders, statusMessage) => {
        answered.set(id, { seq: ++seq, at: Date.now(), status: statusCode });
        inner.onResponseStart?.(controller, statusCode, responseHeaders, statusMessage);
      },
      onResponseData: (controller, chunk) => inner.onResponseData?.(controller, chunk),
      onResponseEnd: (controller, trailers) => inner.onResponseEnd?.(controller, trailers),
      onResponseError: (controller, error) => inner.onResponseError?.(controller, error),
    };
    sent.set(id, { seq: ++seq, at: Date.now() });
    return dispatch({ ...options, headers }, recording);
  });
  return { agent, base, sent, answered };
}

test("4 concurrent windows, 429s and 503s with Retry-After, revoked tokens and slow token answers: 0 early requests", async (t) => {
  const now = Date.now();
  const dataStart = new Date(now - WINDOWS * DAY);
  const sim = await startGraphSimulator({
    seed: 404,
    clientSecret: "simulator-secret",
    dataStart,
    dataEnd: new Date(now - 60_000),
    callsPerHour: 60,
    pageSize: 50,
    recordRequests: true,
    faults: {
      throttleRate: 0.05,
      unavailableRate: 0.06,
      retryAfterSeconds: 1,
      budget: { requests: 40, perMs: 2000 },
      revokeTokensEveryRequests: 23,
      tokenLatencyMs: 250,
      pageLatencyMs: { min: 2, max: 25 },
    },
  });
  t.after(() => sim.close());
  const { agent, base, sent, answered } = recordingAgent(sim.caCertificatePem);
  t.after(() => base.destroy());
  const metrics = new Metrics({ defaultMetrics: false });
  const tokens = new MsalTokenSource({
    tenantId: sim.tenantId,
    clientId: sim.clientId,
    clientSecret: "simulator-secret",
    authorityHost: sim.url,
    scope: `${sim.url}/.default`,
    dispatcher: agent,
    timeoutMs: 10_000,
    metrics,
  });
  const client = new GraphClient({
    endpoint: sim.url,
    apiVersion: "v1.0",
    tokens,
    dispatcher: agent,
    headersTimeoutMs: 10_000,
    maxPageBytes: 64 * 1024 * 1024,
    maxPagesPerWindow: 10_000,
    bodyTimeoutMs: 10_000,
    maxRetries: 40,
    // Fast pacing: the budget's 429s, not the pacer, decide; a short backoff leaves the wait to Retry-After.
    pacer: new RequestPacer(6000, 20),
    metrics: metrics.forStream("pstn"),
    backoff: { minMs: 20, maxMs: 100 },
  });

  const windows = Array.from({ length: WINDOWS }, (_, i) => ({
    from: new Date(dataStart.getTime() + i * DAY),
    to: new Date(dataStart.getTime() + (i + 1) * DAY),
  }));
  const read = async (window: { from: Date; to: Date }) => {
    let rows = 0;
    for await (const page of client.pages(STREAMS.pstn.function, window.from, window.to))
      rows += page.rows.length;
    return rows;
  };
  // Two rounds: the second starts while the first's last holds are still fresh.
  const counts = [...(await Promise.all(windows.map(read))), ...(await Promise.all(windows.map(read)))];
  const expected = windows.map((w) => sim.visibleRows(w.from, new Date(w.to.getTime() - 1), "v1.0").length);
  assert.deepEqual(counts, [...expected, ...expected], "every window read whole, twice");

  const log = sim.requestLog();
  const holds = log.filter(
    (entry): entry is LoggedRequest & { sentAt: number; notBefore: number } =>
      entry.notBefore !== undefined && entry.sentAt !== undefined,
  );
  const early: string[] = [];
  let checked = 0;
  for (const hold of holds) {
    const reached = answered.get(hold.clientRequestId);
    assert.ok(reached, "each Retry-After answer reached the client");
    for (const request of log) {
      const dispatched = sent.get(request.clientRequestId);
      assert.ok(dispatched, "each request the simulator saw was sent by this client");
      if (dispatched.seq < reached.seq) continue; // sent before the client knew
      checked++;
      if (request.arrivedAt < hold.notBefore) {
        early.push(
          `${request.status} arrived ${hold.notBefore - request.arrivedAt} ms before the Retry-After (${hold.retryAfter}) of a ${hold.status} sent at ${hold.sentAt} had passed`,
        );
      }
    }
  }
  const byStatus = sim.stats().byStatus;
  t.diagnostic(
    `requests ${log.length}, by status ${JSON.stringify(byStatus)}, Retry-After answers ${holds.length}, token requests ${sim.stats().tokenRequests}, (request, Retry-After) pairs checked ${checked}`,
  );
  assert.deepEqual(early.slice(0, 5), [], `${early.length} early requests`);
  assert.ok((byStatus["429"] ?? 0) >= 10, "429s were sent");
  assert.ok(
    holds.some((h) => h.status === 503),
    "503s with Retry-After were sent",
  );
  assert.ok((byStatus["401"] ?? 0) >= 3, "revoked tokens were refused");
  assert.ok(sim.stats().tokenRequests >= 4, "new tokens were fetched (slowly) along the way");
  assert.ok(checked > 500, "requests sent after a Retry-After reached the client were checked");
});
