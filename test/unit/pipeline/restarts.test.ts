import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, GRAPH_REFUSED_CODES, PstnError } from "../../../src/errors.js";
import { createLogger } from "../../../src/log.js";
import { Health } from "../../../src/metrics/health.js";
import { Metrics } from "../../../src/metrics/index.js";
import {
  failureCode,
  retrySessions,
  SessionFailures,
  UNHEALTHY_AFTER_FAILURES,
} from "../../../src/pipeline/restarts.js";

function readyHealth(): Health {
  const health = new Health();
  for (const d of ["token", "graph", "kafka", "registry"] as const) health.set(d, true);
  return health;
}

async function failuresByCode(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.sessionFailures.get()).values) {
    if (v.value > 0) out[String(v.labels.code)] = v.value;
  }
  return out;
}

const silent = createLogger("silent");

/** retrySessions with short waits, recording when each session started. */
async function retried(
  failures: readonly unknown[],
  options: { firstBackoffMs: number; maxBackoffMs: number; signal?: AbortSignal },
) {
  const metrics = new Metrics({ defaultMetrics: false });
  const health = readyHealth();
  const starts: number[] = [];
  const ended: unknown[] = [];
  const pending = [...failures];
  const outcome = await retrySessions(
    async () => {
      starts.push(performance.now());
      if (pending.length > 0) throw pending.shift();
      return "done";
    },
    {
      ...options,
      signal: options.signal ?? new AbortController().signal,
      metrics: metrics.forStream("pstn"),
      health,
      logger: silent,
      what: "poll",
      onFailure: async (error) => {
        ended.push(error);
      },
    },
  ).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const waits = starts.slice(1).map((at, k) => at - (starts[k] as number));
  return { outcome, waits, ended, metrics, health, starts };
}

const unavailable = new PstnError(ErrorCode.GRAPH_UNAVAILABLE, "down", { retriable: true });

describe("session retries", () => {
  test("a new session after each failure, waits doubling with jitter in [half, all] of each step, up to the maximum", async () => {
    const { outcome, waits, ended } = await retried(Array(6).fill(unavailable), {
      firstBackoffMs: 40,
      maxBackoffMs: 400,
    });
    assert.deepEqual(outcome, { value: "done" });
    assert.equal(ended.length, 6, "each failed session is ended before the wait");
    const ceilings = [40, 80, 160, 320, 400, 400];
    waits.forEach((wait, k) => {
      const ceiling = ceilings[k] as number;
      // Timers fire late, never early; allow a little scheduling slack above.
      assert.ok(
        wait >= ceiling / 2 - 2 && wait <= ceiling + 60,
        `wait ${k + 1}: ${wait} ms for a step of ${ceiling}`,
      );
    });
  });

  test("a final error ends the loop at once, counted, without a wait", async () => {
    const fenced = new PstnError(ErrorCode.KAFKA_FENCED, "taken over", { final: true });
    const { outcome, starts, metrics } = await retried([unavailable, fenced], {
      firstBackoffMs: 10,
      maxBackoffMs: 10,
    });
    assert.deepEqual(outcome, { error: fenced });
    assert.equal(starts.length, 2);
    assert.deepEqual(await failuresByCode(metrics), { PSTN_GRAPH_UNAVAILABLE: 1, PSTN_KAFKA_FENCED: 1 });
  });

  test("any other error, a TypeError too, starts a new session", async () => {
    const { outcome, starts } = await retried(
      [new TypeError("undefined is not a function"), new Error("x")],
      {
        firstBackoffMs: 2,
        maxBackoffMs: 2,
      },
    );
    assert.deepEqual(outcome, { value: "done" });
    assert.equal(starts.length, 3);
  });

  test("aborting the signal stops the wait at once", async () => {
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error("stopping")), 50);
    const began = performance.now();
    const { outcome, starts } = await retried(Array(3).fill(unavailable), {
      firstBackoffMs: 60_000,
      maxBackoffMs: 60_000,
      signal: stop.signal,
    });
    assert.ok("error" in outcome);
    assert.equal(starts.length, 1);
    assert.ok(performance.now() - began < 5_000, "not the minute's wait");
  });

  test("/readyz false after repeated failures, true again once a session succeeds", async () => {
    const { health, metrics } = await retried(Array(UNHEALTHY_AFTER_FAILURES).fill(unavailable), {
      firstBackoffMs: 2,
      maxBackoffMs: 2,
    });
    assert.equal(health.ready(), true);
    assert.equal(health.snapshot().sessionFailing, null);
    assert.deepEqual(await failuresByCode(metrics), { PSTN_GRAPH_UNAVAILABLE: UNHEALTHY_AFTER_FAILURES });
  });
});

