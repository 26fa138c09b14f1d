/**
 * Many tenants over many replicas: 50 tenants × 2 streams on three `run` replicas sharing the
 * slots of one deployment. One replica is killed (SIGKILL), one is added, one is removed (SIGTERM)
 * while history and live rows are read. Kafka's Java consumer (read_committed) then finds every
 * row of every unit once, with its tenant, and nothing else; the failover is timed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { request } from "undici";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { CliProcess, cleanEnv } from "../support/cli.js";
import { assertEachIdOnce, connectorEnv, waitFor } from "../support/connector.js";
import { type ReadRecord, readTopicWithJava } from "../support/java-reader.js";
import { uniqueName } from "../support/kafka.js";
import { freePort, writeCaFile } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
const TENANTS = 50;
const SLOTS = 12;
const FAILOVER_TIMEOUT_MS = 3_000;

let stack: TestStack;
before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

interface Replica {
  name: string;
  port: number;
  child: CliProcess;
}

/** Every sample of one metric on a replica's /metrics, with its labels; empty when unreachable. */
async function samples(
  port: number,
  metric: string,
): Promise<Array<{ labels: Record<string, string>; value: number }>> {
  try {
    const response = await request(`http://127.0.0.1:${port}/metrics`, {
      headersTimeout: 2000,
      bodyTimeout: 2000,
    });
    const text = await response.body.text();
    return text.split("\n").flatMap((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match?.[1] !== metric) return [];
      const labels = Object.fromEntries(
        [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [
          pair[1] as string,
          pair[2] as string,
        ]),
      );
      return [{ labels, value: Number(match[3]) }];
    });
  } catch {
    return [];
  }
}

async function slotsHeld(replica: Replica): Promise<number> {
  return (await samples(replica.port, "pstn_connector_slots_held"))[0]?.value ?? 0;
}

