import { hostname } from "node:os";
import { createSecureContext, rootCertificates } from "node:tls";
import { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { Agent, type Dispatcher } from "undici";
import { MsalTokenSource, type TokenSource } from "./auth/token-provider.js";
import { type ConnectorConfig, resolveStart } from "./config/index.js";
import type { TenantConfig } from "./config/tenants.js";
import { GraphClient } from "./graph/client.js";
import { RequestPacer } from "./graph/pacer.js";
import { createKafka, type Kafka, KafkaSink, SlottedSink } from "./kafka/index.js";
import { createLogger, type Logger } from "./log.js";
import { Health, StreamsHealth } from "./metrics/health.js";
import { Metrics } from "./metrics/index.js";
import { DecoderThreads } from "./pipeline/page-decoder.js";
import { type Progress, Source, type SourceUnit } from "./pipeline/source.js";
import { registrarOf } from "./registry.js";
import type { Sink } from "./sink.js";
import { STREAMS, type StreamName } from "./streams/index.js";

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
  /**
   * The units are spread over the deployment's replicas by slots (`run` with a tenants file):
   * sessions and elections are the slots' (SlottedSink) instead of one per unit.
   */
  slotted?: boolean;
}

/** One tenant's part of the app: its own token, its own Graph budget, its streams. */
export interface TenantApp {
  tenant: TenantConfig;
  tokens: TokenSource;
  /** Graph for this tenant, with its own pacer and Retry-After gate. */
  graph: GraphClient;
  /** One source per stream of the tenant, in its order. */
  sources: Source[];
}

export interface App {
  config: ConnectorConfig;
  /** Each tenant read (config.tenants), in order. */
  tenants: TenantApp[];
  /** Every source: each tenant's streams, tenant by tenant. */
  sources: Source[];
  /** The first of `sources`: the only one when one tenant's one stream is read. */
  source: Source;
  metrics: Metrics;
  health: StreamsHealth;
  logger: Logger;
  /** The first tenant's token source and Graph client. */
  tokens: TokenSource;
  graph: GraphClient;
  kafka: Kafka;
  sink: Sink;
  registry: SchemaRegistry;
  dispatcher: Dispatcher;
  /** A tenant the reloaded tenants file adds: its sources, built on the app's shared parts. */
  addTenant(tenant: TenantConfig): TenantApp;
  /** A tenant the reloaded file removes (its sources already stopped): forgotten, closed. */
  removeTenant(tenant: TenantApp): Promise<void>;
  close(): Promise<void>;
}

