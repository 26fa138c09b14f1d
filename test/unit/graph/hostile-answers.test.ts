/**
 * GraphClient against answers a hostile or broken Graph could send: links out of scope or in a
 * loop, bodies too large or not JSON, error bodies without end. Real HTTP servers on port 0.
 */
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { Agent } from "undici";
import type { TokenSource } from "../../../src/auth/token-provider.js";
import { ErrorCode, GRAPH_REFUSED_CODES, isPstnError } from "../../../src/errors.js";
import { GraphClient, type GraphClientOptions } from "../../../src/graph/client.js";
import { RequestPacer } from "../../../src/graph/pacer.js";
import { createLogger } from "../../../src/log.js";
import { Metrics } from "../../../src/metrics/index.js";
import { STREAMS } from "../../../src/streams/index.js";
import { type FakeGraph, page, reply, type Step, startFakeGraph } from "./fake-graph.js";

const FROM = new Date("2024-01-01T00:00:00.000Z");
const TO = new Date("2024-01-02T00:00:00.000Z");
const PREFIX = "/v1.0/communications/callRecords/";
const MiB = 1024 * 1024;

const tokens: TokenSource = {
  getToken: async () => "secret-token",
  invalidate: () => undefined,
};

interface Setup {
  graph: FakeGraph;
  client: GraphClient;
  metrics: Metrics;
  logs: string[];
}

async function setup(
  t: TestContext,
  script: Step[],
  options: Partial<GraphClientOptions> = {},
): Promise<Setup> {
  const graph = await startFakeGraph(script);
  const agent = new Agent();
  const metrics = new Metrics({ defaultMetrics: false });
  const logs: string[] = [];
  const client = new GraphClient({
    endpoint: graph.base,
    apiVersion: "v1.0",
    tokens,
    dispatcher: agent,
    headersTimeoutMs: 5000,
    bodyTimeoutMs: 5000,
    maxRetries: 2,
    pacer: new RequestPacer(60_000, 1000),
    maxPageBytes: MiB,
    maxPagesPerWindow: 100,
    metrics: metrics.forStream("pstn"),
    logger: createLogger("info", { write: (line: string) => void logs.push(line) }),
    backoff: { minMs: 10, maxMs: 20 },
    ...options,
  });
  t.after(async () => {
    await agent.destroy();
    await graph.close();
  });
  return { graph, client, metrics, logs };
}

async function readAll(client: GraphClient): Promise<number> {
  let pages = 0;
  for await (const _ of client.pages(STREAMS.pstn.function, FROM, TO)) pages++;
  return pages;
}

async function refusedCount(metrics: Metrics, code: string): Promise<number> {
  const { values } = await metrics.registry
    .getSingleMetric("pstn_connector_graph_responses_refused_total")!
    .get();
  return values.filter((v) => v.labels.code === code).reduce((sum, v) => sum + v.value, 0);
}

function rejectsWith(code: ErrorCode, words?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isPstnError(error, code), `expected ${code}, got ${String(error)}`);
    assert.equal(error.retriable, false, "final");
    if (words) assert.match(error.message, words);
    return true;
  };
}

/** Streams `total` bytes of `fill` after `head`, with backpressure; records what it wrote. */
function streamed(options: {
  total: number;
  contentType: string;
  contentLength: boolean;
  written: { bytes: number };
  status?: number;
}): Step {
  return (_req, res) => {
    res.writeHead(options.status ?? 200, {
      "content-type": options.contentType,
      ...(options.contentLength ? { "content-length": String(options.total) } : {}),
    });
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    const pump = () => {
      while (!res.destroyed && options.written.bytes < options.total) {
        const size = Math.min(chunk.length, options.total - options.written.bytes);
        options.written.bytes += size;
        if (!res.write(chunk.subarray(0, size))) {
          res.once("drain", pump);
          return;
        }
      }
      if (!res.destroyed) res.end();
    };
    res.on("error", () => undefined);
    pump();
  };
}

