/**
 * A privacy policy end to end (PRIVACY_POLICY_FILE): each stream writes its rows raw for billing
 * and pseudonymised for a SIEM, both in the same transactions. Every output is read back by two
 * readers that are not this project's (Python's confluent-kafka with fastavro, Java's consumer
 * with Apicurio's deserializer), read_committed, and checked against the simulator's rows with
 * HMACs, masks and networks computed here, not by the connector's code.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { BlockList, isIPv4 } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { rowSchema } from "../../src/avro/index.js";
import { STREAMS, type StreamName } from "../../src/streams/index.js";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { type AvroRecord, readAvroWithJava, readAvroWithPython } from "../support/avro-readers.js";
import { CliProcess, cleanEnv, runCli } from "../support/cli.js";
import { connectorEnv, createTestApp, waitFor } from "../support/connector.js";
import { uniqueName } from "../support/kafka.js";
import { freePort, sampleOf, writeCaFile } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;
const KEY = randomBytes(32);
const VERSION = "e2e-2026-12";

/** What the SIEM output of each stream does, field by field (the rest as each default says). */
const SIEM_FIELDS: Record<StreamName, Record<string, unknown>> = {
  pstn: {
    callerNumber: { action: "hash", keepCountryCode: true },
    calleeNumber: { action: "mask", keep: 4 },
    userPrincipalName: "hash",
    userDisplayName: "drop",
    clientPublicIpV4Address: "truncate-ip",
    clientPublicIpV6Address: "truncate-ip",
    clientLocalIpV4Address: "drop",
    clientLocalIpV6Address: "drop",
  },
  directRouting: {
    callerNumber: { action: "hash", keepCountryCode: true },
    calleeNumber: { action: "hash", keepCountryCode: true },
    userPrincipalName: { action: "mask", keep: 3 },
    userDisplayName: "drop",
  },
  // An allow-list: everything not named is null, the id and the start excepted.
  sms: {
    smsType: "keep",
    smsUnits: "keep",
    callCharge: "keep",
    currency: "keep",
    otherPartyCountryCode: "keep",
    sourceNumber: { action: "hash", keepCountryCode: true },
    destinationNumber: { action: "hash", keepCountryCode: true },
    userId: "hash",
  },
};
const SIEM_DEFAULT: Record<StreamName, "keep" | "drop"> = {
  pstn: "keep",
  directRouting: "keep",
  sms: "drop",
};

