/**
 * Every configuration variable, its default and its documentation: the single source of truth that
 * the loader validates against and that `--help` and the generated operations reference print.
 */
import type { ConfigVariable } from "./types.js";

/** Defaults, written the way an operator would write them; the loader parses them like any value. */
export const DEFAULTS = {
  GRAPH_CLOUD: "global",
  GRAPH_API_VERSION: "v1.0",
  GRAPH_CONNECT_TIMEOUT: "10s",
  GRAPH_HEADERS_TIMEOUT: "60s",
  GRAPH_BODY_TIMEOUT: "120s",
  GRAPH_MAX_RETRIES: "8",
  GRAPH_MAX_REQUESTS_PER_MINUTE: "190",
  GRAPH_MAX_RETRY_AFTER: "10m",
  KAFKA_TOPIC: "teams.pstn-calls",
  KAFKA_CLIENT_ID: "pstn-connector",
  KAFKA_SSL: "false",
  KAFKA_CONNECT_TIMEOUT: "10s",
  KAFKA_REQUEST_TIMEOUT: "30s",
  CONNECTOR_NAME: "default",
  CONNECTOR_START: "1d",
  POLL_INTERVAL: "5m",
  LOOKBACK: "48h",
  WINDOW_SLICE: "1d",
  CONNECTOR_FAILOVER_TIMEOUT: "10s",
  CONNECTOR_MAX_RESTART_BACKOFF: "5m",
  METRICS_PORT: "9464",
  LOG_LEVEL: "info",
} as const;

/** Suffixes of the topics derived from `KAFKA_TOPIC` when not set. */
export const DLQ_TOPIC_SUFFIX = ".dlq";
export const STATE_TOPIC_SUFFIX = ".state";

