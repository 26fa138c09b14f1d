/** Loads the configuration once: file, environment and overrides → one validated, typed object. */
import { resolve } from "node:path";
import { NATIONAL_CLOUDS } from "./clouds.js";
import { ConfigError } from "./errors.js";
import * as check from "./fields.js";
import { validateKafkaTls, validateSasl } from "./kafka-security.js";
import { readConfigFile, retiredProblems, type Setting, unknownProblems } from "./sources.js";
import {
  type ConnectorConfig,
  GRAPH_API_VERSIONS,
  GRAPH_CLOUDS,
  type GraphCloud,
  LOG_LEVELS,
  type StartSpec,
} from "./types.js";
import {
  CONFIG_VARIABLES,
  DEFAULTS,
  DLQ_TOPIC_SUFFIX,
  SECRET_VARIABLES,
  STATE_TOPIC_SUFFIX,
  type VariableName,
} from "./variables.js";

export interface LoadConfigOptions {
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** A config file: `.json`, or dotenv for any other name. The environment wins over it. */
  file?: string;
  /** Values from command-line flags, by variable name; they win over the environment and the file. */
  overrides?: Record<string, string>;
}

/**
 * Reads and validates the configuration. Every problem is collected and thrown together as one
 * {@link ConfigError}, one line per problem. An empty value counts as not set.
 */
export function loadConfig(options: LoadConfigOptions = {}): ConnectorConfig {
  const env = layer(options.env ?? process.env, { kind: "environment" });
  const overrides = layer(options.overrides ?? {}, { kind: "override" });
  const file = options.file === undefined ? undefined : readConfigFile(options.file);
  if (file?.unusable) throw new ConfigError(file.problems);

  const problems: string[] = [...(file?.problems ?? [])];
  problems.push(...retiredProblems([...(file?.entries.keys() ?? []), ...env.keys(), ...overrides.keys()]));
  if (file !== undefined) problems.push(...unknownProblems(file.entries, "file"));
  problems.push(...unknownProblems(env, "environment"));
  problems.push(...unknownProblems(overrides, "override"));

  const settings = new Map<string, Setting>();
  for (const source of [file?.entries ?? new Map<string, Setting>(), env, overrides]) {
    for (const [name, setting] of source) if (setting.value.trim() !== "") settings.set(name, setting);
  }
  const reader = new Reader(settings);
  const config = validate(reader);
  problems.push(...inVariableOrder(reader.problems));
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return config;
}

/** Problems sorted as the variables are documented (a stable sort keeps each variable's own order). */
function inVariableOrder(problems: readonly string[]): string[] {
  const rank = (problem: string): number => {
    const index = CONFIG_VARIABLES.findIndex((variable) => problem.startsWith(`${variable.name}:`));
    return index === -1 ? CONFIG_VARIABLES.length : index;
  };
  return [...problems].sort((a, b) => rank(a) - rank(b));
}

function layer(
  values: Readonly<Record<string, string | undefined>>,
  origin: Setting["origin"],
): Map<string, Setting> {
  const settings = new Map<string, Setting>();
  for (const [name, value] of Object.entries(values))
    if (value !== undefined) settings.set(name, { value, origin });
  return settings;
}

/** Reads one variable at a time and records a problem line for every value that does not pass. */
export class Reader {
  private readonly secrets: string[];

  readonly problems: string[] = [];

  constructor(private readonly settings: ReadonlyMap<string, Setting>) {
    this.secrets = [...SECRET_VARIABLES]
      .map((name) => settings.get(name)?.value.trim())
      .filter((value): value is string => value !== undefined && value !== "");
  }

  /** The trimmed value, `undefined` when not set (or empty). */
  text(name: VariableName): string | undefined {
    const value = this.settings.get(name)?.value.trim();
    return value === "" ? undefined : value;
  }

  isSet(name: VariableName): boolean {
    return this.text(name) !== undefined;
  }