describe("privacy policy end to end: a raw and a pseudonymised output of every stream", () => {
  let stack: TestStack;
  const dir = mkdtempSync(join(tmpdir(), "pstn-privacy-e2e-"));

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("each action on each stream, both outputs holding every row once, read by Python and Java", async (t) => {
    const to = new Date(Math.floor(Date.now() / DAY) * DAY);
    const from = new Date(to.getTime() - 3 * DAY);
    const sim = await startGraphSimulator({
      seed: 41,
      clientSecret: "simulator-secret",
      dataStart: from,
      dataEnd: to,
      callsPerHour: 12,
      directRoutingCallsPerHour: 8,
      smsPerHour: 6,
    });
    t.after(() => sim.close());
    const topics: Record<StreamName, string> = {
      pstn: uniqueName("pstn-calls"),
      directRouting: uniqueName("direct-routing-calls"),
      sms: uniqueName("sms-log"),
    };
    const policyFile = join(dir, "privacy.yaml");
    writeFileSync(
      policyFile,
      JSON.stringify({
        version: VERSION,
        keys: { k1: { env: "SIEM_HASH_KEY" } },
        streams: Object.fromEntries(
          (Object.keys(topics) as StreamName[]).map((stream) => [
            stream,
            {
              outputs: [
                {},
                {
                  topic: `${topics[stream]}.siem`,
                  hashKey: "k1",
                  default: SIEM_DEFAULT[stream],
                  fields: SIEM_FIELDS[stream],
                },
              ],
            },
          ]),
        ),
      }),
    );
    const env = connectorEnv(sim, stack, {
      CONNECTOR_STREAMS: "pstn,directRouting,sms",
      KAFKA_TOPIC: topics.pstn,
      KAFKA_TOPIC_DIRECT_ROUTING: topics.directRouting,
      KAFKA_TOPIC_SMS: topics.sms,
      CONNECTOR_START: from.toISOString(),
      GRAPH_API_VERSION: "v1.0",
      PRIVACY_POLICY_FILE: policyFile,
      SIEM_HASH_KEY: KEY.toString("base64"),
    });
    const app = createTestApp(sim, env);
    t.after(() => app.close());
    const stop = new AbortController();
    await Promise.all(app.sources.map((source) => source.backfill(from, to, stop.signal)));

    for (const stream of Object.keys(topics) as StreamName[]) {
      const truth = (
        sim.streams[stream].visibleRows(undefined, undefined, stream === "sms" ? "beta" : "v1.0") as Record<
          string,
          unknown
        >[]
      ).filter((row) => {
        const start = Date.parse(String(row[STREAMS[stream].startField]));
        return start >= from.getTime() && start <= to.getTime();
      });
      assert.ok(truth.length > 300, `${stream}: ${truth.length} rows in the simulator`);
      const byId = new Map(truth.map((row) => [String(row.id), row]));
      const raw = await readBoth(stack, topics[stream], truth.length);
      const siem = await readBoth(stack, `${topics[stream]}.siem`, truth.length);
      assert.deepEqual(
        keysOf(raw),
        [...byId.keys()].sort(),
        `${stream}: the raw output holds every row once`,
      );
      assert.deepEqual(keysOf(siem), keysOf(raw), `${stream}: the SIEM output holds the same rows, once`);
      const schema = rowSchema(STREAMS[stream].schemaFile).schema as { fields: AvroField[] };
      for (const record of raw) {
        const row = byId.get(String(record.key)) as Record<string, unknown>;
        assert.deepEqual(record.value, expectedRaw(row, schema), `${stream} raw ${record.key}`);
        assert.deepEqual(record.headers, { "pstn.policy.version": VERSION });
      }
      let hashed = 0;
      for (const record of siem) {
        const row = byId.get(String(record.key)) as Record<string, unknown>;
        const expected = expectedRaw(row, schema);
        const value = record.value as Record<string, unknown>;
        for (const field of schema.fields) {
          const rule = ruleOf(stream, field.name);
          const plain = expected[field.name];
          const got = value[field.name];
          const where = `${stream} siem ${record.key}.${field.name}`;
          if (rule.action === "drop") assert.equal(got, null, where);
          else if (rule.action === "keep" || plain === null || plain === "")
            assert.deepEqual(got, plain, where);
          else if (rule.action === "hash") {
            const token = `k1:${createHmac("sha256", KEY).update(String(plain)).digest("hex")}`;
            const code = rule.keepCountryCode ? countryCode(String(plain)) : undefined;
            assert.equal(got, code === undefined ? token : `${code}~${token}`, where);
            hashed++;
          } else if (rule.action === "mask")
            assert.equal(got, masked(String(plain), rule.keep as number), where);
          else
            assert.ok(
              inNetwork(String(plain), got),
              `${where}: ${String(got)} is the network of ${String(plain)}`,
            );
        }
        assert.deepEqual(record.headers, { "pstn.policy.version": VERSION, "pstn.policy.key": "k1" });
      }
      assert.ok(hashed > truth.length, `${stream}: ${hashed} values hashed`);
      t.diagnostic(`${stream}: ${truth.length} rows, in both outputs once, read alike by Python and Java`);
    }
  });
});

