/** The connector under test, built with createApp against the simulator process and the stack. */
import { randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import { type App, type AppOptions, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import type { Kafka } from "../../src/kafka/index.js";
import { createLogger, type Logger } from "../../src/log.js";
import { onCleanup } from "./cleanup.js";
import type { SimulatorProcess } from "./simulator-process.js";

export interface Endpoints {
  brokers: string[];
  registryUrl: string;
}

/**
 * Logs and kcat input files, ignored by git: bench/results/tmp/. The compiled worker (build.ts)
 * runs from elsewhere and is told where it is.
 */
export const TMP_DIR =
  process.env.PSTN_BENCH_TMP ?? fileURLToPath(new URL("../results/tmp/", import.meta.url));

export function uniqueTopic(kind: string): string {
  return `bench-${kind}-${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
}

export function topicsOf(topic: string): string[] {
  return [topic, `${topic}.dlq`, `${topic}.state`];
}

/** A pino logger at warn writing to results/tmp/<name>.log, counting its lines. */
export class LogTally {
  readonly file: string;
  readonly logger: Logger;
  lines = 0;
  private readonly stream: WriteStream;

  constructor(name: string) {
    mkdirSync(TMP_DIR, { recursive: true });
    this.file = `${TMP_DIR}${name}.log`;
    this.stream = createWriteStream(this.file);
    this.logger = createLogger("warn", {
      write: (line: string) => {
        this.lines++;
        this.stream.write(line);
      },
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

export interface BenchApp {
  app: App;
  topic: string;
  log: LogTally;
  /** Closes the app and deletes its topics. */
  close(): Promise<void>;
}

/** A connector app for `sim` on a fresh topic; `env` adds to (or overrides) the connection settings. */
export function connectorFor(
  sim: SimulatorProcess,
  endpoints: Endpoints,
  kind: string,
  env: Record<string, string> = {},
  appOptions: Pick<AppOptions, "maxBatchRows"> = {},
): BenchApp {
  const topic = uniqueTopic(kind);
  const log = new LogTally(topic);
  const config = loadConfig({
    env: {
      AZURE_TENANT_ID: sim.tenantId,
      AZURE_CLIENT_ID: sim.clientId,
      AZURE_CLIENT_SECRET: sim.clientSecret,
      AZURE_AUTHORITY_HOST: sim.url,
      GRAPH_ENDPOINT: sim.url,
      KAFKA_BROKERS: endpoints.brokers.join(","),
      SCHEMA_REGISTRY_URL: endpoints.registryUrl,
      KAFKA_TOPIC: topic,
      METRICS_PORT: "0",
      LOG_LEVEL: "warn",
      ...env,
    },
  });
  const app = createApp(config, { extraCaPem: sim.caCertificatePem, logger: log.logger, ...appOptions });
  const unregister = onCleanup(() => app.close());
  return {
    app,
    topic,
    log,
    async close() {
      unregister();
      await app.close();
      await deleteTopics(app.kafka, topicsOf(topic));
      await log.close();
    },
  };
}

/** Deletes the benchmark's own topics (unique names) so that the shared broker's disk stays small. */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  try {
    const existing = new Set(await admin.listTopics());
    const ours = topics.filter((topic) => existing.has(topic));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  } finally {
    await admin.close();
  }
}

interface MetricLike {
  get(): Promise<{ values: { value: number; metricName?: string }[] }>;
}

/** Sum over all label sets of a counter or gauge. */
export async function total(metric: MetricLike): Promise<number> {
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** A histogram's observation count and sum. */
export async function histogram(metric: MetricLike): Promise<{ count: number; sum: number }> {
  const values = (await metric.get()).values;
  const pick = (suffix: string) => values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
  return { count: pick("_count"), sum: pick("_sum") };
}
