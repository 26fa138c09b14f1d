import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, GRAPH_REFUSED_CODES, PstnError } from "../../../src/errors.js";
import { Metrics } from "../../../src/metrics/index.js";
import { Health } from "../../../src/pipeline/health.js";
import {
  failureCode,
  restartDelayMs,
  SessionFailures,
  UNHEALTHY_AFTER_FAILURES,
} from "../../../src/pipeline/restarts.js";

const MINUTE = 60_000;

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

describe("restart backoff", () => {
  test("doubles from 1 s per failure in a row, up to the maximum", () => {
    const top = () => 0.999_999_999;
    const schedule = Array.from({ length: 12 }, (_, i) => restartDelayMs(i + 1, 5 * MINUTE, top));
    assert.deepEqual(
      schedule,
      [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000],
    );
  });

  test("jitter stays within [half, all] of each step, and spreads", () => {
    for (let failures = 1; failures <= 20; failures++) {
      const ceiling = Math.min(5 * MINUTE, 1000 * 2 ** (failures - 1));
      const draws = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const wait = restartDelayMs(failures, 5 * MINUTE);
        assert.ok(wait >= ceiling / 2 && wait <= ceiling, `${failures} failures: ${wait} of ${ceiling}`);
        draws.add(wait);
      }
      assert.ok(draws.size > 20, `the waits after ${failures} failures vary`);
    }
    assert.equal(
      restartDelayMs(1, 5 * MINUTE, () => 0),
      500,
    );
    assert.equal(
      restartDelayMs(1_000_000, 5 * MINUTE, () => 0),
      150_000,
      "no overflow far along",
    );
  });

  test("a maximum below the first step caps every wait", () => {
    assert.equal(
      restartDelayMs(1, 300, () => 1),
      300,
    );
    assert.equal(
      restartDelayMs(9, 300, () => 1),
      300,
    );
  });
});

describe("session failures", () => {
  test("counted by code; /readyz false after repeated failures, true again after a success", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const health = readyHealth();
    const failures = new SessionFailures({ metrics, health, maxBackoffMs: 5 * MINUTE, random: () => 1 });
    const unavailable = new PstnError(ErrorCode.GRAPH_UNAVAILABLE, "down", { retriable: true });
    const waits: number[] = [];
    for (let i = 1; i < UNHEALTHY_AFTER_FAILURES; i++) {
      waits.push(failures.failed(unavailable));
      assert.equal(health.ready(), true, `still ready after ${i} failure(s)`);
    }
    waits.push(failures.failed(new Error("not ours")));
    assert.equal(health.ready(), false);
    assert.equal(health.snapshot().sessionFailing, "other");
    assert.deepEqual(waits, [1000, 2000, 4000]);
    assert.deepEqual(await failuresByCode(metrics), { PSTN_GRAPH_UNAVAILABLE: 2, other: 1 });

    failures.succeeded();
    assert.equal(health.ready(), true);
    assert.equal(health.snapshot().sessionFailing, null);
    assert.equal(failures.failed(unavailable), 1000, "a success starts the schedule again");
  });

  test("a refused Graph answer turns /readyz false at once", () => {
    for (const code of GRAPH_REFUSED_CODES) {
      const health = readyHealth();
      const failures = new SessionFailures({
        metrics: new Metrics({ defaultMetrics: false }),
        health,
        maxBackoffMs: MINUTE,
      });
      failures.failed(new PstnError(code, "refused"));
      assert.equal(health.ready(), false, code);
      assert.equal(health.snapshot().sessionFailing, code);
    }
    const health = readyHealth();
    const cause = new PstnError(ErrorCode.GRAPH_BODY_TOO_LARGE, "too large", { retriable: true });
    new SessionFailures({
      metrics: new Metrics({ defaultMetrics: false }),
      health,
      maxBackoffMs: MINUTE,
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
    const values = (await new Metrics({ defaultMetrics: false }).sessionFailures.get()).values;
    const codes = new Set(values.map((v) => v.labels.code));
    for (const code of [...Object.values(ErrorCode), "other"]) assert.ok(codes.has(code), code);
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
