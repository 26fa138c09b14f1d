import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import avro from "avsc";
import type { Kafka, KafkaMessage } from "kafkajs";
import { request } from "undici";
import { type App, type AppOptions, createApp } from "../../src/app.js";
import { decodedToGraphJson } from "../../src/avro/index.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import type { GraphSimulator } from "../../tools/simulator/index.js";
import { consumeAll, partitionOf, uniqueName } from "./kafka.js";
import type { TestStack } from "./stack.js";

export interface ConnectorEnv {
  [name: string]: string;
}

/** The environment a connector needs to run against the simulator and the test stack. */
export function connectorEnv(sim: GraphSimulator, stack: TestStack, extra: ConnectorEnv = {}): ConnectorEnv {
  return {
    AZURE_TENANT_ID: sim.tenantId,
    AZURE_CLIENT_ID: sim.clientId,
    AZURE_CLIENT_SECRET: "simulator-secret",
    AZURE_AUTHORITY_HOST: sim.url,
    GRAPH_ENDPOINT: sim.url,
    KAFKA_BROKERS: stack.brokers.join(","),
    SCHEMA_REGISTRY_URL: stack.registryUrl,
    KAFKA_TOPIC: uniqueName("pstn-calls"),
    METRICS_PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    ...extra,
  };
}

export function createTestApp(sim: GraphSimulator, env: ConnectorEnv, options: AppOptions = {}): App {
  const config = loadConfig({ env });
  return createApp(config, {
    extraCaPem: sim.caCertificatePem,
    logger: createLogger(config.logLevel),
    graphBackoff: { minMs: 50, maxMs: 400 },
    ...options,
  });
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

const schemaCache = new Map<number, avro.Type>();

/**
 * Decodes a message as a downstream consumer would: the schema comes from the registry, by the id
 * in the message's own wire-format header, never from the project's schema object.
 */
export async function decodeFromRegistry(
  registryUrl: string,
  value: Buffer,
): Promise<Record<string, unknown>> {
  if (value[0] !== 0) throw new Error(`magic byte ${value[0]}, not 0`);
  const id = value.readUInt32BE(1);
  let type = schemaCache.get(id);
  if (!type) {
    const response = await request(`${registryUrl}/schemas/ids/${id}`);
    const body = (await response.body.json()) as { schema: string };
    type = avro.Type.forSchema(JSON.parse(body.schema), { wrapUnions: false });
    schemaCache.set(id, type);
  }
  return decodedToGraphJson(type.fromBuffer(value.subarray(5)) as Record<string, unknown>);
}

export function keysOf(messages: readonly KafkaMessage[]): string[] {
  return messages.map((m) => m.key?.toString("utf8") ?? "");
}

export async function topicMessageCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs the connector until `done` holds, then stops it as SIGTERM would; `during` runs alongside
 * (to inject faults). Rejects if the connector failed.
 */
export async function runUntil(
  app: App,
  what: string,
  done: () => boolean,
  timeoutMs: number,
  during?: () => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  let failed: unknown;
  const running = app.source.run(stop.signal).catch((error: unknown) => {
    failed = error;
  });
  try {
    await during?.();
    await waitFor(what, () => failed !== undefined || done(), timeoutMs);
  } finally {
    stop.abort();
    await running;
  }
  if (failed !== undefined) throw failed;
}

/**
 * Reads the topic as a read_committed consumer and checks that it holds each expected id exactly
 * once and nothing else; returns the messages for further checks.
 */
export async function assertEachIdOnce(
  kafka: Kafka,
  topic: string,
  expectedIds: readonly string[],
  timeoutMs = 60_000,
): Promise<KafkaMessage[]> {
  const read = (returnShort = false) =>
    consumeAll(kafka, topic, { expected: expectedIds.length, timeoutMs, settleMs: 2000, returnShort });
  let messages: KafkaMessage[];
  try {
    messages = await read();
  } catch (first) {
    // Say where the read stopped (per partition), then read once more with a fresh consumer: a
    // short read that a second consumer completes is the consumer's, not the topic's. A second
    // short read is compared all the same, so that the failure names the ids missing.
    process.stderr.write(
      `# ${(first as Error).message}; partitions ${await partitionSummary(kafka, topic)}; reading again\n`,
    );
    messages = await read(true);
  }
  // A consumer may deliver a record twice (a refetch after a leader moved): that is the consumer's
  // doing, not a second record. Records are told apart by partition and offset.
  const records = new Map<string, KafkaMessage>();
  for (const message of messages) records.set(`${partitionOf.get(message)}@${message.offset}`, message);
  if (records.size < messages.length) {
    process.stderr.write(`# the consumer delivered ${messages.length - records.size} records twice\n`);
  }
  messages = [...records.values()];
  const keys = keysOf(messages);
  const unique = new Set(keys);
  const expected = new Set(expectedIds);
  const missing = [...expected].filter((id) => !unique.has(id));
  const extra = [...unique].filter((id) => !expected.has(id));
  assert.deepEqual(
    { duplicates: keys.length - unique.size, missing: missing.length, extra: extra.length },
    { duplicates: 0, missing: 0, extra: 0 },
    `first missing ${missing.slice(0, 3).join(", ")}; first extra ${extra.slice(0, 3).join(", ")}`,
  );
  return messages;
}

async function partitionSummary(kafka: Kafka, topic: string): Promise<string> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map((p) => `${p.partition}:${p.low}-${p.high}`).join(" ");
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  } finally {
    await admin.disconnect();
  }
}
