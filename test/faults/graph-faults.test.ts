import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type SimulatorOptions, startGraphSimulator } from "../../tools/simulator/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, runUntil, waitFor } from "../support/connector.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;

type Faults = NonNullable<SimulatorOptions["faults"]>;

const CASES: ReadonlyArray<{ name: string; faults: Faults; storm?: Faults; injected?: string }> = [
  { name: "429 with Retry-After in seconds", faults: { throttleRate: 0.15, retryAfterSeconds: 1 } },
  {
    name: "429 with Retry-After as an HTTP-date",
    faults: { throttleRate: 0.25, retryAfterSeconds: 2, retryAfterHttpDate: true },
  },
  {
    name: "503 with and without Retry-After, and 504",
    faults: { unavailableRate: 0.2, gatewayTimeoutRate: 0.1 },
  },
  {
    name: "a 5xx storm",
    faults: { serverErrorRate: 0.05 },
    storm: { serverErrorRate: 1 },
    injected: "serverError",
  },
  { name: "a truncated JSON body", faults: { truncatedBodyRate: 0.2 }, injected: "truncated" },
  { name: "a connection reset mid-body", faults: { resetMidBodyRate: 0.2 }, injected: "reset" },
  {
    name: "a response slower than its timeout",
    faults: { stallRate: 0.15, stallMs: 2500 },
    injected: "stall",
  },
];

describe("Graph faults: no loss, no duplicate, Retry-After never violated", () => {
  let stack: TestStack;
  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
  });

  for (const [index, testCase] of CASES.entries()) {
    test(testCase.name, async (t) => {
      const now = Date.now();
      const sim = await startGraphSimulator({
        seed: 100 + index,
        clientSecret: "simulator-secret",
        dataStart: new Date(now - 4 * DAY),
        dataEnd: new Date(now + 4_000),
        callsPerHour: 40,
        live: { since: new Date(now), callsPerHour: 7_200 },
        visibilityDelayMs: { min: 0, max: 2_000 },
        pageSize: 100,
        faults: testCase.faults,
      });
      t.after(() => sim.close());
      const env = connectorEnv(sim, stack, {
        CONNECTOR_START: new Date(now - 4 * DAY).toISOString(),
        POLL_INTERVAL: "1s",
        LOOKBACK: "15s",
        WINDOW_SLICE: "1d",
        GRAPH_HEADERS_TIMEOUT: "1s",
        GRAPH_BODY_TIMEOUT: "1s",
        GRAPH_MAX_RETRIES: "20",
        GRAPH_MAX_REQUESTS_PER_MINUTE: "1200",
      });
      const app = createTestApp(sim, env);
      t.after(() => app.close());
      await runUntil(
        app,
        "the watermark to pass the last row's visibility",
        () => (app.source.stats.watermark?.getTime() ?? 0) > now + 8_000,
        90_000,
        async () => {
          if (!testCase.storm) return;
          await waitFor("some rows", () => app.source.stats.published > 200, 30_000);
          sim.setFaults(testCase.storm);
          await sleep(4_000);
          sim.setFaults(testCase.faults);
        },
      );
      const truth = sim.visibleRows(undefined, undefined, "v1.0");
      await assertEachIdOnce(
        stack.brokers,
        env.KAFKA_TOPIC!,
        truth.map((row) => row.id as string),
      );
      const stats = sim.stats();
      t.diagnostic(
        `rows ${truth.length}, requests ${stats.graphRequests}, by status ${JSON.stringify(stats.byStatus)}, injected ${JSON.stringify(stats.faultsInjected)}`,
      );
      assert.equal(stats.retryAfterViolations, 0, "Retry-After never violated");
      if (testCase.injected) {
        const injected = (stats.faultsInjected as unknown as Record<string, number>)[testCase.injected] ?? 0;
        assert.ok(injected > 0, `the simulator injected ${testCase.injected}`);
      } else {
        const faulted = Object.entries(stats.byStatus).filter(([code]) => code !== "200");
        assert.ok(faulted.length > 0, "the simulator answered with the fault");
      }
    });
  }
});