  /** The value checked; the default (from {@link DEFAULTS}) when not set. */
  get<T>(name: VariableName, parse: (text: string) => check.Check<T>): T | undefined {
    const text =
      this.text(name) ??
      (Object.hasOwn(DEFAULTS, name) ? DEFAULTS[name as keyof typeof DEFAULTS] : undefined);
    return text === undefined ? undefined : this.parse(name, text, parse);
  }

  /** The value checked; a problem naming what is wanted when not set. */
  required<T>(name: VariableName, wanted: string, parse: (text: string) => check.Check<T>): T | undefined {
    const text = this.text(name);
    if (text === undefined) {
      this.problem(name, `required (${wanted})`);
      return undefined;
    }
    return this.parse(name, text, parse);
  }

  /** Checks `text` as the value of `name`; `derived` says where a value that was not set came from. */
  parse<T>(
    name: VariableName,
    text: string,
    parse: (text: string) => check.Check<T>,
    derived?: string,
  ): T | undefined {
    const result = parse(text);
    if (result.ok) return result.value;
    this.invalid(name, text, result.message, derived);
    return undefined;
  }

  invalid(name: VariableName, text: string, message: string, derived?: string): void {
    const from = derived === undefined ? "" : ` (${derived})`;
    this.problem(name, `${this.show(name, text)}${from} ${message}`);
  }

  /** Records a problem line; a known secret that found its way into the message is cut out. */
  problem(name: VariableName, message: string): void {
    this.problems.push(`${name}: ${this.redact(message)}${this.where(name)}`);
  }

  /**
   * A value for a message: a secret's never; nor a secret pasted into another variable, nor what
   * could be one: a URL's password or query, a value shaped like an Entra ID client secret.
   */
  show(name: VariableName, text: string): string {
    if (SECRET_VARIABLES.has(name)) return "(value hidden)";
    return check.quote(check.withoutCredentials(this.redact(text)));
  }

  private redact(text: string): string {
    let shown = text;
    for (const secret of this.secrets) {
      if (shown === secret || (secret.length >= 4 && shown.includes(secret)))
        shown = shown.split(secret).join("[redacted]");
    }
    return shown;
  }

  private where(name: VariableName): string {
    const origin = this.settings.get(name)?.origin;
    if (origin?.kind === "file")
      return ` (config file ${origin.path}${origin.line === undefined ? "" : `, line ${origin.line}`})`;
    if (origin?.kind === "override") return " (command line)";
    return "";
  }
}

const DAY_MS = 86_400_000;

const TIMEOUT: check.DurationBounds = {
  allowZero: false,
  maxMs: check.TIMER_LIMIT_MS,
  maxReason: "the longest wait Node's timers support",
};

/**
 * A page is parsed as one string in the decoder thread: below 64 KiB real pages (about 1 MB for
 * 1,000 rows) would be refused, above 256 MiB the string and its rows outgrow that thread's heap.
 */
const MIN_PAGE_BYTES = 64 * 1024;
const MAX_PAGE_BYTES = 256 * 1024 * 1024;

