import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { CliProcess, cleanEnv } from "../support/cli.js";
import { assertEachIdOnce, connectorEnv } from "../support/connector.js";
import { freePort, scrapeMetric, waitForMetric, writeCaFile } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

test("two instances with the same identity: one publishes, the other stands by and finishes the work when the first is killed", async (t) => {
  const now = Date.now();
  const liveUntil = now + 25_000;
  const sim = await startGraphSimulator({
    seed: 31,
    clientSecret: "simulator-secret",
    dataStart: new Date(now - 30 * DAY),
    dataEnd: new Date(liveUntil),
    callsPerHour: 60,
    live: { since: new Date(now), callsPerHour: 3_600 },
    visibilityDelayMs: { min: 0, max: 3_000 },
    pageSize: 200,
    faults: { pageLatencyMs: { min: 30, max: 60 } },
  });
  t.after(() => sim.close());
  const caFile = await writeCaFile(sim.caCertificatePem);
  const base = connectorEnv(sim, stack, {
    CONNECTOR_START: new Date(now - 30 * DAY).toISOString(),
    POLL_INTERVAL: "1s",
    LOOKBACK: "20s",
    GRAPH_MAX_REQUESTS_PER_MINUTE: "600",
    CONNECTOR_FAILOVER_TIMEOUT: "2s",
  });
  const ports = [await freePort(), await freePort()];
  const instances = ports.map(
    (port) =>
      new CliProcess(["run"], cleanEnv({ ...base, METRICS_PORT: String(port), NODE_EXTRA_CA_CERTS: caFile })),
  );
  t.after(() => {
    for (const instance of instances) instance.kill("SIGKILL");
  });

  // Exactly one becomes active; the other publishes nothing while it stands by.
  const activeIndex = await Promise.race(
    ports.map((port, i) =>
      waitForMetric(port, "pstn_connector_rows_published_total", (v) => v > 2000, 60_000, instances[i]).then(
        () => i,
      ),
    ),
  );
  const standbyIndex = 1 - activeIndex;
  assert.equal(await scrapeMetric(ports[activeIndex]!, "pstn_connector_active"), 1);
  assert.equal(await scrapeMetric(ports[standbyIndex]!, "pstn_connector_active"), 0);
  assert.equal(await scrapeMetric(ports[standbyIndex]!, "pstn_connector_rows_published_total"), 0);

  // A replica joining later stands by too: the election keeps the active role where it is.
  const latePort = await freePort();
  const late = new CliProcess(
    ["run"],
    cleanEnv({ ...base, METRICS_PORT: String(latePort), NODE_EXTRA_CA_CERTS: caFile }),
  );
  t.after(() => late.kill("SIGKILL"));
  await waitForMetric(latePort, "pstn_connector_active", (v) => v === 0, 30_000, late);
  await sleep(4_000);
  assert.equal(
    await scrapeMetric(ports[activeIndex]!, "pstn_connector_active"),
    1,
    "still active after a join",
  );
  assert.equal(await scrapeMetric(latePort, "pstn_connector_active"), 0);
  late.kill("SIGTERM");
  assert.equal((await late.done).code, 0);

  const killedAt = Date.now();
  instances[activeIndex]!.kill("SIGKILL");
  await instances[activeIndex]!.done;
  await waitForMetric(
    ports[standbyIndex]!,
    "pstn_connector_active",
    (v) => v === 1,
    30_000,
    instances[standbyIndex],
  );
  const tookOverMs = Date.now() - killedAt;
  await waitForMetric(
    ports[standbyIndex]!,
    "pstn_connector_watermark_timestamp_seconds",
    (v) => v * 1000 > liveUntil + 5_000,
    120_000,
    instances[standbyIndex],
  );
  const survivorPublished =
    (await scrapeMetric(ports[standbyIndex]!, "pstn_connector_rows_published_total")) ?? 0;
  instances[standbyIndex]!.kill("SIGTERM");
  const exit = await instances[standbyIndex]!.done;
  assert.equal(exit.code, 0, exit.stderr.slice(-1500));

  const truth = sim.visibleRows(undefined, undefined, "v1.0");
  await assertEachIdOnce(
    stack.brokers,
    base.KAFKA_TOPIC!,
    truth.map((row) => row.id as string),
  );
  assert.ok(survivorPublished > 0, "the survivor finished the work");
  t.diagnostic(
    `rows ${truth.length}; standby took over ${tookOverMs} ms after the kill; it then published ${survivorPublished}`,
  );
});