describe("privacy policy as a process: bad files refused with one line each, no key anywhere", () => {
  let stack: TestStack;
  const dir = mkdtempSync(join(tmpdir(), "pstn-privacy-cli-"));
  const key = randomBytes(32);
  const keyText = key.toString("base64");

  before(async () => {
    stack = await startTestStack();
  });
  after(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A one-stream policy with a SIEM output; `edit` changes its text to make it bad. */
  function policyFile(name: string, edit: (text: string) => string = (text) => text): string {
    const text = [
      "version: v1",
      "keys:",
      "  k1: { env: SIEM_HASH_KEY }",
      "streams:",
      "  pstn:",
      "    outputs:",
      "      - default: keep",
      "      - topic: cli-privacy.siem",
      "        hashKey: k1",
      "        fields:",
      "          callerNumber: { action: hash, keepCountryCode: true }",
      "          userDisplayName: drop",
      "",
    ].join("\n");
    const path = join(dir, name);
    writeFileSync(path, edit(text));
    return path;
  }

  const baseEnv = (extra: Record<string, string>) =>
    cleanEnv({
      AZURE_TENANT_ID: "contoso.onmicrosoft.com",
      AZURE_CLIENT_ID: "11111111-2222-3333-4444-555555555555",
      AZURE_CLIENT_SECRET: "s3cret",
      KAFKA_BROKERS: "127.0.0.1:9",
      SCHEMA_REGISTRY_URL: "http://127.0.0.1:9",
      ...extra,
    });

  test("unknown field, unknown action, missing key, a key too short: exit 2, one line naming the problem", async () => {
    const short = randomBytes(16).toString("base64");
    const cases: [string, string, Record<string, string>, RegExp][] = [
      [
        "field",
        policyFile("field.yaml", (t) => t.replace("userDisplayName", "userDisplayNam")),
        { SIEM_HASH_KEY: keyText },
        /fields\.userDisplayNam: is not a field of pstn rows; did you mean userDisplayName\?$/,
      ],
      [
        "action",
        policyFile("action.yaml", (t) => t.replace("userDisplayName: drop", "userDisplayName: erase")),
        { SIEM_HASH_KEY: keyText },
        /fields\.userDisplayName: "erase" is not an action; use keep, hash, mask, truncate-ip or drop$/,
      ],
      ["missing key", policyFile("missing.yaml"), {}, /keys\.k1: env: SIEM_HASH_KEY is not set$/],
      [
        "short key",
        policyFile("short.yaml"),
        { SIEM_HASH_KEY: short },
        /keys\.k1: is 16 bytes; a hashing key needs at least 32/,
      ],
    ];
    for (const [what, file, extra, line] of cases) {
      const result = await runCli(["check"], baseEnv({ PRIVACY_POLICY_FILE: file, ...extra }));
      assert.equal(result.code, 2, `${what}: ${result.stderr}`);
      const lines = result.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `${what}: one line: ${result.stderr}`);
      assert.match(lines[0] as string, /^pstn-connector check: PRIVACY_POLICY_FILE \(/);
      assert.match(lines[0] as string, line, what);
      assert.equal(result.stdout, "");
      for (const secret of [keyText, short])
        assert.ok(!result.stderr.includes(secret), `${what}: no key shown`);
    }
  });

  test("run with hashed outputs at debug level: the key is in no log line, metric or status", async (t) => {
    const sim = await startGraphSimulator({
      seed: 43,
      clientSecret: "simulator-secret",
      dataStart: new Date(Date.now() - 2 * DAY),
      dataEnd: new Date(Date.now() + 60_000),
      callsPerHour: 60,
    });
    t.after(() => sim.close());
    const port = await freePort();
    const topic = uniqueName("cli-privacy");
    const file = policyFile("run.yaml", (text) => text.replace("cli-privacy.siem", `${topic}.siem`));
    const env = cleanEnv({
      ...connectorEnv(sim, stack, {
        KAFKA_TOPIC: topic,
        CONNECTOR_START: "2d",
        POLL_INTERVAL: "1s",
        METRICS_PORT: String(port),
        LOG_LEVEL: "debug",
        PRIVACY_POLICY_FILE: file,
        SIEM_HASH_KEY: keyText,
      }),
      NODE_EXTRA_CA_CERTS: await writeCaFile(sim.caCertificatePem),
    });
    const check = await runCli(["check"], env);
    assert.equal(check.code, 0, check.stderr);
    assert.match(
      check.stdout,
      new RegExp(
        `^ok {3}privacy pstn: ${topic} \\(as Graph sends it\\), ${topic}\\.siem \\(drop 1, hash 1; key k1\\)$`,
        "m",
      ),
    );
    const run = new CliProcess(["run"], env);
    let metrics = "";
    let status = "";
    try {
      await waitFor(
        "rows to be published",
        async () => {
          metrics = await request(`http://127.0.0.1:${port}/metrics`)
            .then((response) => response.body.text())
            .catch(() => "");
          return (sampleOf(metrics, "pstn_connector_rows_published_total") ?? 0) > 1000;
        },
        60_000,
      );
      status = await (await request(`http://127.0.0.1:${port}/status`)).body.text();
    } finally {
      run.kill("SIGTERM");
    }
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const everything = `${check.stdout}\n${check.stderr}\n${result.stdout}\n${result.stderr}\n${metrics}\n${status}`;
    assert.match(result.stdout + result.stderr, /schema registered/, "the log is there to search");
    for (const form of [
      keyText,
      key.toString("hex"),
      key.toString("base64url"),
      JSON.stringify([...key]).slice(1, 40),
    ])
      assert.ok(!everything.includes(form), `the key (as ${form.slice(0, 6)}…) appears nowhere`);
  });
});

interface AvroField {
  name: string;
  type: unknown;
}

/** Both readers' records of `topic`, sorted by key, once it is known they read the same. */
async function readBoth(stack: TestStack, topic: string, expected: number): Promise<AvroRecord[]> {
  const options = { expected, timeoutMs: 60_000, settleMs: 1500 };
  const [python, java] = await Promise.all([
    readAvroWithPython(stack.brokers, stack.registryUrl, topic, options),
    readAvroWithJava(stack.brokers, stack.registryUrl, topic, options),
  ]);
  assert.equal(python.timedOut, false, `${topic}: Python read ${python.records.length} of ${expected}`);
  assert.equal(java.timedOut, false, `${topic}: Java read ${java.records.length} of ${expected}`);
  const sorted = (records: AvroRecord[]) =>
    records
      .map(({ key, value, headers }) => ({ key, value, headers }) as AvroRecord)
      .sort((a, b) => String(a.key).localeCompare(String(b.key)));
  const fromPython = sorted(python.records);
  assert.deepEqual(sorted(java.records), fromPython, `${topic}: Python and Java decode the same records`);
  return fromPython;
}

function keysOf(records: readonly AvroRecord[]): string[] {
  return records.map((record) => String(record.key)).sort();
}

function ruleOf(stream: StreamName, field: string): Record<string, unknown> & { action: string } {
  const rule = SIEM_FIELDS[stream][field];
  if (rule === undefined) {
    const fixed = field === "id" || field === STREAMS[stream].startField;
    return { action: fixed ? "keep" : SIEM_DEFAULT[stream] };
  }
  return typeof rule === "string" ? { action: rule } : (rule as Record<string, unknown> & { action: string });
}

/** A Graph row as both readers print it: decimals at the schema's scale, instants in microseconds. */
function expectedRaw(row: Record<string, unknown>, schema: { fields: AvroField[] }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of schema.fields) {
    const value = row[field.name];
    const type = (Array.isArray(field.type) ? field.type.find((branch) => branch !== "null") : field.type) as
      | string
      | { logicalType?: string; scale?: number };
    if (value === undefined || value === null) out[field.name] = null;
    else if (typeof type === "object" && type.logicalType === "decimal")
      out[field.name] = atScale(String(value), type.scale ?? 0);
    else if (typeof type === "object" && type.logicalType === "timestamp-micros")
      out[field.name] = micros(String(value));
    else out[field.name] = value;
  }
  return out;
}