function validate(read: Reader): ConnectorConfig | undefined {
  const cloud = read.get("GRAPH_CLOUD", (text) => check.choice(text, GRAPH_CLOUDS, "a national cloud"));
  const azure = validateAzure(read, cloud);
  const graph = validateGraph(read, cloud);
  const kafka = validateKafka(read, azure);
  const schemaRegistry = validateRegistry(read);

  const name = read.get("CONNECTOR_NAME", check.connectorName);
  const start = read.get("CONNECTOR_START", check.start);
  const pollIntervalMs = read.get("POLL_INTERVAL", (text) => check.duration(text, TIMEOUT));
  const lookbackMs = read.get("LOOKBACK", (text) => check.duration(text, { allowZero: true }));
  const windowSliceMs = read.get("WINDOW_SLICE", (text) =>
    check.duration(text, {
      allowZero: false,
      maxMs: check.GRAPH_MAX_RANGE_MS,
      maxReason: "Graph's limit per request",
    }),
  );
  const failoverTimeoutMs = read.get("CONNECTOR_FAILOVER_TIMEOUT", (text) =>
    check.duration(text, {
      allowZero: false,
      maxMs: 30 * 60_000,
      maxReason: "Kafka's largest session timeout",
    }),
  );
  const maxRestartBackoffMs = read.get("CONNECTOR_MAX_RESTART_BACKOFF", (text) =>
    check.duration(text, { allowZero: false, maxMs: DAY_MS, maxReason: "a day" }),
  );
  const metricsPort = read.get("METRICS_PORT", check.port);
  const metricsHost = read.isSet("METRICS_HOST") ? read.get("METRICS_HOST", check.listenHost) : undefined;
  const allowCleartextCredentials = read.get("CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS", check.boolean);
  if (allowCleartextCredentials === false) cleartextProblems(read, kafka, schemaRegistry);
  const logLevel = read.get("LOG_LEVEL", (text) => check.choice(text, LOG_LEVELS, "a log level"));

  if (read.problems.length > 0) return undefined;
  return {
    azure: present(azure),
    graph: present(graph),
    kafka: present(kafka),
    schemaRegistry: present(schemaRegistry),
    connector: {
      name: present(name),
      start: present<StartSpec>(start),
      pollIntervalMs: present(pollIntervalMs),
      lookbackMs: present(lookbackMs),
      windowSliceMs: present(windowSliceMs),
      failoverTimeoutMs: present(failoverTimeoutMs),
      maxRestartBackoffMs: present(maxRestartBackoffMs),
    },
    metricsPort: present(metricsPort),
    ...(metricsHost === undefined ? {} : { metricsHost }),
    allowCleartextCredentials: present(allowCleartextCredentials),
    logLevel: present(logLevel),
  };
}

/**
 * Credentials that would cross the network unencrypted: SASL without TLS to the brokers, registry
 * basic auth over http. Each is a problem unless CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS vouches for
 * the network. Judged on the parsed settings, so that every SASL mechanism counts.
 */
function cleartextProblems(
  read: Reader,
  kafka: ConnectorConfig["kafka"] | undefined,
  registry: ConnectorConfig["schemaRegistry"] | undefined,
): void {
  const optIn = "or set CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS=true if the network is trusted end to end";
  if (kafka?.sasl !== undefined && !kafka.ssl) {
    read.problem(
      "KAFKA_SASL_MECHANISM",
      `SASL with KAFKA_SSL=false sends the Kafka credentials in clear text; set KAFKA_SSL=true (the brokers' SASL_SSL listener), ${optIn}`,
    );
  }
  if (registry?.password !== undefined && registry.url.startsWith("http:")) {
    read.problem(
      "SCHEMA_REGISTRY_URL",
      `${check.quote(new URL(registry.url).origin)} is http, so SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD would be sent in clear text; use the registry's https URL, ${optIn}`,
    );
  }
}

function validateAzure(read: Reader, cloud: GraphCloud | undefined): ConnectorConfig["azure"] | undefined {
  const tenantId = read.required("AZURE_TENANT_ID", "the tenant GUID or domain", check.tenant);
  const clientId = read.required("AZURE_CLIENT_ID", "the application (client) id, a GUID", (text) =>
    check.guid(text, "an application (client) id"),
  );

  const clientSecret = read.text("AZURE_CLIENT_SECRET");
  const certificate = read.text("AZURE_CLIENT_CERTIFICATE_PATH");
  let clientCertificatePath: string | undefined;
  if (clientSecret !== undefined && certificate !== undefined) {
    read.problem(
      "AZURE_CLIENT_CERTIFICATE_PATH",
      "set together with AZURE_CLIENT_SECRET; set exactly one of them (a client secret or a certificate)",
    );
  } else if (clientSecret === undefined && certificate === undefined) {
    read.problem(
      "AZURE_CLIENT_SECRET",
      "required, or AZURE_CLIENT_CERTIFICATE_PATH (a client secret, or a PEM file with the certificate and its private key)",
    );
  } else if (certificate !== undefined) {
    const messages = check.certificateFileProblems(certificate);
    for (const message of messages) read.invalid("AZURE_CLIENT_CERTIFICATE_PATH", certificate, message);
    if (messages.length === 0) clientCertificatePath = resolve(certificate);
  }

  const authorityHost = read.isSet("AZURE_AUTHORITY_HOST")
    ? read.get("AZURE_AUTHORITY_HOST", check.httpsUrl)
    : cloud === undefined
      ? undefined
      : NATIONAL_CLOUDS[cloud].authorityHost;

  if (
    tenantId === undefined ||
    clientId === undefined ||
    cloud === undefined ||
    authorityHost === undefined ||
    (clientSecret === undefined && clientCertificatePath === undefined)
  ) {
    return undefined;
  }
  return {
    tenantId,
    clientId,
    ...(clientSecret === undefined ? {} : { clientSecret }),
    ...(clientCertificatePath === undefined ? {} : { clientCertificatePath }),
    authorityHost,
    cloud,
  };
}