/** Wires the connector's parts from one validated configuration. */
export function createApp(config: ConnectorConfig, options: AppOptions = {}): App {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? new Metrics({ tenantLabel: config.metricsTenantLabel });
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
  const kafka = createKafka(config.kafka, { dispatcher, logger, metrics, now });
  const registry = new SchemaRegistry({
    host: config.schemaRegistry.url,
    ...(config.schemaRegistry.username
      ? { auth: { username: config.schemaRegistry.username, password: config.schemaRegistry.password ?? "" } }
      : {}),
  });
  const registrar = registrarOf(registry);
  const sources: Source[] = [];
  const sink: Sink = options.slotted
    ? new SlottedSink({
        kafka,
        logger,
        compression: config.kafka.compression,
        slotsTopic: config.slots.topic,
        slots: config.slots.count,
        name: config.connector.name,
        sessionTimeoutMs: config.connector.failoverTimeoutMs,
        stateTopics: () => [...new Set(sources.map((source) => source.unit.topics.state))],
        units: () =>
          sources.map((source) => ({ identity: source.identity(), stateTopic: source.unit.topics.state })),
        onHeld: (held) => metrics.slotsHeld.set(held),
      })
    : new KafkaSink({ kafka, logger, compression: config.kafka.compression });
  // With a tenants file the tenants share the topics: metrics and records say whose they are.
  const fleet = config.tenantsFile !== undefined;
  // One decoder thread per stream, whatever the number of tenants reading it.
  const perStream: Partial<Record<StreamName, number>> = {};
  for (const tenant of config.tenants)
    for (const stream of tenant.streams) perStream[stream] = (perStream[stream] ?? 0) + 1;
  const decoderThreads = new DecoderThreads(perStream);
  // With a tenants file, the units' first polls (and so all their polls) are spread evenly over
  // POLL_INTERVAL, so that many tenants do not poll, publish and commit at the same instant.
  const units = config.tenants.reduce((sum, tenant) => sum + tenant.streams.length, 0);
  let unit = 0;
  const firstPollDelay = () => (fleet ? Math.floor((unit++ * config.connector.pollIntervalMs) / units) : 0);
  // A tenant's own parts (token, Graph budget, sources) on the app's shared ones.
  const buildTenant = (tenant: TenantConfig, firstPollDelayMs: () => number): TenantApp => {
    const tenantLogger = fleet ? logger.child({ tenant: tenant.tenantId }) : logger;
    const tokens = new MsalTokenSource({
      tenantId: tenant.tenantId,
      clientId: tenant.credentials.clientId,
      clientSecret: tenant.credentials.clientSecret,
      clientCertificatePath: tenant.credentials.clientCertificatePath,
      authorityHost: config.azure.authorityHost,
      scope: config.graph.scope,
      dispatcher,
      timeoutMs: config.graph.headersTimeoutMs,
      metrics,
      metricsTenant: fleet && metrics.tenantLabel ? tenant.tenantId : undefined,
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
      // Graph's budget is per app and tenant: each tenant has its own.
      pacer: new RequestPacer(config.graph.maxRequestsPerMinute, options.pacerBurst ?? 10, now, {
        maxHoldMs: config.graph.maxRetryAfterMs,
      }),
      maxPageBytes: config.graph.maxPageBytes,
      maxPagesPerWindow: config.graph.maxPagesPerWindow,
      logger: tenantLogger,
      clientId: tenant.credentials.clientId,
      tenantId: tenant.tenantId,
      backoff: options.graphBackoff,
      now,
    });
    const start = resolveStart(tenant.start, new Date(now()));
    const sources = tenant.streams.map(
      (stream) =>
        new Source({
          unit: {
            tenantId: tenant.tenantId,
            stream: STREAMS[stream],
            name: config.connector.name,
            ...unitOutputs(config, stream),
            start,
            tenantTag: fleet ? tenant.tenantId : undefined,
          },
          pollIntervalMs: config.connector.pollIntervalMs,
          firstPollDelayMs: firstPollDelayMs(),
          maxRestartBackoffMs: config.connector.maxRestartBackoffMs,
          lookbackMs: config.connector.lookbackMs,
          sliceMs: config.connector.windowSliceMs,
          maxBatchRows: options.maxBatchRows,
          pageDecoder: options.pageDecoder,
          decoderThreads,
          graph,
          sink,
          registry: registrar,
          metrics,
          // The source names its tenant and stream in its own lines.
          logger,
          health: new Health(),
          now,
          onProgress: options.onProgress,
        }),
    );
    return { tenant, tokens, graph, sources };
  };
  const tenants = config.tenants.map((tenant) => buildTenant(tenant, firstPollDelay));
  sources.push(...tenants.flatMap((tenant) => tenant.sources));
  const replica = `${hostname()}/${process.pid}`;
  // With slots, /status names each unit's slot (once the replica joined the group).
  const slotOf = (identity: string) => (sink instanceof SlottedSink ? sink.slotOf(identity) : undefined);
  const health = new StreamsHealth(
    new Map(sources.map((source) => [unitName(source, fleet), source.health])),
    () => ({
      replica,
      units: tenants.flatMap(({ tenant, sources: ofTenant }) =>
        ofTenant.map((source) => unitStatus(tenant, source, replica, slotOf(source.identity()))),
      ),
    }),
  );
  metrics.watchUnits(() => health.unitStates());
  const first = tenants[0] as TenantApp;
  return {
    config,
    tenants,
    sources,
    source: sources[0] as Source,
    metrics,
    health,
    logger,
    tokens: first.tokens,
    graph: first.graph,
    kafka,
    sink,
    registry,
    dispatcher,
    addTenant(tenant) {
      const added = buildTenant(tenant, () => 0);
      tenants.push(added);
      sources.push(...added.sources);
      for (const source of added.sources) health.add(unitName(source, fleet), source.health);
      return added;
    },
    async removeTenant(removed) {
      const at = tenants.indexOf(removed);
      if (at < 0) return;
      tenants.splice(at, 1);
      for (const source of removed.sources) {
        sources.splice(sources.indexOf(source), 1);
        health.remove(unitName(source, fleet));
      }
      await Promise.all(removed.sources.map((source) => source.close()));
      for (const source of removed.sources) source.metrics.forget();
    },
    async close() {
      await Promise.all(sources.map((source) => source.close()));
      await sink.close?.();
      await decoderThreads.close();
      await dispatcher.close();
    },
  };
}

/**
 * One unit as /status lists it: who reads it (this replica, or another one while this stands by),
 * how far it has published, and the code of its last failure (never a message: no secret leaks).
 */
function unitStatus(tenant: TenantConfig, source: Source, replica: string, slot: number | undefined): object {
  const health = source.health.snapshot();
  const state = source.health.unitState;
  return {
    tenant: tenant.tenantId,
    name: tenant.name,
    stream: source.unit.stream.name,
    topic: source.unit.topics.outputs[0],
    ...(source.unit.topics.outputs.length > 1 ? { outputs: source.unit.topics.outputs } : {}),
    state,
    owner: state === "standby" ? "another replica" : replica,
    ...(slot === undefined ? {} : { slot }),
    watermark: source.stats.watermark?.toISOString() ?? null,
    published: source.stats.published,
    deadLettered: source.stats.deadLettered,
    lastFailure: health.stopped ?? health.sessionFailing,
  };
}

/** How /readyz names a source: its stream, and its tenant when several share the process. */
function unitName(source: Source, fleet: boolean): string {
  const stream = source.unit.stream.name;
  return fleet ? `${source.unit.tenantId}/${stream}` : stream;
}

/**
 * A stream's topics and, under a privacy policy, its outputs' rules: one output per policy entry,
 * else the stream's own topic with its rows as Graph sent them.
 */
function unitOutputs(
  config: ConnectorConfig,
  stream: StreamName,
): { topics: SourceUnit["topics"]; privacy?: SourceUnit["privacy"] } {
  const { data, dlq, state } = config.kafka.topics[stream];
  const privacy = config.privacy;
  const outputs = privacy?.outputs[stream];
  if (privacy === undefined || outputs === undefined) return { topics: { outputs: [data], dlq, state } };
  return {
    topics: { outputs: outputs.map((output) => output.topic), dlq, state },
    privacy: {
      version: privacy.version,
      outputs: outputs.map(({ policy, keyId }) => (keyId === undefined ? { policy } : { policy, keyId })),
    },
  };
}
