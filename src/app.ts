import { createSecureContext, rootCertificates } from "node:tls";
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { Agent, type Dispatcher } from "undici";
import { MsalTokenSource, type TokenSource } from "./auth/token-provider.js";
import { type ConnectorConfig, resolveStart } from "./config/index.js";
import { GraphClient } from "./graph/client.js";
import { RequestPacer } from "./graph/pacer.js";
import { createKafka, type Kafka, KafkaSink } from "./kafka/index.js";
import { createLogger, type Logger } from "./log.js";
import { Health, StreamsHealth } from "./metrics/health.js";
import { Metrics } from "./metrics/index.js";
import { type Progress, Source } from "./pipeline/source.js";
import { registrarOf } from "./registry.js";
import type { Sink } from "./sink.js";
import { STREAMS } from "./streams/index.js";

export interface AppOptions {
  /** A CA to trust besides the system's (the simulator's); in production NODE_EXTRA_CA_CERTS does this. */
  extraCaPem?: string;
  logger?: Logger;
  metrics?: Metrics;
  now?: () => number;
  onProgress?: (progress: Progress) => void;
  /** Pacer burst: requests allowed back to back before the per-minute rate applies. */
  pacerBurst?: number;
  /** Backoff of Graph retries without Retry-After. */
  graphBackoff?: { minMs: number; maxMs: number };
  maxBatchRows?: number;
  /** Where pages are parsed and rows encoded (ConnectorOptions.pageDecoder); a worker thread by default. */
  pageDecoder?: "worker" | "inline";
}

export interface App {
  config: ConnectorConfig;
  /** One source per stream of CONNECTOR_STREAMS, in its order. */
  sources: Source[];
  /** The first of `sources`: the only one when one stream is read. */
  source: Source;
  metrics: Metrics;
  health: StreamsHealth;
  logger: Logger;
  tokens: TokenSource;
  graph: GraphClient;
  kafka: Kafka;
  sink: Sink;
  registry: SchemaRegistry;
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

/** Wires the connector's parts from one validated configuration. */
export function createApp(config: ConnectorConfig, options: AppOptions = {}): App {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? new Metrics();
  const now = options.now ?? Date.now;
  const dispatcher = new Agent({
    connect: {
      timeout: config.graph.connectTimeoutMs,
      // One context for every connection: given `ca` instead, each connection would parse every root.
      ...(options.extraCaPem
        ? { secureContext: createSecureContext({ ca: [...rootCertificates, options.extraCaPem] }) }
        : {}),
    },
    keepAliveTimeout: 30_000,
  });
  const tokens = new MsalTokenSource({
    tenantId: config.azure.tenantId,
    clientId: config.azure.clientId,
    clientSecret: config.azure.clientSecret,
    clientCertificatePath: config.azure.clientCertificatePath,
    authorityHost: config.azure.authorityHost,
    scope: config.graph.scope,
    dispatcher,
    timeoutMs: config.graph.headersTimeoutMs,
    metrics,
    now,
  });
  const graph = new GraphClient({
    endpoint: config.graph.endpoint,
    apiVersion: config.graph.apiVersion,
    tokens,
    dispatcher,
    headersTimeoutMs: config.graph.headersTimeoutMs,
    bodyTimeoutMs: config.graph.bodyTimeoutMs,
    maxRetries: config.graph.maxRetries,
    pacer: new RequestPacer(config.graph.maxRequestsPerMinute, options.pacerBurst ?? 10, now, {
      maxHoldMs: config.graph.maxRetryAfterMs,
    }),
    maxPageBytes: config.graph.maxPageBytes,
    maxPagesPerWindow: config.graph.maxPagesPerWindow,
    logger,
    clientId: config.azure.clientId,
    tenantId: config.azure.tenantId,
    backoff: options.graphBackoff,
    now,
  });
  const kafka = createKafka(config.kafka, { dispatcher, logger, metrics, now });
  const registry = new SchemaRegistry({
    host: config.schemaRegistry.url,
    ...(config.schemaRegistry.username
      ? { auth: { username: config.schemaRegistry.username, password: config.schemaRegistry.password ?? "" } }
      : {}),
  });
  const sink = new KafkaSink({ kafka, logger, compression: config.kafka.compression });
  const start = resolveStart(config.connector.start, new Date(now()));
  const sources = config.connector.streams.map(
    (stream) =>
      new Source({
        unit: {
          tenantId: config.azure.tenantId,
          stream: STREAMS[stream],
          name: config.connector.name,
          topics: config.kafka.topics[stream],
          start,
        },
        pollIntervalMs: config.connector.pollIntervalMs,
        maxRestartBackoffMs: config.connector.maxRestartBackoffMs,
        lookbackMs: config.connector.lookbackMs,
        sliceMs: config.connector.windowSliceMs,
        maxBatchRows: options.maxBatchRows,
        pageDecoder: options.pageDecoder,
        graph,
        sink,
        registry: registrarOf(registry),
        metrics,
        logger,
        health: new Health(),
        now,
        onProgress: options.onProgress,
      }),
  );
  const health = new StreamsHealth(
    new Map(sources.map((source) => [source.unit.stream.name, source.health])),
  );
  return {
    config,
    sources,
    source: sources[0] as Source,
    metrics,
    health,
    logger,
    tokens,
    graph,
    kafka,
    sink,
    registry,
    dispatcher,
    async close() {
      await Promise.all(sources.map((source) => source.close()));
      await dispatcher.close();
    },
  };
}
