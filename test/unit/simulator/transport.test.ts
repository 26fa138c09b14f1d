import assert from "node:assert/strict";
import { test } from "node:test";
import { request } from "undici";
import { startGraphSimulator } from "../../../tools/simulator/index.js";
import { graphGet, type Harness, harness, pstnUrl, token } from "./support.js";

const DATA = {
  dataStart: new Date("2024-01-10T00:00:00Z"),
  dataEnd: new Date("2024-01-11T00:00:00Z"),
  callsPerHour: 10,
};
const FROM = "2024-01-10";
const TO = "2024-01-10T23:59:59.9999999Z";

/** A Graph GET whose body is left to the caller. */
function open(h: Harness, url: string, bearer: string, timeouts: { headers?: number; body?: number } = {}) {
  return request(url, {
    dispatcher: h.agent,
    headers: { authorization: `Bearer ${bearer}` },
    headersTimeout: timeouts.headers,
    bodyTimeout: timeouts.body,
  });
}

function ids(text: string): string[] {
  return (JSON.parse(text).value as { id: string }[]).map((row) => row.id);
}

test("serverErrorRate: 500 and 502 alternate with Graph error bodies; the token endpoint is spared; a storm ends", async (t) => {
  const h = await harness(t, { ...DATA, faults: { serverErrorRate: 1 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, FROM, TO);
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const reply = await graphGet(h, url, bearer);
    statuses.push(reply.status);
    const error = reply.json().error as Record<string, unknown>;
    assert.equal(error.code, reply.status === 500 ? "InternalServerError" : "BadGateway");
    assert.equal(typeof error.message, "string");
    assert.ok((error.innerError as Record<string, string>)["request-id"]);
    assert.equal(reply.headers["retry-after"], undefined);
  }
  assert.deepEqual(statuses, [500, 502, 500, 502]);
  assert.ok(await token(h), "tokens are still issued during the storm");

  h.sim.setFaults({});
  const ok = await graphGet(h, url, bearer);
  assert.equal(ok.status, 200);
  assert.deepEqual(
    ids(ok.text),
    h.sim.visibleRows(DATA.dataStart, new Date(TO)).map((row) => row.id),
  );
  const stats = h.sim.stats();
  assert.deepEqual(stats.faultsInjected, { serverError: 4, truncated: 0, reset: 0, stall: 0, hostile: 0 });
  assert.deepEqual(stats.byStatus, { "200": 1, "500": 2, "502": 2 });
  assert.equal(stats.tokenRequests, 2);
  assert.equal(stats.retryAfterViolations, 0);
});

test("truncatedBodyRate: a 200 whose body ends cleanly part-way; the next request gets the whole page", async (t) => {
  const h = await harness(t, { ...DATA, faults: { truncatedBodyRate: 1 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, FROM, TO);
  const cut = await graphGet(h, url, bearer);
  assert.equal(cut.status, 200);
  assert.ok(cut.text.length > 0);
  assert.throws(() => JSON.parse(cut.text), SyntaxError);

  h.sim.setFaults({});
  const whole = await graphGet(h, url, bearer);
  assert.equal(whole.status, 200);
  assert.ok(whole.text.length > cut.text.length && whole.text.startsWith(cut.text), "a prefix of the page");
  const stats = h.sim.stats();
  assert.equal(stats.faultsInjected.truncated, 1);
  assert.equal(stats.rowsServed, ids(whole.text).length, "the cut page's rows are not counted as served");
});

test("resetMidBodyRate: headers arrive, then the connection is destroyed mid-body", async (t) => {
  const h = await harness(t, { ...DATA, faults: { resetMidBodyRate: 1 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, FROM, TO);
  const response = await open(h, url, bearer);
  assert.equal(response.statusCode, 200);
  assert.ok(Number(response.headers["content-length"]) > 0, "the full length is announced");
  await assert.rejects(response.body.text(), { code: "UND_ERR_SOCKET" });

  h.sim.setFaults({});
  const ok = await graphGet(h, url, bearer);
  assert.equal(ok.status, 200);
  assert.deepEqual(
    ids(ok.text),
    h.sim.visibleRows(DATA.dataStart, new Date(TO)).map((row) => row.id),
  );
  assert.equal(h.sim.stats().faultsInjected.reset, 1);
});

test("stallRate: alternately no headers (headers timeout) and a body that goes silent (body timeout)", async (t) => {
  const h = await harness(t, { ...DATA, faults: { stallRate: 1, stallMs: 2000 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, FROM, TO);
  // undici checks its timeouts about once a second: each gives up within ~1 s, before the stall ends.
  let started = performance.now();
  await assert.rejects(open(h, url, bearer, { headers: 300 }), { code: "UND_ERR_HEADERS_TIMEOUT" });
  assert.ok(performance.now() - started < 2000, "gave up before the headers came");
  started = performance.now();
  const response = await open(h, url, bearer, { body: 300 });
  assert.equal(response.statusCode, 200, "headers and part of the body come at once");
  await assert.rejects(response.body.text(), { code: "UND_ERR_BODY_TIMEOUT" });
  assert.ok(performance.now() - started < 2000, "gave up before the rest of the body came");

  h.sim.setFaults({});
  const ok = await graphGet(h, url, bearer);
  assert.equal(ok.status, 200);
  assert.deepEqual(
    ids(ok.text),
    h.sim.visibleRows(DATA.dataStart, new Date(TO)).map((row) => row.id),
  );
  const stats = h.sim.stats();
  assert.equal(stats.faultsInjected.stall, 2);
  assert.equal(stats.rowsServed, ids(ok.text).length);
});

test("close() returns promptly while stalled responses are open, and ends them", async (t) => {
  const h = await harness(t, { ...DATA, faults: { stallRate: 1 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, FROM, TO);
  // The default stall (30 s): one before the headers, then one inside the body.
  const headless = open(h, url, bearer).then(
    () => "answered",
    () => "failed",
  );
  while (h.sim.stats().faultsInjected.stall < 1) await new Promise((resolve) => setTimeout(resolve, 5));
  const response = await open(h, url, bearer);
  assert.equal(response.statusCode, 200);
  const rest = response.body.text().then(
    () => "answered",
    () => "failed",
  );
  assert.equal(h.sim.stats().faultsInjected.stall, 2);
  const started = performance.now();
  await h.sim.close();
  assert.ok(performance.now() - started < 1000, "close() is prompt");
  assert.deepEqual(await Promise.all([headless, rest]), ["failed", "failed"]);
});

test("transport faults are drawn per request number and seed; retrying a faulted page yields the ground truth", async (t) => {
  const faults = { serverErrorRate: 0.2, truncatedBodyRate: 0.2, resetMidBodyRate: 0.2 };
  const run = async (seed: number) => {
    const h = await harness(t, { ...DATA, seed, pageSize: 10, faults });
    const bearer = await token(h);
    const outcomes: string[] = [];
    const rows: string[] = [];
    let next: string | undefined = pstnUrl(h.sim, FROM, TO);
    while (next !== undefined) {
      let text: string | undefined;
      try {
        const response = await open(h, next, bearer);
        text = await response.body.text();
        outcomes.push(String(response.statusCode));
        if (response.statusCode !== 200) continue;
        const page = JSON.parse(text) as Record<string, unknown>;
        rows.push(...(page.value as { id: string }[]).map((row) => row.id));
        const link = Object.entries(page).find(([key]) => key.toLowerCase() === "@odata.nextlink");
        next = link?.[1] as string | undefined;
      } catch (error) {
        outcomes.push(text === undefined ? "reset" : "truncated");
        assert.ok(text === undefined || error instanceof SyntaxError);
      }
    }
    const truth = h.sim.visibleRows(DATA.dataStart, new Date(TO)).map((row) => row.id);
    return { outcomes, rows, truth, stats: h.sim.stats() };
  };
  const a = await run(5);
  const b = await run(5);
  assert.deepEqual(a.outcomes, b.outcomes, "the same seed, the same faults on the same requests");
  assert.deepEqual(a.rows, a.truth, "every row exactly once, in order");
  assert.ok(a.truth.length > 120, `${a.truth.length} rows`);
  const f = a.stats.faultsInjected;
  assert.ok(f.serverError > 0 && f.truncated > 0 && f.reset > 0, JSON.stringify(f));
  assert.equal(a.outcomes.filter((o) => o === "truncated").length, f.truncated);
  assert.equal(a.outcomes.filter((o) => o === "reset").length, f.reset);
  assert.equal(a.outcomes.filter((o) => o === "500" || o === "502").length, f.serverError);
  assert.equal(a.stats.rowsServed, a.truth.length);
});

test("transport fault options are validated", async () => {
  for (const faults of [
    { serverErrorRate: 1.5 },
    { truncatedBodyRate: -0.1 },
    { resetMidBodyRate: Number.NaN },
    { stallRate: 2 },
    { stallMs: -1 },
    { stallMs: 1.5 },
  ]) {
    const key = Object.keys(faults)[0] as string;
    await assert.rejects(startGraphSimulator({ ...DATA, faults }), new RegExp(`faults\\.${key}`));
  }
});