/** Decimal text written with exactly `scale` fraction digits (Graph's text never has more here). */
function atScale(text: string, scale: number): string {
  const [whole = "0", fraction = ""] = text.split(".");
  return `${whole}.${fraction.padEnd(scale, "0")}`;
}

/** An ISO instant with up to seven fraction digits → whole microseconds (the seventh truncated). */
function micros(iso: string): number {
  const match = /\.(\d+)/.exec(iso);
  const fraction = (match?.[1] ?? "").padEnd(6, "0").slice(0, 6);
  const seconds = Date.parse(iso.replace(/\.\d+/, "")) / 1000;
  return seconds * 1_000_000 + Number(fraction);
}

/** E.164 country calling codes: `1` and `7` one digit, these two-digit ones, every other three. */
function countryCode(number: string): string | undefined {
  const match = /^\+(\d)(\d)(\d)\d{5,12}$/.exec(number);
  if (!match) return undefined;
  const [, a, b, c] = match as unknown as [string, string, string, string];
  if (a === "1" || a === "7") return `+${a}`;
  const two = `${a}${b}`;
  const twoDigit =
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split(
      " ",
    );
  return twoDigit.includes(two) ? `+${two}` : `+${two}${c}`;
}

/** Every letter or digit followed by at least `keep` more of them becomes `*`. */
function masked(value: string, keep: number): string {
  return value.replace(
    new RegExp(`[\\p{L}\\p{N}](?=(?:[^\\p{L}\\p{N}]*[\\p{L}\\p{N}]){${keep}})`, "gu"),
    "*",
  );
}

/** Whether `network` is the /24 (IPv4) or /48 (IPv6) holding `address`, with nothing after the prefix. */
function inNetwork(address: string, network: unknown): boolean {
  if (typeof network !== "string") return false;
  const family = isIPv4(address) ? "ipv4" : "ipv6";
  const prefix = family === "ipv4" ? 24 : 48;
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  if (!list.check(address, family)) return false;
  // The network's own address: nothing past the prefix survives.
  return family === "ipv4" ? network.endsWith(".0") : /^[0-9a-f]{1,4}(:[0-9a-f]{1,4}){0,2}::$/.test(network);
}
