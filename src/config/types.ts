/** The connector's configuration: one typed object, loaded and validated once at start-up. */
import type { z } from "zod";
import type { StreamName } from "../streams/index.js";
import type { PrivacyConfig } from "./privacy.js";
import type { TenantConfig } from "./tenants.js";

export const GRAPH_CLOUDS = ["global", "usgov", "dod", "china"] as const;
export type GraphCloud = (typeof GRAPH_CLOUDS)[number];

export const GRAPH_API_VERSIONS = ["v1.0", "beta"] as const;
type GraphApiVersion = (typeof GRAPH_API_VERSIONS)[number];

/** What the Kafka client can compress record batches with (all of them readable by Kafka's Java clients). */
export const KAFKA_COMPRESSIONS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

export const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512", "oauthbearer"] as const;
type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export const OAUTH_CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"] as const;
export type OAuthClientAuthMethod = (typeof OAUTH_CLIENT_AUTH_METHODS)[number];

/** SASL with a user name and password, or OAUTHBEARER with tokens from client credentials. */
export type KafkaSasl =
  | { mechanism: Exclude<SaslMechanism, "oauthbearer">; username: string; password: string }
  | { mechanism: "oauthbearer"; oauthBearer: KafkaOAuthBearer };

export interface KafkaOAuthBearer {
  /**
   * Where tokens come from: Entra ID through msal (the default: the authority and tenant Graph's
   * tokens come from), or any OAuth2 token endpoint by a client_credentials POST.
   */
  tokenEndpoint: { kind: "entra"; authorityHost: string; tenantId: string } | { kind: "oidc"; url: string };
  clientId: string;
  clientSecret?: string;
  /** Entra ID only: Graph's certificate credential, when the Kafka identity is Graph's. */
  clientCertificatePath?: string;
  scope: string;
  /** SASL extensions sent with the token (RFC 7628), e.g. Confluent Cloud's logicalCluster. */
  extensions: Record<string, string>;
  /** How the client secret reaches an OIDC token endpoint. */
  clientAuthMethod: OAuthClientAuthMethod;
}

/** PEM files for TLS to the brokers; their presence implies TLS. */
export interface KafkaTlsFiles {
  /** CA certificates trusted besides the system's. */
  caFile?: string;
  /** Client certificate (chain) and its private key, for mTLS. */
  certFile?: string;
  keyFile?: string;
  keyPassword?: string;
}

/** A stream's three topics: its rows, its dead letters, its progress (compacted). */
export interface StreamTopics {
  data: string;
  dlq: string;
  state: string;
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
type LogLevel = (typeof LOG_LEVELS)[number];

/** Where a first run begins: a fixed instant, or a duration before the moment the run starts. */
export type StartSpec = { kind: "instant"; at: Date } | { kind: "ago"; ms: number };

export interface ConnectorConfig {
  azure: {
    /** AZURE_TENANT_ID: the single tenant; undefined when CONNECTOR_TENANTS_FILE lists them. */
    tenantId?: string;
    clientId: string;
    clientSecret?: string;
    clientCertificatePath?: string;
    /** e.g. `https://login.microsoftonline.com`, no trailing slash. */
    authorityHost: string;
    cloud: GraphCloud;
  };
  graph: {
    /** e.g. `https://graph.microsoft.com`, no trailing slash. */
    endpoint: string;
    apiVersion: GraphApiVersion;
    /** `${endpoint}/.default` */
    scope: string;
    connectTimeoutMs: number;
    headersTimeoutMs: number;
    bodyTimeoutMs: number;
    maxRetries: number;
    maxRequestsPerMinute: number;
    /** GRAPH_MAX_PAGE_BYTES */
    maxPageBytes: number;
    /** GRAPH_MAX_PAGES_PER_WINDOW */
    maxPagesPerWindow: number;
    /** Cap of one Retry-After (GRAPH_MAX_RETRY_AFTER). */
    maxRetryAfterMs: number;
  };
  kafka: {
    brokers: string[];
    /** Each stream's topics, the chosen ones and the others alike. */
    topics: Record<StreamName, StreamTopics>;
    clientId: string;
    compression: KafkaCompression;
    ssl: boolean;
    tls?: KafkaTlsFiles;
    sasl?: KafkaSasl;
    connectTimeoutMs: number;
    requestTimeoutMs: number;
  };
  schemaRegistry: { url: string; username?: string; password?: string };
  /**
   * Every tenant read, in the order given: the tenants file's, or the single tenant of
   * AZURE_TENANT_ID with the environment's streams, start and app.
   */
  tenants: TenantConfig[];
  /** CONNECTOR_TENANTS_FILE, resolved; undefined for the single tenant of the environment. */
  tenantsFile?: string;
  /** CONNECTOR_TENANTS_RELOAD_INTERVAL: how often `run` reads the tenants file again. */
  tenantsReloadMs: number;
  /** PRIVACY_POLICY_FILE, read: each stream's output topics and what each may see of a row. */
  privacy?: PrivacyConfig;
  /** PRIVACY_POLICY_FILE, resolved; undefined: each stream writes its rows as Graph sent them to its topic. */
  privacyFile?: string;
  /** With a tenants file: the slots the units are spread over (KAFKA_SLOTS_TOPIC, CONNECTOR_SLOTS). */
  slots: { topic: string; count: number };
  connector: {
    /** CONNECTOR_STREAMS: the streams read, in the order given. */
    streams: StreamName[];
    name: string;
    start: StartSpec;
    pollIntervalMs: number;
    lookbackMs: number;
    windowSliceMs: number;
    /** Consumer-group session timeout of the leader election: how soon a standby takes over. */
    failoverTimeoutMs: number;
    /** Longest wait before a new session after failures in a row (CONNECTOR_MAX_RESTART_BACKOFF). */
    maxRestartBackoffMs: number;
  };
  metricsPort: number;
  /** Address the metrics server binds; `undefined`: all interfaces. */
  metricsHost?: string;
  /** METRICS_TENANT_LABEL: with a tenants file, whether series carry `tenant`. */
  metricsTenantLabel: boolean;
  /** CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS: the operator vouches for the network. */
  allowCleartextCredentials: boolean;
  logLevel: LogLevel;
}

/** One variable: what the generated reference prints, and how its value is read. */
export interface ConfigVariable {
  readonly name: string;
  /** Heading it is listed under in the reference. */
  readonly group: "Azure" | "Graph" | "Kafka" | "Schema registry" | "Connector" | "Privacy" | "Operations";
  readonly description: string;
  /** The default as an operator would write it, or a sentence naming where it comes from. */
  readonly default?: string;
  /** Set for a required variable: what its problem line asks for when it is missing. */
  readonly required?: string;
  /** Its value never appears in logs, metrics or error messages. */
  readonly secret?: true;
  readonly example: string;
  /** Reads its value (trimmed, never empty) into what the configuration holds. */
  readonly schema: z.ZodType<unknown, string>;
}