describe("GraphClient refuses hostile answers", () => {
  test("a nextLink to another origin: the token is never sent there; final, counted and logged", async (t) => {
    const steal = await startFakeGraph([]);
    t.after(() => steal.close());
    const { client, graph, metrics, logs } = await setup(t, [
      page([{ id: "a" }], { "@odata.nextLink": `${steal.base}${PREFIX}getPstnCalls?$skip=1` }),
    ]);
    await assert.rejects(
      readAll(client),
      rejectsWith(ErrorCode.GRAPH_LINK_REFUSED, /points at 127\.0\.0\.1:\d+ instead of/),
    );
    assert.equal(steal.seen.length, 0, "nothing reached the other origin");
    assert.equal(graph.seen.length, 1, "not retried");
    assert.equal(await refusedCount(metrics, ErrorCode.GRAPH_LINK_REFUSED), 1);
    const line = logs.find((l) => l.includes(ErrorCode.GRAPH_LINK_REFUSED));
    assert.ok(line, `a log line names the code: ${logs.join("")}`);
    assert.match(line, new RegExp(`${steal.base.replace(/[.]/g, "\\.")}`));
    assert.ok(!line.includes("secret-token"));
  });

  test("a redirect elsewhere is not followed: the token stays home", async (t) => {
    const steal = await startFakeGraph([]);
    t.after(() => steal.close());
    const { client, graph } = await setup(t, [
      reply(302, "", { location: `${steal.base}${PREFIX}getPstnCalls`, "content-type": "text/plain" }),
    ]);
    await assert.rejects(readAll(client), (error: unknown) => isPstnError(error, ErrorCode.GRAPH_HTTP));
    assert.equal(graph.seen.length, 1);
    assert.equal(steal.seen.length, 0);
  });

  test("the page carrying a refused link is not yielded", async (t) => {
    const { client } = await setup(t, [
      page([{ id: "a" }], { "@odata.nextLink": `${PREFIX}getPstnCalls?$skip=1` }),
      page([{ id: "b" }], { "@odata.nextLink": "ftp://127.0.0.1/x" }),
    ]);
    const ids: unknown[] = [];
    await assert.rejects(
      async () => {
        for await (const p of client.pages(STREAMS.pstn.function, FROM, TO))
          ids.push(...p.rows.map((r) => r.id));
      },
      rejectsWith(ErrorCode.GRAPH_LINK_REFUSED, /uses ftp: instead of http:/),
    );
    assert.deepEqual(ids, ["a"]);
  });

  test("a relative nextLink is followed on the endpoint", async (t) => {
    const { client, graph } = await setup(t, [
      page([{ id: "a" }], { "@odata.nextLink": `${PREFIX}getPstnCalls?$skip=1` }),
      page([{ id: "b" }]),
    ]);
    assert.equal(await readAll(client), 2);
    assert.equal(graph.seen[1]!.url, `${PREFIX}getPstnCalls?$skip=1`);
    assert.equal(graph.seen[1]!.authorization, "Bearer secret-token");
  });

  test("the same nextLink again: PSTN_GRAPH_LINK_LOOP after it was fetched once", async (t) => {
    let base = "";
    const loop: Step = (req, res, later) =>
      page([{ id: "x" }], { "@odata.nextLink": `${base}${PREFIX}getPstnCalls?$skip=5` })(req, res, later);
    const { client, graph, metrics } = await setup(t, [loop, loop, loop, loop]);
    base = graph.base;
    await assert.rejects(readAll(client), rejectsWith(ErrorCode.GRAPH_LINK_LOOP));
    assert.equal(graph.seen.length, 2);
    assert.equal(await refusedCount(metrics, ErrorCode.GRAPH_LINK_LOOP), 1);
  });

  test("more pages than GRAPH_MAX_PAGES_PER_WINDOW: PSTN_GRAPH_TOO_MANY_PAGES", async (t) => {
    const script: Step[] = Array.from({ length: 10 }, (_, i) =>
      page([{ id: `p${i}` }], { "@odata.nextLink": `${PREFIX}getPstnCalls?$skip=${i + 1}` }),
    );
    const { client, graph } = await setup(t, script, { maxPagesPerWindow: 4 });
    await assert.rejects(readAll(client), rejectsWith(ErrorCode.GRAPH_TOO_MANY_PAGES));
    assert.equal(graph.seen.length, 4);
  });

  test("Content-Length over GRAPH_MAX_PAGE_BYTES: refused before the body is read", async (t) => {
    const written = { bytes: 0 };
    const { client, graph, metrics } = await setup(t, [
      streamed({ total: 512 * MiB, contentType: "application/json", contentLength: true, written }),
    ]);
    await assert.rejects(
      readAll(client),
      rejectsWith(ErrorCode.GRAPH_BODY_TOO_LARGE, /declares 536870912 bytes/),
    );
    assert.equal(graph.seen.length, 1, "not fetched again");
    assert.ok(written.bytes < 32 * MiB, `the server could write ${written.bytes} bytes`);
    assert.equal(await refusedCount(metrics, ErrorCode.GRAPH_BODY_TOO_LARGE), 1);
  });

  test("a chunked body past GRAPH_MAX_PAGE_BYTES: refused as soon as the cap is passed", async (t) => {
    const written = { bytes: 0 };
    const { client, graph } = await setup(t, [
      streamed({ total: 512 * MiB, contentType: "application/json", contentLength: false, written }),
    ]);
    await assert.rejects(
      readAll(client),
      rejectsWith(ErrorCode.GRAPH_BODY_TOO_LARGE, /sent more than 1048576 bytes/),
    );
    assert.equal(graph.seen.length, 1);
    assert.ok(written.bytes < 32 * MiB, `the server could write ${written.bytes} bytes`);
  });

  test("large answers of windows fetched together are read one at a time, each whole", async (t) => {
    const big = (id: string) => {
      const body = JSON.stringify({ value: [{ id, pad: "" }] });
      return body.replace('"pad":""', `"pad":"${"x".repeat(6 * MiB - body.length)}"`);
    };
    const chunked =
      (text: string): Step =>
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        const bytes = Buffer.from(text);
        let at = 0;
        const pump = () => {
          while (at < bytes.length) {
            const piece = bytes.subarray(at, at + 64 * 1024);
            at += piece.length;
            if (!res.write(piece)) {
              res.once("drain", pump);
              return;
            }
          }
          res.end();
        };
        pump();
      };
    const { client, graph } = await setup(t, [chunked(big("a")), chunked(big("b")), chunked(big("c"))], {
      maxPageBytes: 8 * MiB,
    });
    const pages = await Promise.all(
      ["a", "b", "c"].map((_, i) => client.getPage(`${graph.base}${PREFIX}getPstnCalls?w=${i}`)),
    );
    assert.deepEqual(pages.map((p) => p.rows[0]!.id).sort(), ["a", "b", "c"]);
  });

  test("a body of exactly the cap is read", async (t) => {
    const body = JSON.stringify({ value: [{ id: "a", pad: "" }] });
    const exact = body.replace('"pad":""', `"pad":"${"x".repeat(MiB - body.length)}"`);
    assert.equal(exact.length, MiB);
    const { client } = await setup(t, [reply(200, exact)]);
    assert.equal(await readAll(client), 1);
  });

  test("a 200 that is not JSON (text/html, none) is refused unread: PSTN_GRAPH_BAD_CONTENT_TYPE", async (t) => {
    const written = { bytes: 0 };
    const { client, graph, metrics } = await setup(t, [
      streamed({ total: 512 * MiB, contentType: "text/html; charset=utf-8", contentLength: false, written }),
    ]);
    await assert.rejects(
      readAll(client),
      rejectsWith(ErrorCode.GRAPH_BAD_CONTENT_TYPE, /"text\/html; charset=utf-8"/),
    );
    assert.equal(graph.seen.length, 1);
    assert.ok(written.bytes < 32 * MiB, `the server could write ${written.bytes} bytes`);
    assert.equal(await refusedCount(metrics, ErrorCode.GRAPH_BAD_CONTENT_TYPE), 1);

    const none: Step = (_req, res) => {
      res.removeHeader("content-type");
      res.writeHead(200, { "content-length": "12" }).end('{"value":[]}');
    };
    const second = await setup(t, [none]);
    await assert.rejects(readAll(second.client), rejectsWith(ErrorCode.GRAPH_BAD_CONTENT_TYPE));
  });

  test("JSON content types with parameters or a +json suffix are read", async (t) => {
    const types = [
      "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
      "Application/JSON",
      "application/problem+json",
      "application/vnd.ms-graph+json; charset=utf-8",
    ];
    const { client, graph } = await setup(
      t,
      types.map((type) => reply(200, { value: [{ id: type }] }, { "content-type": type })),
    );
    for (const type of types) {
      const { rows } = await client.getPage(`${graph.base}${PREFIX}x`);
      assert.deepEqual(rows, [{ id: type }]);
    }
  });

  test("a page of too many rows or nested too deep: refused for good, counted", async (t) => {
    const many = `{"value":[${Array.from({ length: 5001 }, (_, i) => `{"id":"r${i}"}`).join(",")}]}`;
    const deep = `{"value":[{"x":${"[".repeat(10_000)}${"]".repeat(10_000)}}]}`;
    const { client, graph, metrics } = await setup(t, [reply(200, many), reply(200, deep)]);
    await assert.rejects(readAll(client), rejectsWith(ErrorCode.GRAPH_TOO_MANY_ROWS));
    await assert.rejects(readAll(client), rejectsWith(ErrorCode.GRAPH_TOO_DEEP));
    assert.equal(graph.seen.length, 2, "neither was fetched again");
    assert.equal(await refusedCount(metrics, ErrorCode.GRAPH_TOO_MANY_ROWS), 1);
    assert.equal(await refusedCount(metrics, ErrorCode.GRAPH_TOO_DEEP), 1);
  });

  test("an error answer is read only as far as its excerpt, and still retried by status", async (t) => {
    const written = { bytes: 0 };
    const { client, graph } = await setup(
      t,
      [
        streamed({ total: 256 * MiB, contentType: "text/html", contentLength: false, written, status: 502 }),
        page([{ id: "a" }]),
      ],
      { maxRetries: 1 },
    );
    assert.equal(await readAll(client), 1);
    assert.equal(graph.seen.length, 2);
    assert.ok(written.bytes < 32 * MiB, `the server could write ${written.bytes} bytes`);
  });

  test("a body that is not a page stays retriable: it may be a truncated transfer", () => {
    assert.ok(!GRAPH_REFUSED_CODES.has(ErrorCode.GRAPH_BAD_RESPONSE));
  });
});
