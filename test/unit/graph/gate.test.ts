/**
 * The gate every Graph request passes immediately before it is sent: the pacer and the Retry-After
 * hold, after the token is in hand, for first tries and for the retry after a 401 alike.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent } from "undici";
import type { TokenSource } from "../../../src/auth/token-provider.js";
import { GraphClient } from "../../../src/graph/client.js";
import { RequestPacer } from "../../../src/graph/pacer.js";
import { createLogger } from "../../../src/log.js";
import { STREAMS } from "../../../src/streams/index.js";
import { type FakeGraph, graphError, page, type Step, startFakeGraph } from "./fake-graph.js";

const FROM = new Date("2024-01-01T00:00:00.000Z");
const TO = new Date("2024-01-02T00:00:00.000Z");
const OK_PAGE = page([{ id: "ok-1" }]);

/** Tokens "t1", "t2", ...; a call can be made to wait until the test lets it go. */
class GatedTokens implements TokenSource {
  private generation = 1;
  private readonly gates: Array<Promise<void> | undefined> = [];
  calls = 0;

  /** The `n`-th call (from 1) waits until the returned function is called. */
  hold(n: number): () => void {
    let release!: () => void;
    this.gates[n] = new Promise<void>((resolve) => {
      release = resolve;
    });
    return release;
  }

  async getToken(): Promise<string> {
    this.calls++;
    await this.gates[this.calls];
    return `t${this.generation}`;
  }

  invalidate(token: string): void {
    if (token === `t${this.generation}`) this.generation++;
  }
}

class CountingPacer extends RequestPacer {
  admitted = 0;
  override admit(): number {
    const wait = super.admit();
    if (wait === 0) this.admitted++;
    return wait;
  }
}

async function setup(t: TestContext, script: Step[], options: { maxHoldMs?: number; log?: string[] } = {}) {
  const graph = await startFakeGraph(script);
  const agent = new Agent();
  const tokens = new GatedTokens();
  const pacer = new CountingPacer(60_000, 1000, Date.now, { maxHoldMs: options.maxHoldMs });
  const lines = options.log;
  const logger = lines
    ? createLogger(
        "warn",
        new Writable({
          write(chunk, _encoding, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      )
    : undefined;
  const client = new GraphClient({
    endpoint: graph.base,
    apiVersion: "v1.0",
    tokens,
    dispatcher: agent,
    headersTimeoutMs: 5000,
    maxPageBytes: 64 * 1024 * 1024,
    maxPagesPerWindow: 10_000,
    bodyTimeoutMs: 5000,
    maxRetries: 3,
    pacer,
    logger,
    backoff: { minMs: 10, maxMs: 20 },
  });
  t.after(async () => {
    await agent.destroy();
    await graph.close();
  });
  return { graph, client, tokens, pacer, url: client.functionUrl(STREAMS.pstn.function, FROM, TO) };
}

async function until(what: string, predicate: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function since(graph: FakeGraph, later: number, earlier: number): number {
  return graph.seen[later]!.at - graph.seen[earlier]!.at;
}

describe("the request gate", () => {
  test("a request whose token was being fetched waits for the hold another request's 429 set meanwhile", async (t) => {
    const { graph, client, tokens, pacer, url } = await setup(t, [
      graphError(429, "TooManyRequests", () => ({ "retry-after": "1" })),
      OK_PAGE,
      OK_PAGE,
    ]);
    const releaseFirst = tokens.hold(1);
    // The first request passed the pacer and now waits for its token.
    const waiting = client.getPage(url);
    await until("the first token request", () => tokens.calls === 1);
    const throttled = client.getPage(`${url}?$skip=1`);
    await until("the 429 to set the hold", () => pacer.waitMs() > 0);
    releaseFirst();
    await Promise.all([waiting, throttled]);
    assert.equal(graph.seen.length, 3);
    for (const later of [1, 2]) {
      const gap = since(graph, later, 0);
      assert.ok(gap >= 1000, `request ${later} came ${gap} ms after the 429`);
    }
  });

  test("the retry after a 401 passes the gate: it waits for a hold set while the 401 was on its way", async (t) => {
    const { graph, client, pacer, url } = await setup(t, [
      (req, res, later) => later(300, () => graphError(401, "InvalidAuthenticationToken")(req, res, later)),
      graphError(429, "TooManyRequests", () => ({ "retry-after": "1" })),
      OK_PAGE,
      OK_PAGE,
    ]);
    const unauthorized = client.getPage(url);
    await until("the first request to arrive", () => graph.seen.length === 1);
    const throttled = client.getPage(`${url}?$skip=1`);
    await Promise.all([unauthorized, throttled]);
    assert.equal(graph.seen.length, 4);
    assert.equal(graph.seen[2]!.authorization, "Bearer t2", "the retry carries a fresh token");
    assert.ok(
      since(graph, 2, 1) >= 1000,
      `the retry after the 401 came ${since(graph, 2, 1)} ms after the 429`,
    );
    assert.equal(pacer.admitted, 4, "every request, the 401's retry included, took a slot");
  });

  test("the hold is set when the 429's headers arrive, before its body is read", async (t) => {
    const { client, pacer, url } = await setup(t, [
      (_req, res, later) => {
        const body = JSON.stringify({ error: { code: "TooManyRequests", message: "slow down" } });
        res.writeHead(429, {
          "content-type": "application/json",
          "content-length": String(body.length),
          "retry-after": "2",
        });
        res.write(body.slice(0, 5));
        later(400, () => res.end(body.slice(5)));
      },
      OK_PAGE,
    ]);
    const pending = client.getPage(url);
    await until("the hold", () => pacer.waitMs() > 0);
    const holdAt = Date.now();
    await pending;
    assert.ok(Date.now() - holdAt >= 1500, "the hold was in force while the body was still arriving");
  });

  test("a Retry-After beyond GRAPH_MAX_RETRY_AFTER is waited as the maximum, and logged once", async (t) => {
    const lines: string[] = [];
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    const { graph, client, url } = await setup(
      t,
      [graphError(429, "TooManyRequests", () => ({ "retry-after": "99999999999" })), OK_PAGE],
      { maxHoldMs: 400, log: lines },
    );
    const started = Date.now();
    await client.getPage(url);
    const waited = Date.now() - started;
    assert.equal(graph.seen.length, 2);
    assert.ok(since(graph, 1, 0) >= 400, `retried ${since(graph, 1, 0)} ms after the 429`);
    assert.ok(waited < 3000, `waited ${waited} ms, not the 3,000 years asked`);
    const clamped = lines.filter((line) => line.includes("GRAPH_MAX_RETRY_AFTER"));
    assert.equal(clamped.length, 1, lines.join(""));
    assert.match(clamped[0]!, /"retryAfterMs":99999999999000/);
    assert.match(clamped[0]!, /"heldMs":400/);
    assert.deepEqual(
      warnings.map((w) => w.name),
      [],
      "no TimeoutOverflowWarning",
    );
  });
});