export const CONFIG_VARIABLES = [
  {
    name: "AZURE_TENANT_ID",
    group: "Azure",
    description: "Entra ID tenant to read call records from: its GUID or one of its domains.",
    default: undefined,
    required: true,
    secret: false,
    example: "contoso.onmicrosoft.com",
  },
  {
    name: "AZURE_CLIENT_ID",
    group: "Azure",
    description:
      "Application (client) id of the app registration holding the CallRecords.Read.All application permission.",
    default: undefined,
    required: true,
    secret: false,
    example: "11111111-2222-3333-4444-555555555555",
  },
  {
    name: "AZURE_CLIENT_SECRET",
    group: "Azure",
    description:
      "Client secret of the app registration. Set exactly one of this or AZURE_CLIENT_CERTIFICATE_PATH.",
    default: undefined,
    required: false,
    secret: true,
    example: "(the secret's value, not its id)",
  },
  {
    name: "AZURE_CLIENT_CERTIFICATE_PATH",
    group: "Azure",
    description:
      "PEM file holding the app's certificate and its unencrypted private key. Set exactly one of this or AZURE_CLIENT_SECRET.",
    default: undefined,
    required: false,
    secret: false,
    example: "/etc/pstn-connector/app.pem",
  },
  {
    name: "AZURE_AUTHORITY_HOST",
    group: "Azure",
    description: "Entra ID (login) host, an https URL. Overrides the one GRAPH_CLOUD implies.",
    default: "from GRAPH_CLOUD (https://login.microsoftonline.com for global)",
    required: false,
    secret: false,
    example: "https://login.microsoftonline.us",
  },
  {
    name: "GRAPH_CLOUD",
    group: "Graph",
    description:
      "Microsoft national cloud: global, usgov (US Government L4), dod (US Government L5) or china (21Vianet). Sets AZURE_AUTHORITY_HOST and GRAPH_ENDPOINT.",
    default: DEFAULTS.GRAPH_CLOUD,
    required: false,
    secret: false,
    example: "usgov",
  },
  {
    name: "GRAPH_ENDPOINT",
    group: "Graph",
    description:
      "Microsoft Graph base URL, https; the token scope is <GRAPH_ENDPOINT>/.default. Overrides the one GRAPH_CLOUD implies. A private CA is trusted through NODE_EXTRA_CA_CERTS.",
    default: "from GRAPH_CLOUD (https://graph.microsoft.com for global)",
    required: false,
    secret: false,
    example: "https://graph.microsoft.us",
  },
  {
    name: "GRAPH_API_VERSION",
    group: "Graph",
    description: "Graph API version: v1.0 or beta.",
    default: DEFAULTS.GRAPH_API_VERSION,
    required: false,
    secret: false,
    example: "beta",
  },
  {
    name: "GRAPH_CONNECT_TIMEOUT",
    group: "Graph",
    description: "Longest wait for a TCP and TLS connection to Graph or Entra ID.",
    default: DEFAULTS.GRAPH_CONNECT_TIMEOUT,
    required: false,
    secret: false,
    example: "5s",
  },
  {
    name: "GRAPH_HEADERS_TIMEOUT",
    group: "Graph",
    description: "Longest wait for the response headers of a Graph request once sent.",
    default: DEFAULTS.GRAPH_HEADERS_TIMEOUT,
    required: false,
    secret: false,
    example: "90s",
  },
  {
    name: "GRAPH_BODY_TIMEOUT",
    group: "Graph",
    description: "Longest silence while reading a Graph response body.",
    default: DEFAULTS.GRAPH_BODY_TIMEOUT,
    required: false,
    secret: false,
    example: "3m",
  },
  {
    name: "GRAPH_MAX_RETRIES",
    group: "Graph",
    description:
      "Retries of one Graph request after throttling (429), 5xx or network errors before the poll fails.",
    default: DEFAULTS.GRAPH_MAX_RETRIES,
    required: false,
    secret: false,
    example: "5",
  },
  {
    name: "GRAPH_MAX_REQUESTS_PER_MINUTE",
    group: "Graph",
    description:
      "Client-side pacing of call-record requests (a token bucket with a burst of 10, so any 60 s holds at most 10 more than this), kept within Graph's limit of about 200 per minute per app and tenant so that 429s stay rare.",
    default: DEFAULTS.GRAPH_MAX_REQUESTS_PER_MINUTE,
    required: false,
    secret: false,
    example: "120",
  },
  {
    name: "GRAPH_MAX_RETRY_AFTER",
    group: "Graph",
    description:
      "The longest wait one Retry-After (429, 503, 504) may impose on every Graph request of the connector (at most 24h). A longer Retry-After is waited as this, and logged.",
    default: DEFAULTS.GRAPH_MAX_RETRY_AFTER,
    required: false,
    secret: false,
    example: "5m",
  },
  {
    name: "KAFKA_BROKERS",
    group: "Kafka",
    description: "Bootstrap brokers, comma-separated host:port.",
    default: undefined,
    required: true,
    secret: false,
    example: "kafka-1:9092,kafka-2:9092",
  },
  {
    name: "KAFKA_TOPIC",
    group: "Kafka",
    description: "Topic the call-log rows are published to.",
    default: DEFAULTS.KAFKA_TOPIC,
    required: false,
    secret: false,
    example: "teams.pstn-calls",
  },
  {
    name: "KAFKA_DLQ_TOPIC",
    group: "Kafka",
    description: "Dead-letter topic for rows that cannot be encoded.",
    default: `<KAFKA_TOPIC>${DLQ_TOPIC_SUFFIX}`,
    required: false,
    secret: false,
    example: "teams.pstn-calls.dlq",
  },
  {
    name: "KAFKA_STATE_TOPIC",
    group: "Kafka",
    description: "Compacted topic holding the connector's progress and the ids it has published.",
    default: `<KAFKA_TOPIC>${STATE_TOPIC_SUFFIX}`,
    required: false,
    secret: false,
    example: "teams.pstn-calls.state",
  },
  {
    name: "KAFKA_CLIENT_ID",
    group: "Kafka",
    description: "Kafka client id, as brokers show it in logs and quotas.",
    default: DEFAULTS.KAFKA_CLIENT_ID,
    required: false,
    secret: false,
    example: "pstn-connector-prod",
  },
  {
    name: "KAFKA_SSL",
    group: "Kafka",
    description: "Connect to the brokers over TLS: true/false, 1/0 or yes/no.",
    default: DEFAULTS.KAFKA_SSL,
    required: false,
    secret: false,
    example: "true",
  },
  {
    name: "KAFKA_SASL_MECHANISM",
    group: "Kafka",
    description:
      "SASL mechanism: plain, scram-sha-256 or scram-sha-512. Needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD.",
    default: "none (no SASL)",
    required: false,
    secret: false,
    example: "scram-sha-512",
  },
  {
    name: "KAFKA_SASL_USERNAME",
    group: "Kafka",
    description: "SASL user name.",
    default: undefined,
    required: false,
    secret: false,
    example: "pstn-connector",
  },
  {
    name: "KAFKA_SASL_PASSWORD",
    group: "Kafka",
    description: "SASL password.",
    default: undefined,
    required: false,
    secret: true,
    example: "(the password)",
  },
  {
    name: "KAFKA_CONNECT_TIMEOUT",
    group: "Kafka",
    description: "Longest wait for a connection to a broker.",
    default: DEFAULTS.KAFKA_CONNECT_TIMEOUT,
    required: false,
    secret: false,
    example: "5s",
  },
  {
    name: "KAFKA_REQUEST_TIMEOUT",
    group: "Kafka",
    description: "Longest wait for a broker's answer to one request.",
    default: DEFAULTS.KAFKA_REQUEST_TIMEOUT,
    required: false,
    secret: false,
    example: "1m",
  },
  {
    name: "SCHEMA_REGISTRY_URL",
    group: "Schema registry",
    description: "Base URL of a Confluent-compatible schema registry (http or https).",
    default: undefined,
    required: true,
    secret: false,
    example: "https://registry.example.com:8081",
  },
  {
    name: "SCHEMA_REGISTRY_USERNAME",
    group: "Schema registry",
    description: "Registry basic-auth user name; needs SCHEMA_REGISTRY_PASSWORD.",
    default: undefined,
    required: false,
    secret: false,
    example: "pstn-connector",
  },
  {
    name: "SCHEMA_REGISTRY_PASSWORD",
    group: "Schema registry",
    description: "Registry basic-auth password; needs SCHEMA_REGISTRY_USERNAME.",
    default: undefined,
    required: false,
    secret: true,
    example: "(the password)",
  },
  {
    name: "CONNECTOR_NAME",
    group: "Connector",
    description:
      "Name of this connector; with the tenant it forms the connector's identity (its progress and Kafka transactional id), so a second instance with the same name takes over from the first. Letters, digits, '.', '_' and '-'.",
    default: DEFAULTS.CONNECTOR_NAME,
    required: false,
    secret: false,
    example: "emea",
  },
  {
    name: "CONNECTOR_START",
    group: "Connector",
    description:
      "Where a first run begins: an ISO-8601 instant with a zone, or a duration meaning that long before the first start. Ignored once progress is stored.",
    default: DEFAULTS.CONNECTOR_START,
    required: false,
    secret: false,
    example: "2024-05-01T00:00:00Z",
  },
  {
    name: "POLL_INTERVAL",
    group: "Connector",
    description: "Time between polls (at most 24d).",
    default: DEFAULTS.POLL_INTERVAL,
    required: false,
    secret: false,
    example: "15m",
  },
  {
    name: "LOOKBACK",
    group: "Connector",
    description:
      "How far behind the newest fully-read instant each poll reads again, for rows Graph publishes late (it documents up to 48 hours).",
    default: DEFAULTS.LOOKBACK,
    required: false,
    secret: false,
    example: "72h",
  },
  {
    name: "WINDOW_SLICE",
    group: "Connector",
    description: "Longest time range one Graph request asks for (at most 90d, Graph's limit).",
    default: DEFAULTS.WINDOW_SLICE,
    required: false,
    secret: false,
    example: "12h",
  },
  {
    name: "CONNECTOR_FAILOVER_TIMEOUT",
    group: "Connector",
    description:
      "Instances with the same identity elect one active instance through a Kafka consumer group; the others stand by. This is how long the group waits for a silent active instance (the group session timeout, within the broker's group.min/max.session.timeout.ms) before a standby takes over.",
    default: DEFAULTS.CONNECTOR_FAILOVER_TIMEOUT,
    required: false,
    secret: false,
    example: "30s",
  },
  {
    name: "CONNECTOR_MAX_RESTART_BACKOFF",
    group: "Connector",
    description:
      "After a failed poll the connector starts a new session after a wait that doubles with each failure in a row (from 1 s, with jitter) up to this (at most 24h); a success resets it. The process stays up, /readyz reports the failure and pstn_connector_session_failures_total{code} counts it.",
    default: DEFAULTS.CONNECTOR_MAX_RESTART_BACKOFF,
    required: false,
    secret: false,
    example: "15m",
  },
  {
    name: "METRICS_PORT",
    group: "Operations",
    description: "Port of /metrics, /healthz and /readyz; 0 picks a free port.",
    default: DEFAULTS.METRICS_PORT,
    required: false,
    secret: false,
    example: "9464",
  },
  {
    name: "LOG_LEVEL",
    group: "Operations",
    description: "Least severe log level written: trace, debug, info, warn, error or fatal.",
    default: DEFAULTS.LOG_LEVEL,
    required: false,
    secret: false,
    example: "debug",
  },
] as const satisfies readonly ConfigVariable[];

export type VariableName = (typeof CONFIG_VARIABLES)[number]["name"];

export const VARIABLE_NAMES: ReadonlySet<string> = new Set(CONFIG_VARIABLES.map((variable) => variable.name));

export const SECRET_VARIABLES: ReadonlySet<string> = new Set(
  CONFIG_VARIABLES.filter((variable) => variable.secret).map((variable) => variable.name),
);

/**
 * Prefixes that belong to this connector alone: an unknown variable starting with one is a mistake.
 * (`AZURE_` and `KAFKA_` are shared with other tools, so only near-misspellings are flagged there.)
 */
export const OWN_PREFIXES = ["GRAPH_", "CONNECTOR_", "WINDOW_", "METRICS_"] as const;

export interface RetiredVariable {
  /** The variable to set instead; absent when the option is gone without a replacement. */
  readonly replacedBy?: VariableName;
  /** What changed, for the operator. */
  readonly note?: string;
}

/**
 * Variables that were removed or renamed: setting one fails loudly and names what to do instead,
 * rather than being silently ignored. Add an entry whenever a variable is renamed or removed.
 */
export const RETIRED_VARIABLES: Readonly<Record<string, RetiredVariable>> = {};
