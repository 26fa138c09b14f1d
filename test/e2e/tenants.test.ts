/**
 * Several tenants from CONNECTOR_TENANTS_FILE in one `run`: each tenant's rows reach its stream's
 * topics once, with the tenant in the `pstn.tenant` header and in the metrics' `tenant` label. A
 * tenant that cannot be read (here one Entra ID does not know) stops alone, with its reason in the
 * log, the metrics, /readyz and /status; the process stays up and ready, and the other tenant goes
 * on.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { request } from "undici";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { assertEachIdOnce, runFleet, waitFor } from "../support/connector.js";
import { uniqueName } from "../support/kafka.js";
import { sampleOf } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
const GONE = "gone.example.com";

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

test("two tenants from the file: one read exactly once with its tenant named, one that cannot be read stops alone", async (t) => {
  const now = Date.now();
  const sim = await startGraphSimulator({
    seed: 41,
    clientSecret: "simulator-secret",
    dataStart: new Date(now - 10 * DAY),
    dataEnd: new Date(now - 60_000),
    callsPerHour: 20,
  });
  t.after(() => sim.close());
  const dir = mkdtempSync(join(tmpdir(), "pstn-tenants-e2e-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tenants.yaml");
  writeFileSync(
    file,
    `tenants:\n  - id: ${sim.tenantId}\n    name: Main\n  - id: ${GONE}\n    name: Gone\n    streams: [pstn]\n`,
  );
  const { child, env, port } = await runFleet(t, sim, stack, file, {
    CONNECTOR_START: new Date(now - 10 * DAY).toISOString(),
    CONNECTOR_STREAMS: "pstn,directRouting",
    KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("direct-routing-calls"),
  });
  const metrics = async () => {
    const response = await request(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
    return (await response?.body.text()) ?? "";
  };
  const watermarkOf = (text: string, stream: string) =>
    sampleOf(
      text,
      `pstn_connector_watermark_timestamp_seconds{tenant="${sim.tenantId}",stream="${stream}"}`,
    ) ?? 0;
  await waitFor(
    "the main tenant's streams past the last row",
    async () => {
      const text = await metrics();
      return ["pstn", "directRouting"].every((stream) => watermarkOf(text, stream) * 1000 > now - 30_000);
    },
    120_000,
  );

  const text = await metrics();
  t.diagnostic(
    text
      .split("\n")
      .filter((line) => line.includes(GONE) && !line.endsWith(" 0"))
      .join("\n"),
  );
  assert.ok(
    (sampleOf(text, `pstn_connector_token_requests_total{tenant="${GONE}",outcome="error"}`) ?? 0) > 0,
    "the tenant Entra ID does not know shows in its token metrics",
  );
  assert.ok(
    (sampleOf(
      text,
      `pstn_connector_session_failures_total{tenant="${GONE}",stream="pstn",code="PSTN_AUTH_FAILED"}`,
    ) ?? 0) > 0,
  );
  const ready = await request(`http://127.0.0.1:${port}/readyz`);
  const body = (await ready.body.json()) as {
    dependencies: { streams: Record<string, { stopped?: string; graph: boolean | null }> };
  };
  assert.equal(ready.statusCode, 200, "the replica stays ready: the other tenant is read");
  assert.equal(body.dependencies.streams[`${GONE}/pstn`]?.stopped, "PSTN_AUTH_FAILED");
  assert.equal(body.dependencies.streams[`${sim.tenantId}/pstn`]?.graph, true);
  const status = (await (await request(`http://127.0.0.1:${port}/status`)).body.json()) as {
    replica: string;
    units: Array<{
      tenant: string;
      name: string;
      stream: string;
      state: string;
      owner: string;
      slot?: number;
      lastFailure: string | null;
      watermark: string | null;
    }>;
  };
  assert.deepEqual(
    status.units.map((unit) => [unit.tenant, unit.name, unit.stream, unit.state, unit.lastFailure]),
    [
      [sim.tenantId, "Main", "pstn", "active", null],
      [sim.tenantId, "Main", "directRouting", "active", null],
      [GONE, "Gone", "pstn", "stopped", "PSTN_AUTH_FAILED"],
    ],
  );
  assert.equal(status.units[0]?.owner, status.replica, "this replica reads the main tenant");
  for (const unit of status.units)
    assert.ok(
      Number.isInteger(unit.slot) && (unit.slot ?? -1) >= 0 && (unit.slot ?? 99) < 24,
      "each unit names its slot",
    );
  assert.ok(Date.parse(status.units[0]?.watermark ?? "") > now - 30_000);
  assert.equal(child.child.exitCode, null, "the process is still running");
  assert.match(child.stderr, /tenant stopped/);
  assert.ok(!child.stderr.includes("simulator-secret"), "no secret in the log");

  child.kill("SIGTERM");
  const exit = await child.done;
  assert.equal(exit.code, 0, exit.stderr.slice(-1000));

  for (const [stream, topic] of [
    ["pstn", env.KAFKA_TOPIC as string],
    ["directRouting", env.KAFKA_TOPIC_DIRECT_ROUTING as string],
  ] as const) {
    const truth = sim.streams[stream].visibleRows(undefined, undefined, "v1.0");
    assert.ok(truth.length > 500, `${stream}: ${truth.length} rows`);
    const records = await assertEachIdOnce(
      stack.brokers,
      topic,
      truth.map((row) => String(row.id)),
    );
    const tenants = new Set(
      records.map((record) => record.headers?.find(([name]) => name === "pstn.tenant")?.[1]?.toString()),
    );
    assert.deepEqual([...tenants], [sim.tenantId], `${stream}: every record names its tenant`);
  }
});

test("the tenants file edited while running: a tenant added starts, one removed stops, one added back resumes; each row once", async (t) => {
  const now = Date.now();
  const OTHER = "fabrikam.example.com";
  const sim = await startGraphSimulator({
    seed: 43,
    clientSecret: "simulator-secret",
    dataStart: new Date(now - 5 * DAY),
    dataEnd: new Date(now - 60_000),
    callsPerHour: 20,
    tenants: [{ tenantId: OTHER, callsPerHour: 10 }],
  });
  t.after(() => sim.close());
  const dir = mkdtempSync(join(tmpdir(), "pstn-tenants-reload-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tenants.yaml");
  const write = (ids: string[]) =>
    writeFileSync(file, `tenants:\n${ids.map((id) => `  - id: ${id}\n`).join("")}`);
  write([sim.tenantId]);
  const { child, env, port } = await runFleet(t, sim, stack, file, {
    CONNECTOR_START: new Date(now - 5 * DAY).toISOString(),
    CONNECTOR_TENANTS_RELOAD_INTERVAL: "500ms",
  });
  type Unit = { tenant: string; state: string; watermark: string | null };
  const units = async (): Promise<Unit[]> => {
    const response = await request(`http://127.0.0.1:${port}/status`).catch(() => undefined);
    if (response?.statusCode !== 200) return [];
    return ((await response.body.json()) as { units: Unit[] }).units;
  };
  const live = (unit: Unit | undefined) => Date.parse(unit?.watermark ?? "") > now - 30_000;
  await waitFor("the first tenant live", async () => live((await units())[0]), 60_000);

  write([OTHER]);
  await waitFor(
    "the first tenant removed, the other one added and live",
    async () => {
      const now = await units();
      return now.length === 1 && now[0]?.tenant === OTHER && live(now[0]);
    },
    60_000,
  );
  write([OTHER, sim.tenantId]);
  await waitFor(
    "the first tenant back and live again",
    async () => {
      const now = await units();
      return now.length === 2 && now.every(live);
    },
    60_000,
  );
  child.kill("SIGTERM");
  const exit = await child.done;
  assert.equal(exit.code, 0, exit.stderr.slice(-1000));

  const expected = [
    ...sim.visibleRows(undefined, undefined, "v1.0").map((row) => [String(row.id), sim.tenantId]),
    ...sim
      .tenant(OTHER)
      .visibleRows(undefined, undefined, "v1.0")
      .map((row) => [String(row.id), OTHER]),
  ];
  const records = await assertEachIdOnce(
    stack.brokers,
    env.KAFKA_TOPIC as string,
    expected.map(([id]) => id as string),
  );
  const tenantOf = new Map(expected.map(([id, tenant]) => [id, tenant]));
  for (const record of records) {
    const header = record.headers?.find(([name]) => name === "pstn.tenant")?.[1]?.toString();
    assert.equal(header, tenantOf.get(record.key?.toString() ?? ""), `record ${record.key} names its tenant`);
  }
});
