/**
 * Every configuration variable: its documentation, its default and its schema. The single source of
 * truth that the loader parses with (schema.ts) and that the generated reference prints.
 */
import { STREAMS, type StreamName } from "../streams/index.js";
import { MAX_GRAPH_RANGE_MS } from "../windows/planner.js";
import * as check from "./fields.js";
import {
  type ConfigVariable,
  GRAPH_API_VERSIONS,
  GRAPH_CLOUDS,
  KAFKA_COMPRESSIONS,
  LOG_LEVELS,
  OAUTH_CLIENT_AUTH_METHODS,
  SASL_MECHANISMS,
} from "./types.js";

/**
 * Defaults, written the way an operator would write them; the loader parses them like any value.
 * KAFKA_SSL's and KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD's hold only in some cases (schema.ts).
 */
export const DEFAULTS = {
  GRAPH_CLOUD: "global",
  GRAPH_API_VERSION: "v1.0",
  GRAPH_CONNECT_TIMEOUT: "10s",
  GRAPH_HEADERS_TIMEOUT: "60s",
  GRAPH_BODY_TIMEOUT: "120s",
  GRAPH_MAX_RETRIES: "8",
  GRAPH_MAX_REQUESTS_PER_MINUTE: "190",
  GRAPH_MAX_PAGE_BYTES: "64MiB",
  GRAPH_MAX_PAGES_PER_WINDOW: "10000",
  GRAPH_MAX_RETRY_AFTER: "10m",
  KAFKA_TOPIC: "teams.pstn-calls",
  KAFKA_TOPIC_DIRECT_ROUTING: "teams.direct-routing-calls",
  KAFKA_TOPIC_SMS: "teams.sms-log",
  KAFKA_CLIENT_ID: "pstn-connector",
  KAFKA_COMPRESSION: "zstd",
  KAFKA_SSL: "false",
  KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD: "client_secret_basic",
  KAFKA_CONNECT_TIMEOUT: "10s",
  KAFKA_REQUEST_TIMEOUT: "30s",
  CONNECTOR_STREAMS: "pstn",
  CONNECTOR_TENANTS_RELOAD_INTERVAL: "10s",
  CONNECTOR_SLOTS: "24",
  KAFKA_SLOTS_TOPIC: "teams.pstn-connector.slots",
  METRICS_TENANT_LABEL: "true",
  CONNECTOR_NAME: "default",
  CONNECTOR_START: "1d",
  POLL_INTERVAL: "5m",
  LOOKBACK: "48h",
  WINDOW_SLICE: "1d",
  CONNECTOR_FAILOVER_TIMEOUT: "10s",
  CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS: "false",
  CONNECTOR_MAX_RESTART_BACKOFF: "5m",
  METRICS_PORT: "9464",
  LOG_LEVEL: "info",
} as const;

/** The variable naming each stream's data topic; its dead-letter and state topics derive from it. */
export const STREAM_TOPIC_VARIABLES = {
  pstn: "KAFKA_TOPIC",
  directRouting: "KAFKA_TOPIC_DIRECT_ROUTING",
  sms: "KAFKA_TOPIC_SMS",
} as const satisfies Record<StreamName, string>;

/** Suffixes of the topics derived from a data topic when not set. */
export const DLQ_TOPIC_SUFFIX = ".dlq";
export const STATE_TOPIC_SUFFIX = ".state";

/**
 * A page is parsed as one string in the decoder thread: below 64 KiB real pages (about 1 MB for
 * 1,000 rows) would be refused, above 256 MiB the string and its rows outgrow that thread's heap.
 */
const MIN_PAGE_BYTES = 64 * 1024;
const MAX_PAGE_BYTES = 256 * 1024 * 1024;

const upToADay = check.duration({ allowZero: false, maxMs: 86_400_000, maxReason: "a day" });

