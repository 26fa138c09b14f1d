import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigResourceTypes } from "@platformatic/kafka";
import { stackStatus } from "../../tools/stack/index.js";
import { isRunning } from "../../tools/stack/processes.js";
import { consumeAll, produce, testKafka, uniqueName } from "../support/kafka.js";

const cli = fileURLToPath(new URL("../../dist/src/cli/main.js", import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [cli, ...args], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolvePromise({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

describe("pstn-connector stack, three KRaft nodes, through the CLI", () => {
  let pids: number[] = [];

  after(async () => {
    // Whatever happened above, leave no server of this suite running.
    await runCli(["stack", "down", "--nodes", "3"]);
  });

  test("stack up --nodes 3 prints exactly the two lines and starts a 3-broker cluster", async () => {
    const result = await runCli(["stack", "up", "--nodes", "3"]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n").filter(Boolean);
    assert.equal(lines.length, 2, result.stdout);
    assert.match(lines[0]!, /^KAFKA_BROKERS=127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/);
    assert.match(lines[1]!, /^SCHEMA_REGISTRY_URL=http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
    process.stderr.write(`# stack up --nodes 3 took ${result.ms} ms\n`);

    const brokers = lines[0]!.slice("KAFKA_BROKERS=".length).split(",");
    const kafka = testKafka(brokers, "stack-test");
    const admin = kafka.admin();
    try {
      const cluster = await admin.metadata({ topics: [], forceUpdate: true });
      assert.deepEqual([...cluster.brokers.keys()].sort(), [1, 2, 3]);

      const topic = uniqueName("replicated");
      // No replicas given: the broker's default (the stack sets 3).
      await admin.createTopics({ topics: [topic], partitions: 3 });
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
      for (const partition of metadata.topics.get(topic)!.partitions) {
        assert.equal(partition.replicas.length, 3, "replication factor 3 by default");
      }
      const [configs] = await admin.describeConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: topic,
            configurationKeys: ["min.insync.replicas"],
          },
        ],
      });
      assert.equal(configs?.configs[0]?.value, "2");

      await produce(kafka, topic, [{ key: "a", value: "1" }]);
      const [read] = await consumeAll(brokers, topic, { expected: 1, settleMs: 200 });
      assert.equal(read?.value?.toString(), "1");
    } finally {
      await admin.close();
    }

    const status = (await stackStatus()).find((s) => s.name === "kafka-3nodes");
    assert.ok(status, "status knows the stack");
    assert.equal(status.servers.length, 4);
    assert.ok(status.servers.every((server) => server.running));
    pids = status.servers.map((server) => server.pid);
  });

  test("a second stack up reuses the running stack: same lines, same processes", async () => {
    const first = await runCli(["stack", "status"]);
    const again = await runCli(["stack", "up", "--nodes", "3"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /kafka-3nodes already running since/);
    assert.equal(again.stdout.split("\n").filter(Boolean).length, 2);
    const status = (await stackStatus()).find((s) => s.name === "kafka-3nodes");
    assert.deepEqual(
      status?.servers.map((server) => server.pid),
      pids,
    );
    assert.match(first.stdout, /kafka-3nodes: running since/);
    assert.equal((first.stdout.match(/ up {3}pid \d+/g) ?? []).length >= 4, true, first.stdout);
  });

  test("stack down stops exactly the processes the stack started", async () => {
    assert.ok(pids.length === 4 && pids.every(isRunning));
    const result = await runCli(["stack", "down", "--nodes", "3"]);
    assert.equal(result.code, 0, result.stderr);
    for (const pid of pids) assert.match(result.stderr, new RegExp(`pid ${pid}\\b`));
    for (const pid of pids) assert.equal(isRunning(pid), false, `pid ${pid} still runs`);
    assert.equal(
      (await stackStatus()).find((s) => s.name === "kafka-3nodes"),
      undefined,
    );
  });

  test("a port in use fails at once with one line naming the port", async (t) => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => server.close());
    const address = server.address();
    assert.ok(address && typeof address === "object");
    const cache = await mkdtemp(join(tmpdir(), "pstn-stack-"));
    const result = await runCli(["stack", "up", "--nodes", "3", "--registry-port", String(address.port)], {
      ...process.env,
      PSTN_STACK_CACHE: cache,
    });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `pstn-connector stack: port ${address.port} on 127.0.0.1 (schema registry) is in use by another process: stop it, or choose other ports with --kafka-port / --registry-port\n`,
    );
  });

  test("bad usage exits 2 with one line", async () => {
    for (const args of [
      ["stack", "sideways"],
      ["stack", "up", "--nodes", "2"],
      ["stack", "up", "--colour"],
    ]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert.equal(result.stdout, "");
    }
    const help = await runCli(["stack", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: pstn-connector stack <up\|down\|status>/);
  });
});