describe("session failures", () => {
  test("counted by code; /readyz false after repeated failures, true again after a success", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const health = readyHealth();
    const failures = new SessionFailures({ metrics: metrics.forStream("pstn"), health });
    for (let i = 1; i < UNHEALTHY_AFTER_FAILURES; i++) {
      failures.failed(unavailable);
      assert.equal(health.ready(), true, `still ready after ${i} failure(s)`);
    }
    failures.failed(new Error("not ours"));
    assert.equal(health.ready(), false);
    assert.equal(health.snapshot().sessionFailing, "other");
    assert.deepEqual(await failuresByCode(metrics), { PSTN_GRAPH_UNAVAILABLE: 2, other: 1 });

    failures.succeeded();
    assert.equal(health.ready(), true);
    assert.equal(health.snapshot().sessionFailing, null);
    for (let i = 1; i < UNHEALTHY_AFTER_FAILURES; i++) failures.failed(unavailable);
    assert.equal(health.ready(), true, "a success starts the count again");
  });

  test("a refused Graph answer turns /readyz false at once", () => {
    for (const code of GRAPH_REFUSED_CODES) {
      const health = readyHealth();
      const failures = new SessionFailures({
        metrics: new Metrics({ defaultMetrics: false }).forStream("pstn"),
        health,
      });
      failures.failed(new PstnError(code, "refused"));
      assert.equal(health.ready(), false, code);
      assert.equal(health.snapshot().sessionFailing, code);
    }
    const health = readyHealth();
    const cause = new PstnError(ErrorCode.GRAPH_BODY_TOO_LARGE, "too large", { retriable: true });
    new SessionFailures({
      metrics: new Metrics({ defaultMetrics: false }).forStream("pstn"),
      health,
    }).failed(new PstnError(ErrorCode.GRAPH_RETRIES_EXHAUSTED, "gave up", { cause }));
    assert.equal(health.snapshot().sessionFailing, ErrorCode.GRAPH_BODY_TOO_LARGE, "also as the last cause");
  });

  test("a standby replica stays ready while the active's sessions failed before", () => {
    const health = readyHealth();
    health.setSessionFailing(ErrorCode.GRAPH_RETRIES_EXHAUSTED);
    assert.equal(health.ready(), false);
    health.setRole("standby");
    assert.equal(health.ready(), true);
  });

  test("every code is exported at 0 from the start, so that a first failure is an increase", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.forStream("pstn");
    metrics.forStream("sms");
    const values = (await metrics.sessionFailures.get()).values;
    for (const stream of ["pstn", "sms"]) {
      const codes = new Set(values.filter((v) => v.labels.stream === stream).map((v) => v.labels.code));
      for (const code of [...Object.values(ErrorCode), "other"])
        assert.ok(codes.has(code), `${stream} ${code}`);
    }
    assert.ok(values.every((v) => v.value === 0));
  });

  test("the label of exhausted retries is what kept failing; bounded otherwise", () => {
    const cause = new PstnError(ErrorCode.GRAPH_BAD_RESPONSE, "not JSON", { retriable: true });
    const exhausted = new PstnError(ErrorCode.GRAPH_RETRIES_EXHAUSTED, "gave up", { cause });
    assert.equal(failureCode(exhausted), ErrorCode.GRAPH_BAD_RESPONSE);
    assert.equal(
      failureCode(new PstnError(ErrorCode.GRAPH_RETRIES_EXHAUSTED, "gave up")),
      "PSTN_GRAPH_RETRIES_EXHAUSTED",
    );
    assert.equal(failureCode(new TypeError("x is undefined")), "other");
    assert.equal(failureCode("a string"), "other");
  });
});
