import assert from "node:assert/strict";
import { test } from "node:test";
import { startGraphSimulator } from "../../../tools/simulator/index.js";
import { call, graphGet, harness, manualClock, pstnUrl, token } from "./support.js";

const DATA = {
  dataStart: new Date("2024-01-10T00:00:00Z"),
  dataEnd: new Date("2024-01-11T00:00:00Z"),
  callsPerHour: 10,
};
const T0 = Date.parse("2024-01-15T08:00:00Z");

function errorOf(body: Record<string, unknown>): { code: string; message: string } {
  return body.error as { code: string; message: string };
}

test("an app without CallRecords.Read.All gets a token but Graph answers 403 Forbidden", async (t) => {
  const h = await harness(t, { ...DATA, grantedPermissions: ["User.Read.All"] });
  const bearer = await token(h);
  const reply = await graphGet(h, pstnUrl(h.sim, "2024-01-10", "2024-01-11"), bearer);
  assert.equal(reply.status, 403);
  const error = errorOf(reply.json());
  assert.equal(error.code, "Forbidden");
  assert.match(error.message, /CallRecords\.Read\.All/);
  assert.ok((reply.json().error as Record<string, Record<string, string>>).innerError?.["request-id"]);
});

test("no token, an unknown token and a revoked token are 401 InvalidAuthenticationToken", async (t) => {
  const h = await harness(t, DATA);
  const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
  const none = await call(h, url);
  assert.equal(none.status, 401);
  assert.equal(errorOf(none.json()).code, "InvalidAuthenticationToken");
  assert.match(String(none.headers["www-authenticate"]), /^Bearer /);
  assert.equal((await graphGet(h, url, "made-up")).status, 401);

  const bearer = await token(h);
  assert.equal((await graphGet(h, url, bearer)).status, 200);
  h.sim.revokeTokens();
  const revoked = await graphGet(h, url, bearer);
  assert.equal(revoked.status, 401, "revoked long before its expiry");
  assert.equal(errorOf(revoked.json()).code, "InvalidAuthenticationToken");
  const fresh = await token(h);
  assert.equal((await graphGet(h, url, fresh)).status, 200, "a fresh token works");
  assert.deepEqual(h.sim.stats().byStatus, { "200": 2, "401": 3 });
});

test("revokeTokensEveryRequests: every Nth Graph request finds its token revoked", async (t) => {
  const h = await harness(t, { ...DATA, faults: { revokeTokensEveryRequests: 3 } });
  const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
  let bearer = await token(h);
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    const reply = await graphGet(h, url, bearer);
    statuses.push(reply.status);
    if (reply.status === 401) bearer = await token(h);
  }
  assert.deepEqual(statuses, [200, 200, 401, 200, 200, 401, 200]);
  assert.equal(h.sim.stats().tokensIssued, 3);
});