function validateGraph(read: Reader, cloud: GraphCloud | undefined): ConnectorConfig["graph"] | undefined {
  const endpoint = read.isSet("GRAPH_ENDPOINT")
    ? read.get("GRAPH_ENDPOINT", check.httpsUrl)
    : cloud === undefined
      ? undefined
      : NATIONAL_CLOUDS[cloud].graphEndpoint;
  const apiVersion = read.get("GRAPH_API_VERSION", (text) =>
    check.choice(text, GRAPH_API_VERSIONS, "a Graph API version"),
  );
  const connectTimeoutMs = read.get("GRAPH_CONNECT_TIMEOUT", (text) => check.duration(text, TIMEOUT));
  const headersTimeoutMs = read.get("GRAPH_HEADERS_TIMEOUT", (text) => check.duration(text, TIMEOUT));
  const bodyTimeoutMs = read.get("GRAPH_BODY_TIMEOUT", (text) => check.duration(text, TIMEOUT));
  const maxRetries = read.get("GRAPH_MAX_RETRIES", (text) => check.integer(text, 0, 100));
  const maxRequestsPerMinute = read.get("GRAPH_MAX_REQUESTS_PER_MINUTE", (text) =>
    check.integer(text, 1, 60_000),
  );
  const maxPageBytes = read.get("GRAPH_MAX_PAGE_BYTES", (text) =>
    check.byteSize(text, MIN_PAGE_BYTES, MAX_PAGE_BYTES),
  );
  const maxPagesPerWindow = read.get("GRAPH_MAX_PAGES_PER_WINDOW", (text) =>
    check.integer(text, 1, 10_000_000),
  );
  const maxRetryAfterMs = read.get("GRAPH_MAX_RETRY_AFTER", (text) =>
    check.duration(text, { allowZero: false, maxMs: DAY_MS, maxReason: "a day" }),
  );
  if (
    endpoint === undefined ||
    apiVersion === undefined ||
    connectTimeoutMs === undefined ||
    headersTimeoutMs === undefined ||
    bodyTimeoutMs === undefined ||
    maxRetries === undefined ||
    maxRequestsPerMinute === undefined ||
    maxPageBytes === undefined ||
    maxPagesPerWindow === undefined ||
    maxRetryAfterMs === undefined
  ) {
    return undefined;
  }
  return {
    endpoint,
    apiVersion,
    scope: `${endpoint}/.default`,
    connectTimeoutMs,
    headersTimeoutMs,
    bodyTimeoutMs,
    maxRetries,
    maxRequestsPerMinute,
    maxPageBytes,
    maxPagesPerWindow,
    maxRetryAfterMs,
  };
}

