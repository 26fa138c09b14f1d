import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, waitFor } from "../support/connector.js";
import { startTestStack, type TestStack } from "../support/stack.js";
import { SwitchProxy } from "../support/switch-proxy.js";

const DAY = 86_400_000;
let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

test("a schema registry outage at start-up delays publishing, one during the run does not stop it; nothing lost or doubled", async (t) => {
  const now = Date.now();
  const sim = await startGraphSimulator({
    seed: 61,
    clientSecret: "simulator-secret",
    dataStart: new Date(now - 10 * DAY),
    dataEnd: new Date(now + 10_000),
    callsPerHour: 60,
    live: { since: new Date(now), callsPerHour: 3_600 },
    pageSize: 200,
    faults: { pageLatencyMs: { min: 20, max: 40 } },
  });
  t.after(() => sim.close());
  const proxy = await SwitchProxy.start(stack.registryUrl);
  t.after(() => proxy.close());
  proxy.up = false;

  const env = connectorEnv(sim, stack, {
    SCHEMA_REGISTRY_URL: proxy.url,
    CONNECTOR_START: new Date(now - 10 * DAY).toISOString(),
    POLL_INTERVAL: "1s",
    LOOKBACK: "20s",
    GRAPH_MAX_REQUESTS_PER_MINUTE: "600",
  });
  const app = createTestApp(sim, env, { maxBatchRows: 500 });
  t.after(() => app.close());
  const stop = new AbortController();
  let failed: unknown;
  const running = app.source.run(stop.signal).catch((error: unknown) => {
    failed = error;
  });

  await waitFor("the connector to try the registry", () => proxy.requestsWhileDown > 0, 30_000);
  await sleep(2_000);
  assert.equal(app.source.stats.published, 0, "nothing is published before the schema is registered");
  assert.equal(app.health.snapshot().registry, false, "/readyz reports the registry");

  proxy.up = true;
  await waitFor("publishing after the registry is back", () => app.source.stats.published > 2000, 60_000);
  proxy.up = false;
  const duringOutage = app.source.stats.published;
  await waitFor(
    "publishing to go on while the registry is down again",
    () => app.source.stats.published > duringOutage + 1000,
    60_000,
  );
  await waitFor("the present", () => (app.source.stats.watermark?.getTime() ?? 0) > now + 15_000, 60_000);
  stop.abort();
  await running;
  assert.equal(failed, undefined);
  proxy.up = true;

  const truth = sim.visibleRows(undefined, undefined, "v1.0");
  await assertEachIdOnce(
    stack.brokers,
    env.KAFKA_TOPIC!,
    truth.map((row) => row.id as string),
  );
});
