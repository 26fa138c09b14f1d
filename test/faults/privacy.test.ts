/**
 * Issue 17's two guarantees under faults, with `pstn-connector run` as a child process and the
 * outputs read back by readers that are not this project's client: every output of a row is in the
 * row's transaction (a crash loop counts the raw and the SIEM output alike, and they hold the same
 * ids), and a key rotation (policy v1/k1 → v2/k2, restarted while rows keep arriving) neither loses
 * nor doubles a row, each row's tokens being of the key it was committed under.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FetchIsolationLevels, ListOffsetTimestamps } from "@platformatic/kafka";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { type AvroRecord, readAvroWithJava, readAvroWithPython } from "../support/avro-readers.js";
import { CliProcess, cleanEnv } from "../support/cli.js";
import { connectorEnv } from "../support/connector.js";
import {
  checkSiemRecord,
  countKeys,
  crashLoop,
  SIEM_HASHED,
  seeded,
  siemPolicy,
  siemTopic,
  streamTruth,
  topicsOf,
  waitForWatermark,
} from "../support/crash-loop.js";
import { testKafka } from "../support/kafka.js";
import { freePort, waitForMetric, writeCaFile } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;

describe("privacy policy under faults (issue 17)", () => {
  let stack: TestStack;
  const dir = mkdtempSync(join(tmpdir(), "pstn-privacy-faults-"));

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("SIGKILL during a backfill and during live polling, two streams with a raw and a SIEM output each: both hold every row once, the same ids, the SIEM tokens HMACs of the key", async (t) => {
    const streams = ["pstn", "sms"] as const;
    const started = Date.now();
    const result = await crashLoop({
      stack,
      streams: [...streams],
      privacy: true,
      backfillKills: 2,
      liveKills: 2,
      // Enough history that the backfill outlasts two instances (Graph's pacing alone makes it take
      // seconds), small enough that the reads stay short.
      historyDays: 10,
      callsPerHour: 50,
      seed: Number(process.env.CRASH_SEED ?? 17),
      log: (line) => t.diagnostic(line),
    });
    t.diagnostic(JSON.stringify({ ...result, kills: result.kills.length }));
    assert.equal(result.kills.length, 4);
    assert.deepEqual(
      result.kills.map((k) => k.phase),
      ["backfill", "backfill", "live", "live"],
    );
    // The first kill lands in the backfill: no window read yet, or only old ones.
    const first = result.kills[0]?.watermark;
    assert.ok(
      first === null || Date.parse(first ?? "") < started - 3_600_000,
      `first kill at watermark ${first}`,
    );
    for (const stream of streams) {
      const raw = result.streams[stream];
      const siem = result.siem?.[stream];
      assert.ok(raw && siem, `${stream}: both outputs counted`);
      assert.ok(raw.rowsExpected > 300, `${stream}: ${raw.rowsExpected} rows`);
      for (const [output, count] of [
        ["raw", raw],
        ["siem", siem],
      ] as const) {
        assert.deepEqual(
          { stream, output, duplicates: count.duplicates, missing: count.missing, extra: count.extra },
          { stream, output, duplicates: 0, missing: 0, extra: 0 },
        );
        assert.equal(count.rowsOnTopic, count.rowsExpected, `${stream} ${output}`);
      }
      assert.deepEqual(
        { stream, onlyInRaw: siem.onlyInRaw, onlyInSiem: siem.onlyInSiem },
        { stream, onlyInRaw: 0, onlyInSiem: 0 },
        "the two outputs of a stream hold the same ids",
      );
      assert.deepEqual(siem.problems, [], `${stream}: ${siem.problemCount} problems`);
      assert.ok(siem.decoded >= siem.rowsExpected, `${stream}: ${siem.decoded} SIEM records decoded`);
      // Every row has a number or two and a UPN: most of its hashed fields carry a token.
      assert.ok(siem.tokensChecked > 2 * siem.decoded, `${stream}: ${siem.tokensChecked} tokens checked`);
    }
    // The sums count each row once per output.
    assert.equal(
      result.rowsExpected,
      2 * streams.reduce((sum, s) => sum + (result.streams[s]?.rowsExpected ?? 0), 0),
    );
    assert.deepEqual(
      { duplicates: result.duplicates, missing: result.missing, extra: result.extra },
      { duplicates: 0, missing: 0, extra: 0 },
    );
    assert.equal(result.retryAfterViolations, 0);
  });

  test("key rotation while live (v1/k1 → v2/k2, SIGTERM then a SIGKILL of the first v2 instance): every row once in each output, each with the key and version it was committed under", async (t) => {
    const started = Date.now();
    const liveSince = started + 4_000;
    const maxDelayMs = 3_000;
    const sim = await startGraphSimulator({
      seed: 29,
      clientSecret: "simulator-secret",
      dataStart: new Date(started - 2 * DAY),
      callsPerHour: 30,
      // Two calls a second from `liveSince` on, up to 3 s late, never stopping: the rotation lands
      // while rows arrive, and rows keep arriving while each instance starts.
      live: { since: new Date(liveSince), callsPerHour: 7_200 },
      visibilityDelayMs: { min: 0, max: maxDelayMs },
      pageSize: 250,
      faults: { pageLatencyMs: { min: 10, max: 40 } },
    });
    t.after(() => sim.close());
    const keys = { k1: randomBytes(32), k2: randomBytes(32) };
    const policyFile = join(dir, "rotation.json");
    // k1 by environment variable, k2 by file (a mounted Secret): both references in one rotation.
    writeFileSync(join(dir, "k2.key"), `${keys.k2.toString("base64")}\n`);
    const base = connectorEnv(sim, stack, {
      CONNECTOR_START: new Date(started - 2 * DAY).toISOString(),
      CONNECTOR_STREAMS: "pstn",
      POLL_INTERVAL: "1s",
      LOOKBACK: "30s",
      WINDOW_SLICE: "1d",
      CONNECTOR_FAILOVER_TIMEOUT: "2s",
      PRIVACY_POLICY_FILE: policyFile,
      SIEM_KEY_K1: keys.k1.toString("base64"),
    });
    const topic = topicsOf(base).pstn;
    const outputs = { raw: topic, siem: siemTopic(topic) };
    const writePolicy = (version: string, keyId: "k1" | "k2") =>
      writeFileSync(
        policyFile,
        JSON.stringify(
          siemPolicy({
            version,
            keyId,
            key: keyId === "k1" ? { env: "SIEM_KEY_K1" } : { file: "k2.key" },
            streams: ["pstn"],
            topics: topicsOf(base),
          }),
        ),
      );
    const env = cleanEnv({ ...base, NODE_EXTRA_CA_CERTS: await writeCaFile(sim.caCertificatePem) });
    const start = async () => {
      const port = await freePort();
      const child = new CliProcess(["run"], { ...env, METRICS_PORT: String(port) });
      t.after(() => child.kill("SIGKILL"));
      await waitForMetric(port, "pstn_connector_active", (v) => v === 1, 60_000, child);
      return { child, port };
    };
    const stopped = async (child: CliProcess, what: string) => {
      child.kill("SIGTERM");
      const exit = await child.done;
      assert.equal(exit.code, 0, `${what} exited ${exit.code}: ${exit.stderr.slice(-1500)}`);
    };

    writePolicy("v1", "k1");
    const v1 = await start();
    // Live polling, with live rows committed under v1, before the rotation.
    await waitForWatermark(v1.port, liveSince + 5_000, 120_000, v1.child);
    await stopped(v1.child, "the v1 instance");
    const rotatedAt = Date.now();
    // What v1 committed: each partition's records below its end offset now.
    const ends = await endOffsets(stack, Object.values(outputs));

    writePolicy("v2", "k2");
    // The first v2 instance dies while it catches up with the rows that came meanwhile.
    const first = await start();
    const afterMs = Math.round(300 + seeded(Number(process.env.CRASH_SEED ?? 29))() * 1_500);
    await sleep(afterMs);
    first.child.kill("SIGKILL");
    await first.child.done;
    const cutoff = Date.now();
    const last = await start();
    await waitForWatermark(last.port, cutoff + maxDelayMs + 2_000, 120_000, last.child);
    await stopped(last.child, "the last v2 instance");
    t.diagnostic(
      `v1 stopped ${rotatedAt - liveSince} ms into live polling; a v2 instance SIGKILLed after ${afterMs} ms`,
    );

    const truth = streamTruth(sim, "pstn", cutoff);
    const options = { expected: truth.visibleIds.size, timeoutMs: 90_000, settleMs: 3_000 };
    // Two readers, each for one output: Python's confluent-kafka (fastavro) and Java's consumer
    // (Apicurio's deserializer), both read_committed with the registry's schema.
    const [raw, siem] = await Promise.all([
      readAvroWithPython(stack.brokers, stack.registryUrl, outputs.raw, options),
      readAvroWithJava(stack.brokers, stack.registryUrl, outputs.siem, options),
    ]);
    const counts = {
      raw: countKeys(
        raw.records.map((r) => String(r.key)),
        truth,
      ),
      siem: countKeys(
        siem.records.map((r) => String(r.key)),
        truth,
      ),
    };
    t.diagnostic(JSON.stringify(counts));
    for (const [output, count] of Object.entries(counts)) {
      assert.ok(count.rowsExpected > 1_000, `${output}: ${count.rowsExpected} rows`);
      assert.deepEqual(
        { output, duplicates: count.duplicates, missing: count.missing, extra: count.extra },
        { output, duplicates: 0, missing: 0, extra: 0 },
      );
      assert.equal(count.rowsOnTopic, count.rowsExpected, output);
    }

    const groupOf = (record: AvroRecord, topicName: string): "k1" | "k2" =>
      record.offset < (ends.get(`${topicName}/${record.partition}`) ?? 0) ? "k1" : "k2";
    const version = { k1: "v1", k2: "v2" } as const;
    const rawGroup = new Map<string, "k1" | "k2">();
    for (const record of raw.records) {
      const group = groupOf(record, outputs.raw);
      rawGroup.set(String(record.key), group);
      assert.deepEqual(
        record.headers,
        { "pstn.policy.version": version[group] },
        `raw ${record.key} (committed ${group === "k1" ? "before" : "after"} the rotation)`,
      );
    }
    const groups = { k1: [] as AvroRecord[], k2: [] as AvroRecord[] };
    const problems: string[] = [];
    let tokens = 0;
    for (const record of siem.records) {
      const group = groupOf(record, outputs.siem);
      groups[group].push(record);
      // Both outputs of a row are in one transaction: on the same side of the rotation.
      if (rawGroup.get(String(record.key)) !== group)
        problems.push(`${record.key}: SIEM ${group}, raw ${rawGroup.get(String(record.key))}`);
      const checked = checkSiemRecord(record, truth, {
        version: version[group],
        keyId: group,
        key: keys[group],
      });
      tokens += checked.tokens;
      problems.push(...checked.problems);
      // The header and each token name the same key, whichever that is.
      for (const { name } of SIEM_HASHED.pstn) {
        const value = record.value?.[name];
        if (typeof value !== "string" || value === "") continue;
        const keyId = /^(?:\+\d+~)?([^:~]+):[0-9a-f]{64}$/.exec(value)?.[1];
        if (keyId !== record.headers["pstn.policy.key"])
          problems.push(
            `${record.key}.${name}: token of ${keyId}, header ${record.headers["pstn.policy.key"]}`,
          );
      }
    }
    assert.deepEqual(problems.slice(0, 5), [], `${problems.length} problems`);
    assert.deepEqual(
      [...new Set(siem.records.map((r) => String(r.key)))].sort(),
      [...rawGroup.keys()].sort(),
      "the two outputs hold the same ids",
    );
    const liveBefore = groups.k1.filter((r) => (truth.startOf.get(String(r.key)) ?? 0) >= liveSince).length;
    t.diagnostic(
      `${groups.k1.length} rows under v1/k1 (${liveBefore} of them live), ${groups.k2.length} under v2/k2; ${tokens} tokens equal to the HMAC of their key`,
    );
    assert.ok(liveBefore > 0, "rows polled live were committed before the rotation");
    assert.ok(groups.k2.length > 0, "rows were committed after the rotation");
    assert.ok(tokens > 2 * siem.records.length, `${tokens} tokens checked`);
  });
});

/** Each partition's end offset (read_committed; no transaction is open) by `topic/partition`. */
async function endOffsets(stack: TestStack, topics: string[]): Promise<Map<string, number>> {
  const admin = testKafka(stack.brokers).admin();
  try {
    const metadata = await admin.metadata({ topics, forceUpdate: true });
    const listed = await admin.listOffsets({
      topics: topics.map((name) => ({
        name,
        partitions: (metadata.topics.get(name)?.partitions ?? []).map((_, partitionIndex) => ({
          partitionIndex,
          timestamp: ListOffsetTimestamps.LATEST,
        })),
      })),
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    });
    const ends = new Map<string, number>();
    for (const topic of listed)
      for (const partition of topic.partitions)
        ends.set(`${topic.name}/${partition.partitionIndex}`, Number(partition.offset));
    return ends;
  } finally {
    await admin.close();
  }
}
