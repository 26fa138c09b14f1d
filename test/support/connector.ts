import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import avro from "avsc";
import { request } from "undici";
import { type App, type AppOptions, createApp } from "../../src/app.js";
import { decodedToGraphJson } from "../../src/avro/index.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/log.js";
import type { GraphSimulator } from "../../tools/simulator/index.js";
import { CliProcess, cleanEnv } from "./cli.js";
import { readTopicWithJava } from "./java-reader.js";
import { uniqueName } from "./kafka.js";
import { freePort, writeCaFile } from "./processes.js";
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

const schemaCache = new Map<number, { schema: object; type: avro.Type }>();

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
  let known = schemaCache.get(id);
  if (!known) {
    const response = await request(`${registryUrl}/schemas/ids/${id}`);
    const body = (await response.body.json()) as { schema: string };
    const schema = JSON.parse(body.schema) as object;
    known = { schema, type: avro.Type.forSchema(schema as avro.Schema, { wrapUnions: false }) };
    schemaCache.set(id, known);
  }
  // The registry's schema decodes and names the fields: whichever stream wrote the record.
  return decodedToGraphJson(
    known.type.fromBuffer(value.subarray(5)) as Record<string, unknown>,
    known.schema,
  );
}

export function keysOf(messages: readonly ReadBack[]): string[] {
  return messages.map((m) => m.key?.toString("utf8") ?? "");
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

/** A record as the checks see it, whichever client read it. */
export interface ReadBack {
  key: Buffer | null;
  value: Buffer | null;
  /** The record's headers, where the reader gives them (Kafka's Java consumer does). */
  headers?: [string, Buffer | null][];
}

/**
 * Reads the topic with Kafka's Java consumer (read_committed, a client other than the writer) and
 * checks that it holds each expected id exactly once and nothing else; returns the records for
 * further checks.
 */
export async function assertEachIdOnce(
  brokers: readonly string[],
  topic: string,
  expectedIds: readonly string[],
  timeoutMs = 60_000,
): Promise<ReadBack[]> {
  const read = async (returnShort = false): Promise<{ key: string; record: ReadBack }[]> => {
    const { records, timedOut } = await readTopicWithJava(brokers, topic, {
      expected: expectedIds.length,
      timeoutMs,
      settleMs: 2000,
    });
    if (timedOut && !returnShort) {
      throw new Error(
        `saw ${records.length} of ${expectedIds.length} messages on ${topic} in ${timeoutMs} ms`,
      );
    }
    return records.map((record) => ({ key: `${record.partition}@${record.offset}`, record }));
  };
  let read1: { key: string; record: ReadBack }[];
  try {
    read1 = await read();
  } catch (first) {
    // Read once more with a fresh consumer: a short read that a second consumer completes is the
    // consumer's, not the topic's. A second short read is compared all the same, so that the
    // failure names the ids missing.
    process.stderr.write(`# ${(first as Error).message}; reading again\n`);
    read1 = await read(true);
  }
  // A consumer may deliver a record twice (a refetch after a leader moved): that is the consumer's
  // doing, not a second record. Records are told apart by partition and offset.
  const records = new Map<string, ReadBack>();
  for (const { key, record } of read1) records.set(key, record);
  if (records.size < read1.length) {
    process.stderr.write(`# the consumer delivered ${read1.length - records.size} records twice\n`);
  }
  const messages = [...records.values()];
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

/**
 * `pstn-connector run` reading the tenants file `file` (AZURE_TENANT_ID unset), polling every
 * second with a minute of lookback unless `extra` says otherwise, its metrics on a port of its
 * own; killed after the test.
 */
export async function runFleet(
  t: TestContext,
  sim: GraphSimulator,
  stack: TestStack,
  file: string,
  extra: Record<string, string>,
): Promise<{ child: CliProcess; env: NodeJS.ProcessEnv; port: number }> {
  const port = await freePort();
  const base = connectorEnv(sim, stack, {
    POLL_INTERVAL: "1s",
    LOOKBACK: "1m",
    METRICS_PORT: String(port),
    CONNECTOR_TENANTS_FILE: file,
    ...extra,
  });
  delete base.AZURE_TENANT_ID;
  const env = cleanEnv({ ...base, NODE_EXTRA_CA_CERTS: await writeCaFile(sim.caCertificatePem) });
  const child = new CliProcess(["run"], env);
  t.after(async () => {
    child.kill("SIGKILL");
    await child.done;
  });
  return { child, env, port };
}
