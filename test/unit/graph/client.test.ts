import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { Agent } from "undici";
import type { TokenSource } from "../../../src/auth/token-provider.js";
import { ErrorCode, isPstnError, PstnError } from "../../../src/errors.js";
import type { CallLogPage } from "../../../src/graph/body.js";
import { GraphClient, type GraphClientOptions } from "../../../src/graph/client.js";
import { RequestPacer } from "../../../src/graph/pacer.js";
import { Metrics } from "../../../src/metrics/index.js";
import { STREAMS } from "../../../src/streams/index.js";
import {
  cutMidBody,
  delayed,
  type FakeGraph,
  graphError,
  page,
  reply,
  reset,
  type Step,
  slowBody,
  startFakeGraph,
} from "./fake-graph.js";

/** Counts getToken and invalidate; "t1" until invalidated, then "t2", and so on. */
class FakeTokens implements TokenSource {
  gets = 0;
  readonly invalidated: string[] = [];
  private generation = 1;

  async getToken(): Promise<string> {
    this.gets++;
    return `t${this.generation}`;
  }

  invalidate(token: string): void {
    this.invalidated.push(token);
    if (token === `t${this.generation}`) this.generation++;
  }
}

interface Setup {
  graph: FakeGraph;
  client: GraphClient;
  tokens: FakeTokens;
  metrics: Metrics;
  pacer: RequestPacer;
}

async function setup(
  t: TestContext,
  script: Step[],
  options: Partial<GraphClientOptions> = {},
): Promise<Setup> {
  const graph = await startFakeGraph(script);
  const agent = new Agent();
  const tokens = new FakeTokens();
  const metrics = new Metrics({ defaultMetrics: false });
  const pacer = new RequestPacer(60_000, 1000);
  const client = new GraphClient({
    endpoint: graph.base,
    apiVersion: "v1.0",
    tokens,
    dispatcher: agent,
    headersTimeoutMs: 2000,
    bodyTimeoutMs: 2000,
    maxRetries: 3,
    pacer,
    maxPageBytes: 64 * 1024 * 1024,
    maxPagesPerWindow: 10_000,
    metrics: metrics.forStream("pstn"),
    backoff: { minMs: 10, maxMs: 50 },
    ...options,
  });
  t.after(async () => {
    await agent.destroy();
    await graph.close();
  });
  return { graph, client, tokens, metrics, pacer };
}

