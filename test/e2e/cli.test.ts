import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Agent, request } from "undici";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import { CliProcess, cleanEnv, parseEnvLines, runCli } from "../support/cli.js";
import { waitFor } from "../support/connector.js";
import { consumeAll, uniqueName } from "../support/kafka.js";
import { freePort, sampleOf } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";

async function metricValue(port: number, selector: string): Promise<number> {
  const response = await request(`http://127.0.0.1:${port}/metrics`);
  return sampleOf(await response.body.text(), selector) ?? Number.NaN;
}

describe("pstn-connector commands as processes: simulate, check, run, demo", () => {
  let stack: TestStack;
  let simulator: CliProcess;
  let simEnv: Record<string, string>;

  before(async () => {
    stack = await startTestStack();
    simulator = new CliProcess(
      [
        "simulate",
        "--port",
        "0",
        "--history",
        "3d",
        "--calls-per-hour",
        "200",
        "--throttle-rate",
        "0.05",
        "--client-secret",
        "s3cret",
      ],
      cleanEnv({}),
    );
    await waitFor(
      "the simulator to print its settings",
      () => simulator.stdout.includes("NODE_EXTRA_CA_CERTS="),
      30_000,
    );
    simEnv = parseEnvLines(simulator.stdout);
  });
  after(async () => {
    simulator?.kill("SIGINT");
    await simulator?.done;
    await stack?.stop();
  });

  function connectorEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return cleanEnv({
      ...simEnv,
      KAFKA_BROKERS: stack.brokers.join(","),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      KAFKA_TOPIC: uniqueName("cli-calls"),
      CONNECTOR_START: "3d",
      LOG_LEVEL: "warn",
      ...extra,
    });
  }

  test("simulate prints the connector's settings, sourceable", () => {
    assert.deepEqual(Object.keys(simEnv).sort(), [
      "AZURE_AUTHORITY_HOST",
      "AZURE_CLIENT_ID",
      "AZURE_CLIENT_SECRET",
      "AZURE_TENANT_ID",
      "GRAPH_ENDPOINT",
      "NODE_EXTRA_CA_CERTS",
    ]);
    assert.match(simEnv.GRAPH_ENDPOINT!, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(simEnv.AZURE_CLIENT_SECRET, "s3cret");
  });

  test("check reaches token, Graph, Kafka and registry: exit 0, one line each", async () => {
    const result = await runCli(["check"], connectorEnv());
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.deepEqual(
      lines.map((line) => line.split(":")[0]),
      ["ok   token", "ok   graph pstn", "ok   kafka", "ok   registry"],
    );
  });

  test("check with three streams: a Graph line per stream, sms read in beta and saying so", async () => {
    const result = await runCli(["check"], connectorEnv({ CONNECTOR_STREAMS: "pstn,directRouting,sms" }));
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.deepEqual(
      lines.map((line) => line.split(":")[0]),
      [
        "ok   token",
        "ok   graph pstn",
        "ok   graph directRouting",
        "ok   graph sms",
        "ok   kafka",
        "ok   registry",
      ],
    );
    assert.match(lines[1] ?? "", /\/v1\.0 getPstnCalls answered/);
    assert.match(lines[2] ?? "", /\/v1\.0 getDirectRoutingCalls answered/);
    assert.match(
      lines[3] ?? "",
      /\/beta getSmsLog answered \(\d+ rows in the last minute\) \(getSmsLog exists only in beta: read there whatever GRAPH_API_VERSION says\)$/,
    );
  });

  test("check with a wrong secret: exit 2, the token line says why, and the secret is not printed", async () => {
    const result = await runCli(["check"], connectorEnv({ AZURE_CLIENT_SECRET: "wrong-secret-value" }));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^FAIL token: Entra ID refused the credentials of app .*AADSTS7000215/m);
    assert.doesNotMatch(result.stdout + result.stderr, /wrong-secret-value/);
  });

  test("check against an authority naming a foreign token endpoint: refused, nothing sent there", async (t) => {
    const received: string[] = [];
    const thief = createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      res.end("{}");
    });
    await new Promise<void>((resolve) => thief.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => thief.close(() => resolve())));
    const steal = `http://127.0.0.1:${(thief.address() as AddressInfo).port}/steal`;
    const secret = "hostile-authority-secret-4711";
    const sim = await startGraphSimulator({
      dataStart: new Date(Date.now() - 86_400_000),
      callsPerHour: 10,
      clientSecret: secret,
      metadataTokenEndpoint: steal,
    });
    t.after(() => sim.close());
    const dir = mkdtempSync(join(tmpdir(), "pstn-cli-hostile-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "ca.pem"), sim.caCertificatePem);
    const result = await runCli(
      ["check"],
      connectorEnv({
        AZURE_TENANT_ID: sim.tenantId,
        AZURE_CLIENT_ID: sim.clientId,
        AZURE_CLIENT_SECRET: secret,
        AZURE_AUTHORITY_HOST: sim.url,
        GRAPH_ENDPOINT: sim.url,
        NODE_EXTRA_CA_CERTS: join(dir, "ca.pem"),
      }),
      60_000,
    );
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`^FAIL token: refused to send a POST request to ${steal}: it is not https`, "m"),
    );
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(secret));
    assert.deepEqual(received, [], "the foreign endpoint got no request");
    assert.equal(sim.stats().tokenRequests, 0);
  });

  test("invalid configuration: exit 2, one line per problem, nothing else", async () => {
    const result = await runCli(
      ["run"],
      cleanEnv({
        AZURE_TENANT_ID: "not a tenant!",
        POLL_INTERVAL: "often",
        KAFKA_BROKERS: "nohost",
        LOOKBAK: "1h",
      }),
    );
    assert.equal(result.code, 2);
    const lines = result.stderr.trim().split("\n");
    assert.ok(lines.length >= 5, result.stderr);
    for (const line of lines) assert.match(line, /^pstn-connector run: [A-Z_]+: /);
    assert.match(result.stderr, /POLL_INTERVAL: "often" is not a duration/);
    assert.match(result.stderr, /LOOKBAK: unknown variable; did you mean LOOKBACK\?/);
    assert.equal(result.stdout, "");
  });

  test("run publishes, serves /metrics, /healthz and /readyz, and stops cleanly on SIGTERM with exit 0", async () => {
    const port = await freePort();
    const run = new CliProcess(["run"], connectorEnv({ METRICS_PORT: String(port), POLL_INTERVAL: "2s" }));
    try {
      await waitFor(
        "rows to be published",
        async () => (await metricValue(port, "pstn_connector_rows_published_total").catch(() => 0)) > 100,
        60_000,
      );
      await waitFor(
        "a first complete poll",
        async () =>
          (await metricValue(port, "pstn_connector_last_success_timestamp_seconds").catch(() => 0)) > 0,
        60_000,
      );
      const health = await request(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.statusCode, 200);
      await health.body.dump();
      await waitFor(
        "/readyz to answer 200",
        async () => {
          const ready = await request(`http://127.0.0.1:${port}/readyz`);
          await ready.body.dump();
          return ready.statusCode === 200;
        },
        30_000,
      );
      for (const name of [
        "pstn_connector_rows_fetched_total",
        "pstn_connector_watermark_timestamp_seconds",
        "pstn_connector_last_success_timestamp_seconds",
        "pstn_connector_graph_request_duration_seconds_count",
        "pstn_connector_kafka_produce_duration_seconds_count",
        "pstn_connector_process_cpu_seconds_total",
      ]) {
        assert.ok((await metricValue(port, name)) > 0, `${name} > 0`);
      }
      assert.ok((await metricValue(port, 'pstn_connector_graph_requests_total{code="200"}')) > 0);
    } finally {
      run.kill("SIGTERM");
    }
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.doesNotMatch(result.stderr, /s3cret/);
  });

  test("backfill --from --to publishes exactly the range's rows, and a second run publishes nothing more", async () => {
    const to = new Date(Date.now() - 86_400_000);
    const from = new Date(to.getTime() - 36 * 3_600_000);
    const env = connectorEnv({ WINDOW_SLICE: "12h" });
    const first = await runCli(["backfill", "--from", from.toISOString(), "--to", to.toISOString()], env);
    assert.equal(first.code, 0, first.stderr.slice(-2000));
    const again = await runCli(["backfill", "--from", from.toISOString(), "--to", to.toISOString()], env);
    assert.equal(again.code, 0, again.stderr.slice(-2000));

    const ca = readFileSync(simEnv.NODE_EXTRA_CA_CERTS!, "utf8");
    const truthResponse = await request(
      `${simEnv.GRAPH_ENDPOINT}/_sim/visible?from=${from.toISOString()}&to=${to.toISOString()}&version=v1.0`,
      { dispatcher: new Agent({ connect: { ca } }) },
    );
    const truth = (await truthResponse.body.json()) as Array<{ id: string }>;
    assert.ok(truth.length > 100, `36 h at 200 calls/hour, got ${truth.length}`);
    const messages = await consumeAll(stack.brokers, env.KAFKA_TOPIC!, {
      expected: truth.length,
      settleMs: 1500,
    });
    assert.equal(messages.length, truth.length, "each row once, the second run added none");
    assert.deepEqual(new Set(messages.map((m) => m.key?.toString())), new Set(truth.map((row) => row.id)));
  });

  test("backfill without --from is a usage error: exit 2", async () => {
    const result = await runCli(["backfill"], connectorEnv());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--from is required/);
  });

  test("demo --duration runs simulator and connector against the given stack and exits 0 with a summary", async () => {
    const callsTopic = uniqueName("demo-calls");
    const result = await runCli(
      ["demo", "--days", "2", "--duration", "15"],
      cleanEnv({
        KAFKA_BROKERS: stack.brokers.join(","),
        SCHEMA_REGISTRY_URL: stack.registryUrl,
        KAFKA_TOPIC: callsTopic,
        KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("demo-direct-routing"),
        KAFKA_TOPIC_SMS: uniqueName("demo-sms"),
      }),
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const published = Number(/^demo: stopped\. .*published (\d+)/m.exec(result.stdout)?.[1] ?? "0");
    assert.ok(published > 50, result.stdout);
    // The three streams side by side: each named in the summary with what it published.
    const perStream = /^demo: stopped\. .*published \d+ \(([^)]*)\)/m.exec(result.stdout)?.[1] ?? "";
    const counts = new Map(
      perStream.split(", ").map((entry) => {
        const [name, count] = entry.split(" ");
        return [name, Number(count)] as const;
      }),
    );
    assert.deepEqual([...counts.keys()], ["pstn", "directRouting", "sms"], result.stdout);
    for (const [name, count] of counts) assert.ok(count > 0, `${name} published ${count}: ${result.stdout}`);
    assert.equal(
      [...counts.values()].reduce((a, b) => a + b, 0),
      published,
      "the total is the streams' sum",
    );
    // Under the demo's privacy policy, one row raw and as its SIEM output wrote it, read back from
    // both topics: a raw number next to its token (country code kept), the UPN hashed, the name dropped.
    assert.match(
      result.stdout,
      /^demo: privacy policy \S+privacy-policy\.json \(version demo-\d{8}T\d{6}Z; /m,
    );
    assert.match(
      result.stdout,
      new RegExp(`^ {4}field +${callsTopic} \\(raw\\) +${callsTopic}\\.siem$`, "m"),
      result.stdout,
    );
    assert.match(
      result.stdout,
      /^ {4}(callerNumber|calleeNumber) +\+\d{7,15} +→ {2}\+\d{1,3}~k1:[0-9a-f]{8}… +hash, country code kept$/m,
      result.stdout,
    );
    assert.match(
      result.stdout,
      /^ {4}userPrincipalName +\S+@\S+ +→ {2}k1:[0-9a-f]{8}… +hash$/m,
      result.stdout,
    );
    assert.match(result.stdout, /^ {4}userDisplayName +\S.* +→ {2}null +drop$/m, result.stdout);
    assert.match(result.stdout, /^ {4}header pstn\.policy\.version +(demo-\S+) += {2}\1$/m, result.stdout);
    assert.match(result.stdout, /^ {4}header pstn\.policy\.key +- +→ {2}k1$/m, result.stdout);
    // The key itself (base64 of 32 bytes) is shown nowhere.
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, /[A-Za-z0-9+/]{43}=/);
    await sleep(0);
  });

  test("demo --no-privacy writes each stream's one topic as before, with no SIEM output", async () => {
    const result = await runCli(
      ["demo", "--no-privacy", "--days", "1", "--duration", "8"],
      cleanEnv({
        KAFKA_BROKERS: stack.brokers.join(","),
        SCHEMA_REGISTRY_URL: stack.registryUrl,
        KAFKA_TOPIC: uniqueName("demo-raw-calls"),
        KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("demo-raw-direct-routing"),
        KAFKA_TOPIC_SMS: uniqueName("demo-raw-sms"),
      }),
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const published = Number(/^demo: stopped\. .*published (\d+)/m.exec(result.stdout)?.[1] ?? "0");
    assert.ok(published > 0, result.stdout);
    assert.doesNotMatch(result.stdout, /privacy|\.siem|k1:/, result.stdout);
  });

  test("demo --tenants 3 reads three simulated tenants from a tenants file: each publishes, the totals add up", async () => {
    const result = await runCli(
      ["demo", "--tenants", "3", "--days", "2", "--duration", "15"],
      cleanEnv({
        KAFKA_BROKERS: stack.brokers.join(","),
        SCHEMA_REGISTRY_URL: stack.registryUrl,
        KAFKA_TOPIC: uniqueName("demo-tenants-calls"),
        KAFKA_TOPIC_DIRECT_ROUTING: uniqueName("demo-tenants-direct-routing"),
        KAFKA_TOPIC_SMS: uniqueName("demo-tenants-sms"),
        // Ignored: the tenants come from the demo's tenants file.
        AZURE_TENANT_ID: "ignored.example.com",
      }),
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const published = Number(/^demo: stopped\. .*published (\d+)/m.exec(result.stdout)?.[1] ?? "0");
    // A line per tenant: `demo: tenant <name> (<id>): published <n> (<stream> <n>, ...), ...`.
    const tenants = [
      ...result.stdout.matchAll(/^demo: tenant (.+?) \(([^)]+)\): published (\d+) \(([^)]*)\)/gm),
    ];
    assert.deepEqual(
      tenants.map((match) => [match[1], match[2]]),
      [
        ["Contoso", "6f1e3c55-2b7a-4d8e-9c41-0a5b7d2e8f13"],
        ["Fabrikam", "fabrikam.onmicrosoft.com"],
        ["Northwind", "northwind.onmicrosoft.com"],
      ],
      result.stdout,
    );
    const counts = tenants.map((match) => Number(match[3]));
    for (const [i, match] of tenants.entries()) {
      assert.ok((counts[i] ?? 0) > 0, `${match[1]} published ${counts[i]}: ${result.stdout}`);
      for (const entry of (match[4] ?? "").split(", ")) {
        const [stream, count] = entry.split(" ");
        assert.ok(Number(count) > 0, `${match[1]} ${stream} published ${count}: ${result.stdout}`);
      }
    }
    // The tenants' rates differ (Fabrikam half of Contoso's, Northwind twice it): so do their rows.
    const [contoso = 0, fabrikam = 0, northwind = 0] = counts;
    assert.ok(fabrikam < contoso && contoso < northwind, `${counts.join(", ")}: ${result.stdout}`);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      published,
      "the total is the tenants' sum",
    );
    // The privacy policy covers every tenant's rows: the pair side by side names its tenant.
    assert.match(
      result.stdout,
      /^ {4}(pstn|directRouting|sms) \S+ \((Contoso|Fabrikam|Northwind)\)$/m,
      result.stdout,
    );
    assert.match(
      result.stdout,
      /^ {4}\w+Number +\+\d{7,15} +→ {2}\+\d{1,3}~k1:[0-9a-f]{8}… /m,
      result.stdout,
    );
  });
});