const TABLE = [
  {
    name: "AZURE_TENANT_ID",
    group: "Azure",
    description:
      "Entra ID tenant to read call records from: its GUID or one of its domains. Required unless CONNECTOR_TENANTS_FILE lists the tenants.",
    default: "none: required, unless CONNECTOR_TENANTS_FILE is set",
    example: "contoso.onmicrosoft.com",
    schema: check.tenant,
  },
  {
    name: "AZURE_CLIENT_ID",
    group: "Azure",
    description:
      "Application (client) id of the app registration holding the CallRecords.Read.All application permission.",
    required: "the application (client) id, a GUID",
    example: "11111111-2222-3333-4444-555555555555",
    schema: check.guid("an application (client) id"),
  },
  {
    name: "AZURE_CLIENT_SECRET",
    group: "Azure",
    description:
      "Client secret of the app registration. Set exactly one of this or AZURE_CLIENT_CERTIFICATE_PATH.",
    secret: true,
    example: "(the secret's value, not its id)",
    schema: check.text,
  },
  {
    name: "AZURE_CLIENT_CERTIFICATE_PATH",
    group: "Azure",
    description:
      "PEM file holding the app's certificate and its unencrypted private key. Set exactly one of this or AZURE_CLIENT_SECRET.",
    example: "/etc/pstn-connector/app.pem",
    schema: check.text,
  },
  {
    name: "AZURE_AUTHORITY_HOST",
    group: "Azure",
    description:
      "Entra ID (login) host, an https URL. Overrides the one GRAPH_CLOUD implies. For Microsoft's hosts (login.microsoftonline.com, login.microsoftonline.us, login.chinacloudapi.cn, login.partner.microsoftonline.cn) the token endpoint https://<host>/<tenant>/oauth2/v2.0/token is fixed and no metadata is fetched; for any other host (a proxy, the simulator) its OpenID metadata is read, and the secret or certificate assertion is sent only to https on exactly that host and port (anything else is refused: PSTN_AUTH_ENDPOINT_REFUSED).",
    default: "from GRAPH_CLOUD (https://login.microsoftonline.com for global)",
    example: "https://login.microsoftonline.us",
    schema: check.httpsUrl,
  },
  {
    name: "GRAPH_CLOUD",
    group: "Graph",
    description:
      "Microsoft national cloud: global, usgov (US Government L4), dod (US Government L5) or china (21Vianet). Sets AZURE_AUTHORITY_HOST and GRAPH_ENDPOINT.",
    default: DEFAULTS.GRAPH_CLOUD,
    example: "usgov",
    schema: check.choice(GRAPH_CLOUDS, "a national cloud"),
  },
  {
    name: "GRAPH_ENDPOINT",
    group: "Graph",
    description:
      "Microsoft Graph base URL, https; the token scope is <GRAPH_ENDPOINT>/.default. Overrides the one GRAPH_CLOUD implies. A private CA is trusted through NODE_EXTRA_CA_CERTS.",
    default: "from GRAPH_CLOUD (https://graph.microsoft.com for global)",
    example: "https://graph.microsoft.us",
    schema: check.httpsUrl,
  },
  {
    name: "GRAPH_API_VERSION",
    group: "Graph",
    description: "Graph API version: v1.0 or beta.",
    default: DEFAULTS.GRAPH_API_VERSION,
    example: "beta",
    schema: check.choice(GRAPH_API_VERSIONS, "a Graph API version"),
  },
  {
    name: "GRAPH_CONNECT_TIMEOUT",
    group: "Graph",
    description: "Longest wait for a TCP and TLS connection to Graph or Entra ID.",
    default: DEFAULTS.GRAPH_CONNECT_TIMEOUT,
    example: "5s",
    schema: check.timeout,
  },
  {
    name: "GRAPH_HEADERS_TIMEOUT",
    group: "Graph",
    description: "Longest wait for the response headers of a Graph request once sent.",
    default: DEFAULTS.GRAPH_HEADERS_TIMEOUT,
    example: "90s",
    schema: check.timeout,
  },
  {
    name: "GRAPH_BODY_TIMEOUT",
    group: "Graph",
    description: "Longest silence while reading a Graph response body.",
    default: DEFAULTS.GRAPH_BODY_TIMEOUT,
    example: "3m",
    schema: check.timeout,
  },
  {
    name: "GRAPH_MAX_RETRIES",
    group: "Graph",
    description:
      "Retries of one Graph request after throttling (429), 5xx or network errors before the poll fails.",
    default: DEFAULTS.GRAPH_MAX_RETRIES,
    example: "5",
    schema: check.integer(0, 100),
  },
  {
    name: "GRAPH_MAX_REQUESTS_PER_MINUTE",
    group: "Graph",
    description:
      "Client-side pacing of call-record requests (a token bucket with a burst of 10, so any 60 s holds at most 10 more than this), kept within Graph's limit of about 200 per minute per app and tenant so that 429s stay rare.",
    default: DEFAULTS.GRAPH_MAX_REQUESTS_PER_MINUTE,
    example: "120",
    schema: check.integer(1, 60_000),
  },
  {
    name: "GRAPH_MAX_PAGE_BYTES",
    group: "Graph",
    description:
      "Largest Graph answer read, in bytes or with a unit (64MiB, 10MB). A page of 1,000 rows is about 1 MB; a larger answer is refused (PSTN_GRAPH_BODY_TOO_LARGE) as soon as its Content-Length or its bytes read pass this, so a broken or hostile answer cannot grow the memory.",
    default: DEFAULTS.GRAPH_MAX_PAGE_BYTES,
    example: "16MiB",
    schema: check.byteSize(MIN_PAGE_BYTES, MAX_PAGE_BYTES),
  },
  {
    name: "GRAPH_MAX_PAGES_PER_WINDOW",
    group: "Graph",
    description:
      "Most pages followed for one window before it is refused as endless (PSTN_GRAPH_TOO_MANY_PAGES). The default, 10 million rows a window of 1,000-row pages, is ten times a day of 10 PSTN calls for each of 100,000 users, and takes about 53 minutes at 190 requests a minute: a runaway window is stopped within the hour.",
    default: DEFAULTS.GRAPH_MAX_PAGES_PER_WINDOW,
    example: "2000",
    schema: check.integer(1, 10_000_000),
  },
  {
    name: "GRAPH_MAX_RETRY_AFTER",
    group: "Graph",
    description:
      "The longest wait one Retry-After (429, 503, 504) may impose on every Graph request of the connector (at most 24h). A longer Retry-After is waited as this, and logged.",
    default: DEFAULTS.GRAPH_MAX_RETRY_AFTER,
    example: "5m",
    schema: upToADay,
  },
  {
    name: "KAFKA_BROKERS",
    group: "Kafka",
    description: "Bootstrap brokers, comma-separated host:port.",
    required: "comma-separated host:port, e.g. kafka-1:9092",
    example: "kafka-1:9092,kafka-2:9092",
    schema: check.brokers,
  },
  {
    name: "KAFKA_TOPIC",
    group: "Kafka",
    description: "Topic the pstn stream's rows (getPstnCalls) are published to.",
    default: DEFAULTS.KAFKA_TOPIC,
    example: "teams.pstn-calls",
    schema: check.topic,
  },
  {
    name: "KAFKA_TOPIC_DIRECT_ROUTING",
    group: "Kafka",
    description: `Topic the directRouting stream's rows (getDirectRoutingCalls) are published to; its dead-letter and state topics are this name with ${DLQ_TOPIC_SUFFIX} and ${STATE_TOPIC_SUFFIX}.`,
    default: DEFAULTS.KAFKA_TOPIC_DIRECT_ROUTING,
    example: "teams.direct-routing-calls",
    schema: check.topic,
  },
  {
    name: "KAFKA_TOPIC_SMS",
    group: "Kafka",
    description: `Topic the sms stream's rows (getSmsLog) are published to; its dead-letter and state topics are this name with ${DLQ_TOPIC_SUFFIX} and ${STATE_TOPIC_SUFFIX}.`,
    default: DEFAULTS.KAFKA_TOPIC_SMS,
    example: "teams.sms-log",
    schema: check.topic,
  },
  {
    name: "KAFKA_DLQ_TOPIC",
    group: "Kafka",
    description: "Dead-letter topic of the pstn stream, for rows that cannot be encoded.",
    default: `<KAFKA_TOPIC>${DLQ_TOPIC_SUFFIX}`,
    example: "teams.pstn-calls.dlq",
    schema: check.topic,
  },
  {
    name: "KAFKA_STATE_TOPIC",
    group: "Kafka",
    description: "Compacted topic holding the pstn stream's progress and the ids it has published.",
    default: `<KAFKA_TOPIC>${STATE_TOPIC_SUFFIX}`,
    example: "teams.pstn-calls.state",
    schema: check.topic,
  },
  {
    name: "KAFKA_SLOTS_TOPIC",
    group: "Kafka",
    description:
      "With CONNECTOR_TENANTS_FILE: the topic whose partitions are the slots the units (tenant, stream) are spread over, one Kafka consumer group of the replicas sharing them out. Created with CONNECTOR_SLOTS partitions when missing; no record is ever written to it.",
    default: DEFAULTS.KAFKA_SLOTS_TOPIC,
    example: "msp.pstn-connector.slots",
    schema: check.topic,
  },
  {
    name: "KAFKA_CLIENT_ID",
    group: "Kafka",
    description: "Kafka client id, as brokers show it in logs and quotas.",
    default: DEFAULTS.KAFKA_CLIENT_ID,
    example: "pstn-connector-prod",
    schema: check.text,
  },
  {
    name: "KAFKA_COMPRESSION",
    group: "Kafka",
    description:
      "Compression of the record batches the connector writes (rows, dead letters, state): none, gzip, snappy, lz4 or zstd.",
    default: DEFAULTS.KAFKA_COMPRESSION,
    example: "zstd",
    schema: check.choice(KAFKA_COMPRESSIONS, "a Kafka compression"),
  },
  {
    name: "KAFKA_SSL",
    group: "Kafka",
    description:
      "Connect to the brokers over TLS: true/false, 1/0 or yes/no. Setting KAFKA_SSL_CA_FILE or KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE implies true; false together with them is an error.",
    default: DEFAULTS.KAFKA_SSL,
    example: "true",
    schema: check.boolean,
  },
  {
    name: "KAFKA_SSL_CA_FILE",
    group: "Kafka",
    description:
      "PEM file of CA certificates to trust for the brokers, in addition to the system's trust store (not instead of it).",
    default: "none (the system's trust store)",
    example: "/etc/pstn-connector/kafka-ca.pem",
    schema: check.caFile,
  },
  {
    name: "KAFKA_SSL_CERT_FILE",
    group: "Kafka",
    description:
      "PEM file of the client certificate (leaf first, then any intermediates) for brokers that require one (mTLS). Needs KAFKA_SSL_KEY_FILE.",
    example: "/etc/pstn-connector/kafka-client.pem",
    schema: check.text,
  },
  {
    name: "KAFKA_SSL_KEY_FILE",
    group: "Kafka",
    description:
      "PEM file of the private key of KAFKA_SSL_CERT_FILE (PKCS#8, PKCS#1 or SEC1; encrypted only with KAFKA_SSL_KEY_PASSWORD).",
    example: "/etc/pstn-connector/kafka-client-key.pem",
    schema: check.text,
  },
  {
    name: "KAFKA_SSL_KEY_PASSWORD",
    group: "Kafka",
    description: "Passphrase of an encrypted KAFKA_SSL_KEY_FILE.",
    secret: true,
    example: "(the passphrase)",
    schema: check.text,
  },
  {
    name: "KAFKA_SASL_MECHANISM",
    group: "Kafka",
    description:
      "SASL mechanism: plain, scram-sha-256 or scram-sha-512 (with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD), or oauthbearer (tokens from client credentials: KAFKA_SASL_OAUTHBEARER_*).",
    default: "none (no SASL)",
    example: "scram-sha-512",
    schema: check.choice(SASL_MECHANISMS, "a supported SASL mechanism"),
  },
  {
    name: "KAFKA_SASL_USERNAME",
    group: "Kafka",
    description: "SASL user name.",
    example: "pstn-connector",
    schema: check.text,
  },
  {
    name: "KAFKA_SASL_PASSWORD",
    group: "Kafka",
    description: "SASL password.",
    secret: true,
    example: "(the password)",
    schema: check.text,
  },
  {
    name: "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL",
    group: "Kafka",
    description:
      "oauthbearer: OAuth2 token endpoint (https) for a client_credentials grant, e.g. your IdP's for Confluent Cloud. Unset: Entra ID at AZURE_AUTHORITY_HOST for AZURE_TENANT_ID, through the same client library as Graph's tokens (Azure Event Hubs).",
    default: "Entra ID (AZURE_AUTHORITY_HOST, AZURE_TENANT_ID)",
    example: "https://idp.example.com/oauth2/default/v1/token",
    schema: check.tokenEndpointUrl,
  },
  {
    name: "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
    group: "Kafka",
    description:
      "oauthbearer: client id of the Kafka identity. Unset: Graph's identity (AZURE_CLIENT_ID with its secret or certificate), allowed only with the Entra ID token endpoint, so that Graph's credential never goes elsewhere.",
    default: "AZURE_CLIENT_ID (Entra ID token endpoint only)",
    example: "0oa1b2c3d4e5f6g7h8i9",
    schema: check.oauthClientId,
  },
  {
    name: "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    group: "Kafka",
    description:
      "oauthbearer: client secret of KAFKA_SASL_OAUTHBEARER_CLIENT_ID; sent to the token endpoint only.",
    default: "AZURE_CLIENT_SECRET, when KAFKA_SASL_OAUTHBEARER_CLIENT_ID is unset",
    secret: true,
    example: "(the secret's value)",
    schema: check.text,
  },
  {
    name: "KAFKA_SASL_OAUTHBEARER_SCOPE",
    group: "Kafka",
    description:
      "oauthbearer, required: the scope asked for. Entra ID wants <resource>/.default: https://<namespace>.servicebus.windows.net/.default for Azure Event Hubs.",
    example: "https://contoso-events.servicebus.windows.net/.default",
    schema: check.oauthScope,
  },
  {
    name: "KAFKA_SASL_OAUTHBEARER_EXTENSIONS",
    group: "Kafka",
    description:
      "oauthbearer: SASL extensions sent with each token, comma-separated key=value (letters only in keys), e.g. Confluent Cloud's cluster and identity pool.",
    default: "none",
    example: "logicalCluster=lkc-abc123,identityPoolId=pool-XyZ9",
    schema: check.saslExtensions,
  },
  {
    name: "KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD",
    group: "Kafka",
    description:
      "oauthbearer with KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: how the client secret is sent, client_secret_basic (an Authorization header, as Kafka's Java client and librdkafka do) or client_secret_post (in the form body).",
    default: DEFAULTS.KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD,
    example: "client_secret_post",
    schema: check.choice(OAUTH_CLIENT_AUTH_METHODS, "a client authentication method"),
  },
  {
    name: "KAFKA_CONNECT_TIMEOUT",
    group: "Kafka",
    description: "Longest wait for a connection to a broker.",
    default: DEFAULTS.KAFKA_CONNECT_TIMEOUT,
    example: "5s",
    schema: check.timeout,
  },
  {
    name: "KAFKA_REQUEST_TIMEOUT",
    group: "Kafka",
    description: "Longest wait for a broker's answer to one request.",
    default: DEFAULTS.KAFKA_REQUEST_TIMEOUT,
    example: "1m",
    schema: check.timeout,
  },
  {
    name: "SCHEMA_REGISTRY_URL",
    group: "Schema registry",
    description: "Base URL of a Confluent-compatible schema registry (http or https).",
    required: "the registry's base URL, e.g. http://localhost:8081",
    example: "https://registry.example.com:8081",
    schema: check.registryUrl,
  },
  {
    name: "SCHEMA_REGISTRY_USERNAME",
    group: "Schema registry",
    description: "Registry basic-auth user name; needs SCHEMA_REGISTRY_PASSWORD.",
    example: "pstn-connector",
    schema: check.text,
  },
  {
    name: "SCHEMA_REGISTRY_PASSWORD",
    group: "Schema registry",
    description: "Registry basic-auth password; needs SCHEMA_REGISTRY_USERNAME.",
    secret: true,
    example: "(the password)",
    schema: check.text,
  },
  {
    name: "CONNECTOR_STREAMS",
    group: "Connector",
    description: `The call logs to read, comma-separated: pstn (getPstnCalls: Calling Plan and Operator Connect), directRouting (getDirectRoutingCalls: your own SBCs) and sms (getSmsLog). Each stream has its own topics, schema, progress and identity, and all of them share the tenant's one Graph budget in turns. getSmsLog exists only in beta: the sms stream reads beta whatever GRAPH_API_VERSION says. Adding a stream leaves the others' progress as it is; the new one begins at CONNECTOR_START.`,
    default: DEFAULTS.CONNECTOR_STREAMS,
    example: "pstn,directRouting",
    schema: check.nameList(Object.keys(STREAMS) as StreamName[], "stream"),
  },
  {
    name: "CONNECTOR_TENANTS_FILE",
    group: "Connector",
    description:
      "A YAML or JSON file listing the tenants to read instead of AZURE_TENANT_ID: under `tenants:`, each entry's `id` (GUID or domain) and optionally `name`, `streams` (else CONNECTOR_STREAMS), `start` (else CONNECTOR_START) and `credentials` (else the shared app: AZURE_CLIENT_ID with its secret or certificate): `clientId` with `clientSecret` or `clientCertificate`, each by reference only, `{ env: NAME }` or `{ file: PATH }` (a mounted Secret), never written in the file. Each tenant has its own token, Graph budget and pacer; every tenant's rows of a stream go to that stream's topics, with the tenant in the `pstn.tenant` header.",
    default: "none: the single tenant of AZURE_TENANT_ID",
    example: "/etc/pstn-connector/tenants.yaml",
    schema: check.text,
  },
  {
    name: "CONNECTOR_TENANTS_RELOAD_INTERVAL",
    group: "Connector",
    description:
      "How often `run` reads CONNECTOR_TENANTS_FILE again (a ConfigMap update): tenants added start, tenants removed stop (their progress stays in Kafka, so one added back resumes), tenants whose entry changed restart; the others go on untouched. A file that no longer loads is reported, one line per problem, and the running tenants stay as they are.",
    default: DEFAULTS.CONNECTOR_TENANTS_RELOAD_INTERVAL,
    example: "1m",
    schema: check.duration({ allowZero: false, maxMs: 86_400_000, maxReason: "a day" }),
  },
  {
    name: "CONNECTOR_SLOTS",
    group: "Connector",
    description:
      "With CONNECTOR_TENANTS_FILE: how many slots the units are hashed into, when `run` creates KAFKA_SLOTS_TOPIC (an existing topic's partition count wins). A replica holds whole slots, each with one transactional producer, so this bounds the producers and broker connections of the deployment, and the most replicas that get work. Fixed for the life of the topic: to change it, stop every replica and use a new topic.",
    default: DEFAULTS.CONNECTOR_SLOTS,
    example: "48",
    schema: check.integer(1, 1000),
  },
  {
    name: "CONNECTOR_NAME",
    group: "Connector",
    description:
      "Name of this connector; with the tenant it forms the connector's identity (its progress and Kafka transactional id), so a second instance with the same name takes over from the first. Letters, digits, '.', '_' and '-'.",
    default: DEFAULTS.CONNECTOR_NAME,
    example: "emea",
    schema: check.connectorName,
  },
  {
    name: "CONNECTOR_START",
    group: "Connector",
    description:
      "Where a first run begins: an ISO-8601 instant with a zone, or a duration meaning that long before the first start. Ignored once progress is stored.",
    default: DEFAULTS.CONNECTOR_START,
    example: "2024-05-01T00:00:00Z",
    schema: check.start,
  },
  {
    name: "POLL_INTERVAL",
    group: "Connector",
    description: "Time between polls (at most 24d).",
    default: DEFAULTS.POLL_INTERVAL,
    example: "15m",
    schema: check.timeout,
  },
  {
    name: "LOOKBACK",
    group: "Connector",
    description:
      "How far behind the newest fully-read instant each poll reads again, for rows Graph publishes late (it documents up to 48 hours).",
    default: DEFAULTS.LOOKBACK,
    example: "72h",
    schema: check.duration({ allowZero: true }),
  },
  {
    name: "WINDOW_SLICE",
    group: "Connector",
    description:
      "Length of a run's first windows, before the tenant's density is known; then each window aims at 10 full pages of 1,000 rows (an hour to 90 days, Graph's limit), and one that holds far more is read again in shorter ones.",
    default: DEFAULTS.WINDOW_SLICE,
    example: "12h",
    schema: check.duration({
      allowZero: false,
      maxMs: MAX_GRAPH_RANGE_MS,
      maxReason: "Graph's limit per request",
    }),
  },
  {
    name: "CONNECTOR_FAILOVER_TIMEOUT",
    group: "Connector",
    description:
      "Instances with the same identity elect one active instance through a Kafka consumer group; the others stand by. This is how long the group waits for a silent active instance (the group session timeout, within the broker's group.min/max.session.timeout.ms) before a standby takes over.",
    default: DEFAULTS.CONNECTOR_FAILOVER_TIMEOUT,
    example: "30s",
    schema: check.duration({
      allowZero: false,
      maxMs: 30 * 60_000,
      maxReason: "Kafka's largest session timeout",
    }),
  },
  {
    name: "CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS",
    group: "Connector",
    description:
      "Allows credentials to cross the network unencrypted: SASL (any mechanism) with KAFKA_SSL=false, and SCHEMA_REGISTRY_USERNAME/PASSWORD with an http:// SCHEMA_REGISTRY_URL. Without it either is a configuration error. Dangerous: anyone who can see the traffic (a shared network, a mirrored port, a sidecar) reads the Kafka password or token and the registry password, and can then write to the topics or the schemas. Set it only on a network you trust end to end, such as a local test stack.",
    default: DEFAULTS.CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS,
    example: "true",
    schema: check.boolean,
  },
  {
    name: "CONNECTOR_MAX_RESTART_BACKOFF",
    group: "Connector",
    description:
      "After a failed poll the connector starts a new session after a wait that doubles with each failure in a row (from 1 s, with jitter) up to this (at most 24h); a success resets it. The process stays up, /readyz reports the failure and pstn_connector_session_failures_total{code} counts it.",
    default: DEFAULTS.CONNECTOR_MAX_RESTART_BACKOFF,
    example: "15m",
    schema: upToADay,
  },
  {
    name: "PRIVACY_POLICY_FILE",
    group: "Privacy",
    description:
      "A YAML or JSON file saying which topics each stream writes and what each may see of a row: under `streams:`, each stream read with its `outputs:`, each a `topic` (else the stream's own) with a `default` (keep or drop) and `fields:` naming actions (keep, hash, mask, truncate-ip, drop); `hashKey` names the key of its hashed fields, one of `keys:`, each by reference only (`{ env: NAME }` or `{ file: PATH }`, base64 of at least 32 bytes), never written in the file; `version` goes in every record's `pstn.policy.version` header. Every output of a row is written in the same transaction. See docs/privacy.md.",
    default: "none: every field kept",
    example: "/etc/pstn-connector/privacy.yaml",
    schema: check.text,
  },
  {
    name: "METRICS_PORT",
    group: "Operations",
    description: "Port of /metrics, /healthz and /readyz; 0 picks a free port.",
    default: DEFAULTS.METRICS_PORT,
    example: "9464",
    schema: check.port,
  },
  {
    name: "METRICS_HOST",
    group: "Operations",
    description:
      "Address the metrics server binds: an IP address or host name. Unset, it listens on all interfaces (:: with IPv4 too, or 0.0.0.0 where IPv6 is off), as Prometheus in a pod needs; set 127.0.0.1 on a host install where only a local agent scrapes.",
    default: "all interfaces",
    example: "127.0.0.1",
    schema: check.listenHost,
  },
  {
    name: "METRICS_TENANT_LABEL",
    group: "Operations",
    description:
      "With CONNECTOR_TENANTS_FILE: whether every stream metric and token_requests_total carry a `tenant` label. For a very large fleet, false keeps the series per stream: counters and histograms add up the tenants, the watermark and last-success gauges show the stream's oldest tenant, dedupe_ids and active their sum, unit_stopped how many units a code stopped. /status, /readyz and the logs still name each tenant.",
    default: DEFAULTS.METRICS_TENANT_LABEL,
    example: "false",
    schema: check.boolean,
  },
  {
    name: "LOG_LEVEL",
    group: "Operations",
    description: "Least severe log level written: trace, debug, info, warn, error or fatal.",
    default: DEFAULTS.LOG_LEVEL,
    example: "debug",
    schema: check.choice(LOG_LEVELS, "a log level"),
  },
] as const satisfies readonly ConfigVariable[];