/** Sum of a metric's values whose labels include `labels`. */
async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(`pstn_connector_${name}`);
  assert.ok(metric, `no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))
    .reduce((sum, v) => sum + v.value, 0);
}

const FROM = new Date("2024-01-01T00:00:00.000Z");
const TO = new Date("2024-01-02T00:00:00.000Z");
const FIRST_PATH =
  "/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-01-01T00:00:00.000Z,toDateTime=2024-01-02T00:00:00.000Z)";
const RENAMED =
  "/v1.0/communications/callRecords/getPstnCalls(from=2024-01-01T00:00:00.000Z,to=2024-01-02T00:00:00.000Z)";
const OK_PAGE = page([{ id: "ok-1", charge: 0.1 }]);

function gaps(graph: FakeGraph): number[] {
  return graph.seen.slice(1).map((s, i) => s.at - graph.seen[i]!.at);
}

function isCode(code: ErrorCode) {
  return (error: unknown): boolean => {
    assert.ok(isPstnError(error, code), `expected ${code}, got ${String(error)}`);
    return true;
  };
}

describe("GraphClient", () => {
  test("pages follow nextLink verbatim, whatever the key's casing, with the bearer token", async (t) => {
    let base = "";
    const script: Step[] = [
      // Raw text: the charge has more digits than a double holds.
      (req, res, later) =>
        reply(
          200,
          `{"@odata.count":1,"value":[{"id":"a","charge":0.1234567890123456789,"duration":5}],"@odata.nextLink":"${base}${RENAMED}?$skip=1000"}`,
        )(req, res, later),
      (req, res, later) =>
        page([{ id: "b" }, { id: "c" }], { "@odata.NextLink": `${base}${RENAMED}?$skip=2000` })(
          req,
          res,
          later,
        ),
      page([{ id: "d", connectionCharge: 1e-7 }]),
    ];
    const { graph, client, metrics, tokens } = await setup(t, script);
    base = graph.base;

    const pages: CallLogPage[] = [];
    for await (const p of client.pages(STREAMS.pstn.function, FROM, TO)) pages.push(p);

    assert.deepEqual(
      graph.seen.map((s) => s.url),
      [FIRST_PATH, `${RENAMED}?$skip=1000`, `${RENAMED}?$skip=2000`],
    );
    assert.deepEqual(
      pages.map((p) => p.rows.map((r) => r.id)),
      [["a"], ["b", "c"], ["d"]],
    );
    assert.equal(pages[0]!.nextLink, `${graph.base}${RENAMED}?$skip=1000`);
    assert.equal(pages[2]!.nextLink, undefined);
    // Money keeps its source text through the client.
    assert.equal(pages[0]!.rows[0]!.charge, "0.1234567890123456789");
    assert.equal(pages[0]!.rows[0]!.duration, 5);
    for (const seen of graph.seen) {
      assert.equal(seen.authorization, "Bearer t1");
      assert.equal(seen.accept, "application/json");
    }
    assert.equal(tokens.invalidated.length, 0);
    assert.equal(await metricValue(metrics, "graph_requests_total", { code: "200" }), 3);
    assert.equal(await metricValue(metrics, "graph_throttled_total"), 0);
    const duration = await metrics.graphRequestDuration.get();
    const count = duration.values.find((v) => v.metricName?.endsWith("_count"));
    assert.equal(count?.value, 3);
  });

  test("functionUrl builds the call-log URL on the configured endpoint and version", async (t) => {
    const { client, graph } = await setup(t, [], { apiVersion: "beta" });
    assert.equal(
      client.functionUrl(STREAMS.pstn.function, FROM, TO),
      `${graph.base}/beta/communications/callRecords/getPstnCalls(fromDateTime=2024-01-01T00:00:00.000Z,toDateTime=2024-01-02T00:00:00.000Z)`,
    );
  });

  test("429 with Retry-After: 1 is retried no earlier than 1 s later, and counted", async (t) => {
    const { graph, client, metrics } = await setup(t, [
      graphError(429, "TooManyRequests", () => ({ "retry-after": "1" })),
      OK_PAGE,
    ]);
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows[0]!.id, "ok-1");
    assert.equal(graph.seen.length, 2);
    const [gap] = gaps(graph);
    assert.ok(gap! >= 1000, `retried after ${gap} ms`);
    assert.ok(gap! < 2500, `retried after ${gap} ms`);
    assert.equal(graph.seen[1]!.url, FIRST_PATH);
    assert.equal(await metricValue(metrics, "graph_throttled_total"), 1);
    assert.equal(await metricValue(metrics, "graph_requests_total", { code: "429" }), 1);
    assert.equal(await metricValue(metrics, "graph_requests_total", { code: "200" }), 1);
    assert.equal(await metricValue(metrics, "graph_retries_total", { reason: ErrorCode.GRAPH_THROTTLED }), 1);
  });

  test("a Retry-After holds every request of the app, not only the throttled one", async (t) => {
    const { graph, client } = await setup(t, [
      graphError(429, "TooManyRequests", () => ({ "retry-after": "1" })),
      OK_PAGE,
      OK_PAGE,
    ]);
    const url = client.functionUrl(STREAMS.pstn.function, FROM, TO);
    const first = client.getPage(url);
    while (graph.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the 429 has been handled by now
    const second = client.getPage(`${graph.base}${RENAMED}?$skip=1000`);
    await Promise.all([first, second]);
    assert.equal(graph.seen.length, 3);
    const throttledAt = graph.seen[0]!.at;
    for (const later of graph.seen.slice(1)) {
      assert.ok(later.at - throttledAt >= 1000, `a request came ${later.at - throttledAt} ms after the 429`);
    }
  });

  test("503 with an HTTP-date Retry-After is retried no earlier than that date", async (t) => {
    let retryAt = 0;
    const { graph, client, metrics } = await setup(t, [
      graphError(503, "ServiceUnavailable", () => {
        retryAt = (Math.floor(Date.now() / 1000) + 2) * 1000; // 1 to 2 s from now, whole seconds
        return { "retry-after": new Date(retryAt).toUTCString() };
      }),
      OK_PAGE,
    ]);
    await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(graph.seen.length, 2);
    assert.ok(retryAt - graph.seen[0]!.at >= 1000);
    assert.ok(graph.seen[1]!.at >= retryAt, `retried ${retryAt - graph.seen[1]!.at} ms before Retry-After`);
    assert.ok(graph.seen[1]!.at - retryAt < 1000);
    assert.equal(await metricValue(metrics, "graph_throttled_total"), 0);
    assert.equal(await metricValue(metrics, "graph_requests_total", { code: "503" }), 1);
    assert.equal(
      await metricValue(metrics, "graph_retries_total", { reason: ErrorCode.GRAPH_UNAVAILABLE }),
      1,
    );
  });

  test("500, 502 and 504 are retried with growing backoff, then the page is returned", async (t) => {
    const { graph, client, metrics } = await setup(t, [
      graphError(500, "InternalServerError"),
      graphError(502, "BadGateway"),
      graphError(504, "GatewayTimeout"),
      OK_PAGE,
    ]);
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows.length, 1);
    assert.equal(graph.seen.length, 4);
    // Backoff: min 10 ms, factor 2, randomized up to ×2, capped at 50 ms (a little timer slack).
    const [g1, g2, g3] = gaps(graph);
    assert.ok(g1! >= 8, `first retry after ${g1} ms`);
    assert.ok(g2! >= 18, `second retry after ${g2} ms`);
    assert.ok(g3! >= 38, `third retry after ${g3} ms`);
    for (const g of [g1, g2, g3]) assert.ok(g! < 1000, `a retry waited ${g} ms`);
    assert.equal(await metricValue(metrics, "graph_retries_total", { reason: ErrorCode.GRAPH_HTTP }), 2);
    assert.equal(
      await metricValue(metrics, "graph_retries_total", { reason: ErrorCode.GRAPH_UNAVAILABLE }),
      1,
    );
    for (const code of ["500", "502", "504", "200"]) {
      assert.equal(await metricValue(metrics, "graph_requests_total", { code }), 1, code);
    }
  });

  test("a connection reset before any answer is retried", async (t) => {
    const { graph, client, metrics } = await setup(t, [reset(), OK_PAGE]);
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows[0]!.id, "ok-1");
    assert.equal(graph.seen.length, 2);
    assert.equal(await metricValue(metrics, "graph_requests_total", { code: "network" }), 1);
    assert.equal(await metricValue(metrics, "graph_retries_total", { reason: ErrorCode.GRAPH_NETWORK }), 1);
  });

  test("a socket destroyed in the middle of the body is retried", async (t) => {
    const { graph, client, metrics } = await setup(t, [cutMidBody(), OK_PAGE]);
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows[0]!.id, "ok-1");
    assert.equal(graph.seen.length, 2);
    assert.equal(await metricValue(metrics, "graph_retries_total", { reason: ErrorCode.GRAPH_NETWORK }), 1);
  });

  test("a complete response with truncated JSON is retried", async (t) => {
    const { graph, client, metrics } = await setup(t, [
      reply(200, '{"value":[{"id":"a","charge":1.5'),
      OK_PAGE,
    ]);
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows[0]!.id, "ok-1");
    assert.equal(graph.seen.length, 2);
    assert.equal(
      await metricValue(metrics, "graph_retries_total", { reason: ErrorCode.GRAPH_BAD_RESPONSE }),
      1,
    );
  });

  test("a slow answer past the headers timeout is retried", async (t) => {
    const { graph, client, metrics } = await setup(t, [delayed(1500, OK_PAGE), OK_PAGE], {
      headersTimeoutMs: 200,
    });
    const started = Date.now();
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows[0]!.id, "ok-1");
    assert.equal(graph.seen.length, 2);
    const gap = gaps(graph)[0]!;
    assert.ok(gap >= 190 && gap < 1500, `retried after ${gap} ms`);
    assert.ok(Date.now() - started < 1500);
    assert.equal(await metricValue(metrics, "graph_requests_total", { code: "network" }), 1);
  });

  test("a body that stalls past the body timeout is retried", async (t) => {
    const { graph, client } = await setup(t, [slowBody(1500), OK_PAGE], { bodyTimeoutMs: 200 });
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows[0]!.id, "ok-1");
    assert.equal(graph.seen.length, 2);
  });

  test("retries exhausted: the error says how many attempts and over how long", async (t) => {
    const { graph, client } = await setup(
      t,
      [
        graphError(503, "ServiceUnavailable"),
        graphError(503, "ServiceUnavailable"),
        graphError(503, "Busy"),
        OK_PAGE,
      ],
      { maxRetries: 2 },
    );
    const started = Date.now();
    await assert.rejects(client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO)), (error) => {
      assert.ok(isPstnError(error, ErrorCode.GRAPH_RETRIES_EXHAUSTED), String(error));
      const match = /after 3 attempts over (\d+\.\d) s/.exec(error.message);
      assert.ok(match, error.message);
      assert.ok(Number(match[1]) <= (Date.now() - started) / 1000 + 0.05);
      assert.match(error.message, /503/);
      assert.equal(error.statusCode, 503);
      assert.equal(error.retriable, false);
      assert.ok(isPstnError(error.cause, ErrorCode.GRAPH_UNAVAILABLE));
      return true;
    });
    assert.equal(graph.seen.length, 3);
    assert.equal(graph.remaining(), 1);
  });

  test("retries exhausted over network failures counts every attempt too", async (t) => {
    const { graph, client } = await setup(t, [reset(), reset(), OK_PAGE], { maxRetries: 1 });
    await assert.rejects(client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO)), (error) => {
      assert.ok(isPstnError(error, ErrorCode.GRAPH_RETRIES_EXHAUSTED), String(error));
      assert.match(error.message, /after 2 attempts over \d+\.\d s/);
      assert.ok(isPstnError(error.cause, ErrorCode.GRAPH_NETWORK));
      return true;
    });
    assert.equal(graph.seen.length, 2);
  });

  test("400 fails at once with PSTN_GRAPH_BAD_REQUEST and Graph's message", async (t) => {
    const { graph, client } = await setup(t, [graphError(400, "BadRequest"), OK_PAGE]);
    await assert.rejects(client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO)), (error) => {
      assert.ok(isPstnError(error, ErrorCode.GRAPH_BAD_REQUEST), String(error));
      assert.equal(error.retriable, false);
      assert.equal(error.statusCode, 400);
      assert.match(error.message, /BadRequest: fake BadRequest/);
      return true;
    });
    assert.equal(graph.seen.length, 1);
    assert.equal(graph.remaining(), 1);
  });

  test("403 fails at once with PSTN_GRAPH_FORBIDDEN naming CallRecords.Read.All", async (t) => {
    const { graph, client, tokens } = await setup(t, [graphError(403, "Forbidden"), OK_PAGE], {
      clientId: "11111111-2222-3333-4444-555555555555",
      tenantId: "contoso.onmicrosoft.com",
    });
    await assert.rejects(client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO)), (error) => {
      assert.ok(isPstnError(error, ErrorCode.GRAPH_FORBIDDEN), String(error));
      assert.match(error.message, /CallRecords\.Read\.All/);
      assert.match(error.message, /11111111-2222-3333-4444-555555555555/);
      assert.match(error.message, /contoso\.onmicrosoft\.com/);
      assert.doesNotMatch(error.message, /Bearer|t1/);
      return true;
    });
    assert.equal(graph.seen.length, 1);
    assert.equal(tokens.invalidated.length, 0);
  });

  test("another 4xx (404) is not retried", async (t) => {
    const { graph, client } = await setup(t, [graphError(404, "NotFound"), OK_PAGE]);
    await assert.rejects(
      client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO)),
      isCode(ErrorCode.GRAPH_HTTP),
    );
    assert.equal(graph.seen.length, 1);
  });

  test("401 once: the token is dropped and one immediate retry with a fresh token succeeds", async (t) => {
    // A large backoff shows that the 401 retry does not wait for it.
    const { graph, client, tokens } = await setup(
      t,
      [graphError(401, "InvalidAuthenticationToken"), OK_PAGE],
      {
        backoff: { minMs: 5000, maxMs: 5000 },
      },
    );
    const result = await client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO));
    assert.equal(result.rows[0]!.id, "ok-1");
    assert.deepEqual(
      graph.seen.map((s) => s.authorization),
      ["Bearer t1", "Bearer t2"],
    );
    assert.deepEqual(tokens.invalidated, ["t1"]);
    assert.equal(tokens.gets, 2);
    assert.ok(gaps(graph)[0]! < 1000);
  });

  test("401 twice: PSTN_GRAPH_UNAUTHORIZED without further retries", async (t) => {
    const { graph, client, tokens } = await setup(t, [
      graphError(401, "InvalidAuthenticationToken"),
      graphError(401, "InvalidAuthenticationToken"),
      OK_PAGE,
    ]);
    await assert.rejects(client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO)), (error) => {
      assert.ok(isPstnError(error, ErrorCode.GRAPH_UNAUTHORIZED), String(error));
      assert.equal(error.retriable, false);
      assert.doesNotMatch(error.message, /t1|t2/);
      return true;
    });
    assert.equal(graph.seen.length, 2);
    assert.deepEqual(
      graph.seen.map((s) => s.authorization),
      ["Bearer t1", "Bearer t2"],
    );
    assert.deepEqual(tokens.invalidated, ["t1"]);
    assert.equal(graph.remaining(), 1);
  });

  test("aborting while waiting out a Retry-After stops promptly", async (t) => {
    const { graph, client } = await setup(t, [
      graphError(429, "TooManyRequests", () => ({ "retry-after": "30" })),
    ]);
    const controller = new AbortController();
    const pending = client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO), controller.signal);
    while (graph.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const abortedAt = Date.now();
    controller.abort();
    await assert.rejects(pending);
    assert.ok(Date.now() - abortedAt < 500, `stopped ${Date.now() - abortedAt} ms after the abort`);
    assert.equal(graph.seen.length, 1);
  });

  test("aborting while waiting for Graph's answer stops promptly with PSTN_ABORTED", async (t) => {
    const { graph, client } = await setup(t, [delayed(5000, OK_PAGE)], { headersTimeoutMs: 10_000 });
    const controller = new AbortController();
    const pending = client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO), controller.signal);
    while (graph.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const abortedAt = Date.now();
    controller.abort();
    await assert.rejects(pending, isCode(ErrorCode.ABORTED));
    assert.ok(Date.now() - abortedAt < 500, `stopped ${Date.now() - abortedAt} ms after the abort`);
    assert.equal(graph.seen.length, 1);
  });

  test("an already aborted signal sends nothing", async (t) => {
    const { graph, client } = await setup(t, [OK_PAGE]);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      client.getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO), controller.signal),
    );
    assert.equal(graph.seen.length, 0);
  });

  test("errors are PstnError instances carrying the status code", async (t) => {
    const { client } = await setup(t, [graphError(400, "BadRequest")]);
    const error = await client
      .getPage(client.functionUrl(STREAMS.pstn.function, FROM, TO))
      .catch((e: unknown) => e);
    assert.ok(error instanceof PstnError);
    assert.equal(error.statusCode, 400);
  });
});