function validateKafka(
  read: Reader,
  azure: ConnectorConfig["azure"] | undefined,
): ConnectorConfig["kafka"] | undefined {
  let brokers: string[] | undefined;
  const brokerText = read.text("KAFKA_BROKERS");
  if (brokerText === undefined)
    read.problem("KAFKA_BROKERS", "required (comma-separated host:port, e.g. kafka-1:9092)");
  else {
    const list = check.brokerList(brokerText);
    for (const message of list.problems) read.problem("KAFKA_BROKERS", message);
    if (list.problems.length === 0) brokers = list.brokers;
  }

  const topic = read.get("KAFKA_TOPIC", check.topic);
  const derivedTopic = (
    name: "KAFKA_DLQ_TOPIC" | "KAFKA_STATE_TOPIC",
    suffix: string,
  ): string | undefined => {
    const text = read.text(name);
    if (text !== undefined) return read.parse(name, text, check.topic);
    return topic === undefined
      ? undefined
      : read.parse(name, `${topic}${suffix}`, check.topic, "derived from KAFKA_TOPIC");
  };
  const dlqTopic = derivedTopic("KAFKA_DLQ_TOPIC", DLQ_TOPIC_SUFFIX);
  const stateTopic = derivedTopic("KAFKA_STATE_TOPIC", STATE_TOPIC_SUFFIX);
  if (topic !== undefined && dlqTopic === topic) {
    read.invalid(
      "KAFKA_DLQ_TOPIC",
      dlqTopic,
      "is KAFKA_TOPIC itself; dead letters need a topic of their own",
    );
  }
  if (stateTopic !== undefined && (stateTopic === topic || stateTopic === dlqTopic)) {
    const other = stateTopic === topic ? "KAFKA_TOPIC" : "KAFKA_DLQ_TOPIC";
    read.invalid(
      "KAFKA_STATE_TOPIC",
      stateTopic,
      `is ${other} too; the state needs a compacted topic of its own`,
    );
  }

  const clientId = read.get("KAFKA_CLIENT_ID", (text) => ({ ok: true, value: text }));
  const transport = validateKafkaTls(read);
  const sasl = validateSasl(read, azure);
  const connectTimeoutMs = read.get("KAFKA_CONNECT_TIMEOUT", (text) => check.duration(text, TIMEOUT));
  const requestTimeoutMs = read.get("KAFKA_REQUEST_TIMEOUT", (text) => check.duration(text, TIMEOUT));

  if (
    brokers === undefined ||
    topic === undefined ||
    dlqTopic === undefined ||
    stateTopic === undefined ||
    clientId === undefined ||
    transport === false ||
    sasl === false ||
    connectTimeoutMs === undefined ||
    requestTimeoutMs === undefined
  ) {
    return undefined;
  }
  return {
    brokers,
    topic,
    dlqTopic,
    stateTopic,
    clientId,
    ssl: transport.ssl,
    ...(transport.tls === undefined ? {} : { tls: transport.tls }),
    ...(sasl === undefined ? {} : { sasl }),
    connectTimeoutMs,
    requestTimeoutMs,
  };
}

function validateRegistry(read: Reader): ConnectorConfig["schemaRegistry"] | undefined {
  const url = read.required(
    "SCHEMA_REGISTRY_URL",
    "the registry's base URL, e.g. http://localhost:8081",
    (text) => {
      const result = check.httpUrl(text);
      if (!result.ok && result.message.startsWith("must not carry")) {
        return {
          ok: false,
          message: `${result.message}; set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`,
        };
      }
      return result;
    },
  );
  const username = read.text("SCHEMA_REGISTRY_USERNAME");
  const password = read.text("SCHEMA_REGISTRY_PASSWORD");
  if (username !== undefined && password === undefined) {
    read.problem("SCHEMA_REGISTRY_PASSWORD", "required when SCHEMA_REGISTRY_USERNAME is set");
  }
  if (password !== undefined && username === undefined) {
    read.problem("SCHEMA_REGISTRY_USERNAME", "required when SCHEMA_REGISTRY_PASSWORD is set");
  }
  if (url === undefined || (username === undefined) !== (password === undefined)) return undefined;
  return {
    url,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

/** Values every path to here has checked; a missing one is a bug in this file, not in the configuration. */
function present<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("configuration value missing although no problem was recorded");
  return value;
}