test("429 with Retry-After in seconds; coming back early counts as a violation, on time does not", async (t) => {
  const clock = manualClock(T0);
  const h = await harness(t, { ...DATA, now: clock.now, faults: { throttleRate: 1, retryAfterSeconds: 2 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
  const first = await graphGet(h, url, bearer);
  assert.equal(first.status, 429);
  assert.equal(first.headers["retry-after"], "2");
  assert.equal(errorOf(first.json()).code, "TooManyRequests");
  clock.advance(1500);
  assert.equal((await graphGet(h, url, bearer)).status, 429);
  assert.equal(h.sim.stats().retryAfterViolations, 1, "back after 1.5 s of 2");
  clock.advance(2000);
  await graphGet(h, url, bearer);
  assert.equal(h.sim.stats().retryAfterViolations, 1, "back after the full 2 s");
  h.sim.setFaults({});
  clock.advance(2000);
  assert.equal((await graphGet(h, url, bearer)).status, 200, "faults can be lifted at run time");
  const stats = h.sim.stats();
  assert.equal(stats.throttled, 3);
  assert.deepEqual(stats.byStatus, { "200": 1, "429": 3 });
});

test("requests arriving right after a 429 may have been in flight: counted only past a short grace", async (t) => {
  const clock = manualClock(T0);
  const h = await harness(t, { ...DATA, now: clock.now, faults: { throttleRate: 1, retryAfterSeconds: 1 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
  assert.equal((await graphGet(h, url, bearer)).status, 429);
  clock.advance(50);
  await graphGet(h, url, bearer); // sent before the client could have read the 429
  assert.equal(h.sim.stats().retryAfterViolations, 0);
  clock.advance(500);
  await graphGet(h, url, bearer); // the wait began at T0: this one is back early
  assert.equal(h.sim.stats().retryAfterViolations, 1);
  clock.set(T0 + 1000);
  await graphGet(h, url, bearer); // told at T0+50 and T0+550 to wait 1 s: still early
  assert.equal(h.sim.stats().retryAfterViolations, 2);
  clock.set(T0 + 2000);
  await graphGet(h, url, bearer); // the 429 at T0+1000 said 1 s more: now every instruction has passed
  assert.equal(h.sim.stats().retryAfterViolations, 2);
});

test("Retry-After as an HTTP-date on the simulator's clock", async (t) => {
  const clock = manualClock(T0 + 250);
  const h = await harness(t, {
    ...DATA,
    now: clock.now,
    faults: { throttleRate: 1, retryAfterSeconds: 3, retryAfterHttpDate: true },
  });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
  const reply = await graphGet(h, url, bearer);
  assert.equal(reply.status, 429);
  const retryAt = Date.parse(String(reply.headers["retry-after"]));
  assert.match(String(reply.headers["retry-after"]), /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  assert.equal(retryAt, T0 + 4000, "now + 3 s, rounded up to the whole second");
  assert.equal(Date.parse(String(reply.headers.date)), T0, "the Date header is the simulator's clock");
  clock.set(retryAt - 100);
  await graphGet(h, url, bearer);
  assert.equal(h.sim.stats().retryAfterViolations, 1);
});

test("the budget: past N requests per window, 429 with Retry-After until a slot frees", async (t) => {
  const clock = manualClock(T0);
  const h = await harness(t, { ...DATA, now: clock.now, faults: { budget: { requests: 3, perMs: 10_000 } } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
  for (let i = 0; i < 3; i++) {
    assert.equal((await graphGet(h, url, bearer)).status, 200);
    clock.advance(1000);
  }
  // Requests at T0, T0+1s, T0+2s; at T0+3.5s the first slot frees at T0+10s: 6.5 s, rounded up.
  clock.set(T0 + 3500);
  const over = await graphGet(h, url, bearer);
  assert.equal(over.status, 429);
  assert.equal(errorOf(over.json()).code, "TooManyRequests");
  assert.equal(over.headers["retry-after"], "7");
  clock.set(T0 + 10_500);
  assert.equal((await graphGet(h, url, bearer)).status, 200, "a slot has freed");
  const again = await graphGet(h, url, bearer);
  assert.equal(again.status, 429, "and is taken again");
  assert.equal(again.headers["retry-after"], "1", "the next frees at T0+11s");
  assert.equal(h.sim.stats().retryAfterViolations, 0, "always back when told");
  clock.set(T0 + 11_000);
  assert.equal((await graphGet(h, url, bearer)).status, 200);
  assert.equal(h.sim.stats().throttled, 2);
});

test("503 alternates with and without Retry-After; 504 never carries one", async (t) => {
  const clock = manualClock(T0);
  const h = await harness(t, { ...DATA, now: clock.now, faults: { unavailableRate: 1 } });
  const bearer = await token(h);
  const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
  const retryAfters: (string | undefined)[] = [];
  for (let i = 0; i < 4; i++) {
    const reply = await graphGet(h, url, bearer);
    assert.equal(reply.status, 503);
    assert.equal(errorOf(reply.json()).code, "ServiceUnavailable");
    retryAfters.push(reply.headers["retry-after"] as string | undefined);
    clock.advance(1000);
  }
  assert.deepEqual(retryAfters, ["1", undefined, "1", undefined]);
  h.sim.setFaults({ gatewayTimeoutRate: 1 });
  const timeout = await graphGet(h, url, bearer);
  assert.equal(timeout.status, 504);
  assert.equal(timeout.headers["retry-after"], undefined);
  assert.equal(h.sim.stats().retryAfterViolations, 0);
  assert.deepEqual(h.sim.stats().byStatus, { "503": 4, "504": 1 });
});

test("fault rates are probabilities: about that share of requests fails, the same ones for the same seed", async (t) => {
  const run = async () => {
    const h = await harness(t, { ...DATA, seed: 21, faults: { throttleRate: 0.3, retryAfterSeconds: 0 } });
    const bearer = await token(h);
    const url = pstnUrl(h.sim, "2024-01-10", "2024-01-11");
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await graphGet(h, url, bearer)).status);
    return statuses;
  };
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  const throttled = a.filter((s) => s === 429).length;
  assert.ok(throttled >= 8 && throttled <= 30, `${throttled} of 60 throttled at 0.3`);
  assert.ok(a.every((s) => s === 200 || s === 429));
});

test("page latency delays the answer", async (t) => {
  const h = await harness(t, { ...DATA, faults: { pageLatencyMs: { min: 150, max: 150 } } });
  const bearer = await token(h);
  const started = performance.now();
  const reply = await graphGet(h, pstnUrl(h.sim, "2024-01-10", "2024-01-11"), bearer);
  assert.equal(reply.status, 200);
  assert.ok(performance.now() - started >= 140);
});

test("options are validated", async () => {
  await assert.rejects(startGraphSimulator({ ...DATA, callsPerHour: -1 }), /callsPerHour/);
  await assert.rejects(startGraphSimulator({ ...DATA, faults: { throttleRate: 2 } }), /throttleRate/);
  await assert.rejects(startGraphSimulator({ ...DATA, dataEnd: new Date("2020-01-01") }), /dataEnd/);
});