test("3 replicas × 50 tenants × 2 streams: kill one, add one, remove one; every row of every unit once", async (t) => {
  const now = Date.now();
  const liveUntil = now + 50_000;
  const ids = Array.from(
    { length: TENANTS - 1 },
    (_, i) => `tenant-${String(i + 1).padStart(2, "0")}.example.com`,
  );
  const sim = await startGraphSimulator({
    seed: 71,
    clientSecret: "simulator-secret",
    dataStart: new Date(now - 2 * DAY),
    dataEnd: new Date(liveUntil),
    callsPerHour: 6,
    directRoutingCallsPerHour: 4,
    live: { since: new Date(now), callsPerHour: 720 },
    visibilityDelayMs: { min: 0, max: 2_000 },
    tenants: ids.map((tenantId) => ({ tenantId })),
  });
  t.after(() => sim.close());
  const dir = mkdtempSync(join(tmpdir(), "pstn-replicas-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tenants.yaml");
  writeFileSync(
    file,
    `tenants:\n${[sim.tenantId, ...ids].map((id) => `  - id: ${id}\n    streams: [pstn, directRouting]\n`).join("")}`,
  );
  const base = connectorEnv(sim, stack, {
    CONNECTOR_START: new Date(now - 2 * DAY).toISOString(),
    CONNECTOR_TENANTS_FILE: file,
    CONNECTOR_STREAMS: "pstn,directRouting",
    KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("direct-routing-calls"),
    KAFKA_SLOTS_TOPIC: uniqueName("slots"),
    CONNECTOR_SLOTS: String(SLOTS),
    CONNECTOR_FAILOVER_TIMEOUT: `${FAILOVER_TIMEOUT_MS}ms`,
    POLL_INTERVAL: "2s",
    LOOKBACK: "30s",
    // Slots opened, states restored and writers fenced are info lines: a failure explains itself.
    LOG_LEVEL: "info",
  });
  delete base.AZURE_TENANT_ID;
  const caFile = await writeCaFile(sim.caCertificatePem);
  const replicas: Replica[] = [];
  const start = async (name: string): Promise<Replica> => {
    const port = await freePort();
    const child = new CliProcess(
      ["run"],
      cleanEnv({ ...base, METRICS_PORT: String(port), NODE_EXTRA_CA_CERTS: caFile }),
    );
    const replica = { name, port, child };
    replicas.push(replica);
    return replica;
  };
  t.after(async () => {
    for (const { child } of replicas) child.kill("SIGKILL");
    await Promise.all(replicas.map(({ child }) => child.done));
  });
  /** Waits until `holders` hold every slot between them, each at least one; returns the time it took. */
  const settled = async (what: string, holders: Replica[], since: number): Promise<number> => {
    await waitFor(
      what,
      async () => {
        const held = await Promise.all(holders.map(slotsHeld));
        return held.reduce((sum, n) => sum + n, 0) === SLOTS && held.every((n) => n > 0);
      },
      60_000,
    );
    return Date.now() - since;
  };
  const published = async (holders: Replica[]) =>
    (
      await Promise.all(
        holders.map(async ({ port }) =>
          (await samples(port, "pstn_connector_rows_published_total")).reduce((sum, s) => sum + s.value, 0),
        ),
      )
    ).reduce((sum, n) => sum + n, 0);

  const [r1, r2, r3] = [await start("r1"), await start("r2"), await start("r3")];
  const startedAt = Date.now();
  const spreadMs = await settled("three replicas to share the slots", [r1!, r2!, r3!], startedAt);
  const firstHeld = await Promise.all([r1!, r2!, r3!].map(slotsHeld));
  await waitFor(
    "rows published by the three",
    async () => (await published([r1!, r2!, r3!])) > 5_000,
    120_000,
  );

  const killedAt = Date.now();
  r1!.child.kill("SIGKILL");
  await r1!.child.done;
  const failoverMs = await settled("the survivors to take the killed replica's slots", [r2!, r3!], killedAt);

  const r4 = await start("r4");
  const joinedAt = Date.now();
  const joinMs = await settled("a new replica to take a share", [r2!, r3!, r4], joinedAt);

  const removedAt = Date.now();
  r2!.child.kill("SIGTERM");
  const removed = await r2!.child.done;
  assert.equal(removed.code, 0, removed.stderr.slice(-1500));
  const handOffMs = await settled("the others to take a removed replica's slots", [r3!, r4], removedAt);

  // Every unit's watermark past the live rows' end, on whichever replica reads it now.
  const units = [sim.tenantId, ...ids].flatMap((tenant) =>
    ["pstn", "directRouting"].map((stream) => `${tenant.toLowerCase()}/${stream}`),
  );
  await waitFor(
    "every unit's watermark past the live rows",
    async () => {
      const marks = new Map<string, number>();
      for (const replica of [r3!, r4])
        for (const { labels, value } of await samples(
          replica.port,
          "pstn_connector_watermark_timestamp_seconds",
        )) {
          const unit = `${labels.tenant}/${labels.stream}`;
          marks.set(unit, Math.max(marks.get(unit) ?? 0, value * 1000));
        }
      return units.every((unit) => (marks.get(unit) ?? 0) > liveUntil + 3_000);
    },
    180_000,
  );
  for (const replica of [r3!, r4]) {
    replica.child.kill("SIGTERM");
    const exit = await replica.child.done;
    assert.equal(exit.code, 0, exit.stderr.slice(-1500));
  }

  // Each topic: every row of every tenant once, nothing else, each with its own tenant's header.
  const truths = {
    pstn: { topic: base.KAFKA_TOPIC as string, rows: new Map<string, string>() },
    directRouting: { topic: base.KAFKA_TOPIC_DIRECT_ROUTING as string, rows: new Map<string, string>() },
  };
  for (const tenant of [sim.tenantId, ...ids]) {
    const streams = tenant === sim.tenantId ? sim.streams : sim.tenant(tenant).streams;
    for (const row of streams.pstn.visibleRows(undefined, undefined, "v1.0"))
      truths.pstn.rows.set(String(row.id), tenant.toLowerCase());
    for (const row of streams.directRouting.visibleRows(undefined, undefined, "v1.0"))
      truths.directRouting.rows.set(String(row.id), tenant.toLowerCase());
  }
  const counts: string[] = [];
  for (const [stream, { topic, rows }] of Object.entries(truths)) {
    const records = await assertEachIdOnce(stack.brokers, topic, [...rows.keys()], 120_000).catch(
      async (error: unknown) => {
        t.diagnostic(await duplicatesDigest(stack, topic, rows.size, replicas, stream));
        throw error;
      },
    );
    const wrongTenant = records.filter((record) => {
      const header = record.headers?.find(([name]) => name === "pstn.tenant")?.[1]?.toString();
      return header !== rows.get(String(record.key));
    });
    assert.equal(wrongTenant.length, 0, `${stream}: records whose pstn.tenant is not their row's tenant`);
    counts.push(`${stream} ${records.length}`);
  }
  const logged = (text: string) =>
    replicas.map((r) => `${r.name} ${(r.child.stdout + r.child.stderr).split(text).length - 1}`).join(", ");
  t.diagnostic(
    `slot writers fenced by another replica: ${logged("another replica opened this slot")}; failed transactions: ${logged("a transaction of this slot failed")}`,
  );
  t.diagnostic(
    `${TENANTS} tenants × 2 streams, ${SLOTS} slots: first spread ${firstHeld.join("/")} in ${spreadMs} ms; ` +
      `after SIGKILL the survivors held every slot in ${failoverMs} ms (CONNECTOR_FAILOVER_TIMEOUT ${FAILOVER_TIMEOUT_MS} ms); ` +
      `a new replica took its share in ${joinMs} ms; a removed one's slots moved in ${handOffMs} ms; ` +
      `rows read back (Java, read_committed) once each: ${counts.join(", ")}`,
  );
  assert.ok(failoverMs < FAILOVER_TIMEOUT_MS + 15_000, `failover took ${failoverMs} ms`);
});

/**
 * For a topic holding a row twice: where each copy of the first duplicated rows lies, and what each
 * replica logged about their unit's slot (opened, restored, fenced, failed) around it.
 */
async function duplicatesDigest(
  stack: TestStack,
  topic: string,
  expected: number,
  replicas: readonly Replica[],
  stream: string,
): Promise<string> {
  const { records } = await readTopicWithJava(stack.brokers, topic, {
    expected,
    timeoutMs: 60_000,
    settleMs: 2000,
  });
  const copies = new Map<string, ReadRecord[]>();
  for (const record of records) {
    const key = record.key?.toString() ?? "";
    copies.set(key, [...(copies.get(key) ?? []), record]);
  }
  const doubled = [...copies].filter(([, list]) => list.length > 1);
  const lines = [`${topic}: ${doubled.length} rows more than once`];
  const tenants = new Set<string>();
  for (const [key, list] of doubled.slice(0, 5)) {
    const tenant = list[0]?.headers.find(([name]) => name === "pstn.tenant")?.[1]?.toString() ?? "?";
    tenants.add(tenant);
    lines.push(`  ${key} (${tenant}): ${list.map((r) => `p${r.partition}@${r.offset}`).join(", ")}`);
  }
  const byTenant = new Map<string, number>();
  for (const [, list] of doubled) {
    const tenant = list[0]?.headers.find(([name]) => name === "pstn.tenant")?.[1]?.toString() ?? "?";
    byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + 1);
  }
  lines.push(`  by tenant: ${JSON.stringify(Object.fromEntries(byTenant))}`);
  const wanted = [...tenants].map((tenant) => `${tenant}/${stream}/`);
  for (const replica of replicas) {
    const logged = (replica.child.stdout + replica.child.stderr)
      .split("\n")
      .filter(
        (line) =>
          wanted.some((identity) => line.includes(identity)) ||
          /slots opened|another replica opened|a transaction of this slot failed|opening slots failed/.test(
            line,
          ),
      )
      .slice(-40)
      .map((line) => `  ${replica.name} ${line.slice(0, 400)}`);
    lines.push(...logged);
  }
  return lines.join("\n");
}