/** The variables in the order they are documented. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = TABLE;

export type Variable = (typeof TABLE)[number];
export type VariableName = Variable["name"];

export const VARIABLE_NAMES: ReadonlySet<string> = new Set(CONFIG_VARIABLES.map((variable) => variable.name));

export const SECRET_VARIABLES: ReadonlySet<string> = new Set(
  CONFIG_VARIABLES.filter((variable) => variable.secret).map((variable) => variable.name),
);

/**
 * Prefixes under which every name is taken for the connector's: an unknown variable starting with
 * one is a mistake (`KAFKA_SSL_CA_LOCATION` silently ignored would leave the operator believing the
 * CA is set). `AZURE_` is shared with @azure/identity and the Azure CLI, so there only
 * near-misspellings are flagged.
 */
export const OWN_PREFIXES = [
  "GRAPH_",
  "CONNECTOR_",
  "WINDOW_",
  "METRICS_",
  "KAFKA_",
  "SCHEMA_REGISTRY_",
] as const;

/**
 * Names under those prefixes that other software sets in the environment the connector may share:
 * the JVM options of Kafka's and the registry's scripts (`KAFKA_HEAP_OPTS`, `KAFKA_OPTS`,
 * `SCHEMA_REGISTRY_JMX_OPTS`, … : every name ending in `_OPTS`), Kafka's script variables, and the
 * Heroku Kafka add-on's. They are ignored in the environment (a config file must hold only ours).
 */
export const FOREIGN_VARIABLES: ReadonlySet<string> = new Set([
  "KAFKA_HOME",
  "KAFKA_DEBUG",
  "KAFKA_URL",
  "KAFKA_CLIENT_CERT",
  "KAFKA_CLIENT_CERT_KEY",
  "KAFKA_TRUSTED_CERT",
  "KAFKA_PREFIX",
]);
export const FOREIGN_VARIABLE_PATTERN = /^(KAFKA|SCHEMA_REGISTRY)_([A-Z0-9]+_)*OPTS$/;

/** Names other Kafka and registry clients use, and the variable that does the same here. */
export const OTHER_CLIENTS_NAMES: Readonly<Record<string, VariableName>> = {
  KAFKA_BOOTSTRAP_SERVERS: "KAFKA_BROKERS",
  KAFKA_BOOTSTRAP_SERVER: "KAFKA_BROKERS",
  KAFKA_SECURITY_PROTOCOL: "KAFKA_SSL",
  SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: "SCHEMA_REGISTRY_USERNAME",
};
