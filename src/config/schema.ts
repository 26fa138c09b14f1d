/**
 * The configuration's one schema: a field per variable of the table (required, or with its default
 * when not set), the rules between variables, and the typed configuration they make.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { NATIONAL_CLOUDS } from "./clouds.js";
import { crossFieldRules } from "./rules.js";
import type { TenantCredentials } from "./tenants.js";
import type { ConfigVariable, ConnectorConfig, KafkaSasl, StreamTopics } from "./types.js";
import {
  CONFIG_VARIABLES,
  DEFAULTS,
  DLQ_TOPIC_SUFFIX,
  STATE_TOPIC_SUFFIX,
  type Variable,
  type VariableName,
} from "./variables.js";

/** Defaults that hold only in some cases: the rules tell set from not set, and {@link assemble} applies them. */
const CONDITIONAL_DEFAULTS = ["KAFKA_SSL", "KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD"] as const;

type Output<K extends VariableName> = z.output<Extract<Variable, { name: K }>["schema"]>;
type AlwaysSet =
  | Exclude<keyof typeof DEFAULTS, (typeof CONDITIONAL_DEFAULTS)[number]>
  | Extract<Variable, { required: string }>["name"];

/** Every variable's value; `undefined` when it is not set and has no default. */
export type Values = { [K in VariableName]: K extends AlwaysSet ? Output<K> : Output<K> | undefined };

const DEFAULT_TEXT: Readonly<Record<string, string>> = DEFAULTS;

function fieldOf({ name, required, schema }: ConfigVariable): z.ZodType<unknown, string | undefined> {
  if (required !== undefined) return z.string(`required (${required})`).pipe(schema);
  const fallback = (CONDITIONAL_DEFAULTS as readonly string[]).includes(name)
    ? undefined
    : DEFAULT_TEXT[name];
  return fallback === undefined ? schema.optional() : schema.prefault(fallback);
}

// Built from the table at run time, so its type is stated: the table's (Values).
const fields = z.object(
  Object.fromEntries(CONFIG_VARIABLES.map((variable) => [variable.name, fieldOf(variable)])),
) as unknown as z.ZodType<Values, Partial<Record<VariableName, string>>>;

/** Parses the variables' texts (trimmed, the unset ones left out) into the configuration. */
export const CONFIG_SCHEMA = fields
  // The rules run even when some fields have problems, so that one parse reports them all.
  .superRefine(crossFieldRules, { when: () => true })
  .transform(assemble);

/** The configuration; runs only when no field or rule has a problem, so what the rules require is set. */
function assemble(v: Values): ConnectorConfig {
  const cloud = NATIONAL_CLOUDS[v.GRAPH_CLOUD];
  const endpoint = v.GRAPH_ENDPOINT ?? cloud.graphEndpoint;
  const certificate = v.AZURE_CLIENT_CERTIFICATE_PATH;
  const azure = withoutUnset({
    tenantId: v.AZURE_TENANT_ID,
    clientId: v.AZURE_CLIENT_ID,
    clientSecret: v.AZURE_CLIENT_SECRET,
    clientCertificatePath: certificate === undefined ? undefined : resolve(certificate),
    authorityHost: v.AZURE_AUTHORITY_HOST ?? cloud.authorityHost,
    cloud: v.GRAPH_CLOUD,
  });
  const { KAFKA_SSL_CERT_FILE: certFile, KAFKA_SSL_KEY_FILE: keyFile } = v;
  const tls = withoutUnset({
    caFile: v.KAFKA_SSL_CA_FILE,
    certFile: certFile === undefined ? undefined : resolve(certFile),
    keyFile: keyFile === undefined ? undefined : resolve(keyFile),
    keyPassword: v.KAFKA_SSL_KEY_PASSWORD,
  });
  const anyTls = Object.keys(tls).length > 0;
  return withoutUnset({
    azure,
    graph: {
      endpoint,
      apiVersion: v.GRAPH_API_VERSION,
      scope: `${endpoint}/.default`,
      connectTimeoutMs: v.GRAPH_CONNECT_TIMEOUT,
      headersTimeoutMs: v.GRAPH_HEADERS_TIMEOUT,
      bodyTimeoutMs: v.GRAPH_BODY_TIMEOUT,
      maxRetries: v.GRAPH_MAX_RETRIES,
      maxRequestsPerMinute: v.GRAPH_MAX_REQUESTS_PER_MINUTE,
      maxPageBytes: v.GRAPH_MAX_PAGE_BYTES,
      maxPagesPerWindow: v.GRAPH_MAX_PAGES_PER_WINDOW,
      maxRetryAfterMs: v.GRAPH_MAX_RETRY_AFTER,
    },
    kafka: withoutUnset({
      brokers: v.KAFKA_BROKERS,
      topics: {
        pstn: {
          data: v.KAFKA_TOPIC,
          dlq: v.KAFKA_DLQ_TOPIC ?? `${v.KAFKA_TOPIC}${DLQ_TOPIC_SUFFIX}`,
          state: v.KAFKA_STATE_TOPIC ?? `${v.KAFKA_TOPIC}${STATE_TOPIC_SUFFIX}`,
        },
        directRouting: derivedTopics(v.KAFKA_TOPIC_DIRECT_ROUTING),
        sms: derivedTopics(v.KAFKA_TOPIC_SMS),
      },
      clientId: v.KAFKA_CLIENT_ID,
      compression: v.KAFKA_COMPRESSION,
      ssl: v.KAFKA_SSL ?? anyTls,
      tls: anyTls ? tls : undefined,
      sasl: sasl(v, azure),
      connectTimeoutMs: v.KAFKA_CONNECT_TIMEOUT,
      requestTimeoutMs: v.KAFKA_REQUEST_TIMEOUT,
    }),
    schemaRegistry: withoutUnset({
      url: v.SCHEMA_REGISTRY_URL,
      username: v.SCHEMA_REGISTRY_USERNAME,
      password: v.SCHEMA_REGISTRY_PASSWORD,
    }),
    tenantsFile: v.CONNECTOR_TENANTS_FILE === undefined ? undefined : resolve(v.CONNECTOR_TENANTS_FILE),
    tenantsReloadMs: v.CONNECTOR_TENANTS_RELOAD_INTERVAL,
    privacyFile: v.PRIVACY_POLICY_FILE === undefined ? undefined : resolve(v.PRIVACY_POLICY_FILE),
    slots: { topic: v.KAFKA_SLOTS_TOPIC, count: v.CONNECTOR_SLOTS },
    tenants:
      v.AZURE_TENANT_ID === undefined
        ? []
        : [
            {
              tenantId: v.AZURE_TENANT_ID,
              name: v.AZURE_TENANT_ID,
              streams: v.CONNECTOR_STREAMS,
              start: v.CONNECTOR_START,
              credentials: sharedApp(azure),
            },
          ],
    connector: {
      streams: v.CONNECTOR_STREAMS,
      name: v.CONNECTOR_NAME,
      start: v.CONNECTOR_START,
      pollIntervalMs: v.POLL_INTERVAL,
      lookbackMs: v.LOOKBACK,
      windowSliceMs: v.WINDOW_SLICE,
      failoverTimeoutMs: v.CONNECTOR_FAILOVER_TIMEOUT,
      maxRestartBackoffMs: v.CONNECTOR_MAX_RESTART_BACKOFF,
    },
    metricsPort: v.METRICS_PORT,
    metricsHost: v.METRICS_HOST,
    metricsTenantLabel: v.METRICS_TENANT_LABEL,
    allowCleartextCredentials: v.CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS,
    logLevel: v.LOG_LEVEL,
  });
}

/**
 * OAUTHBEARER tokens come from Entra ID unless a token endpoint is set; there, Graph's identity is
 * the default (the rules keep it from any other endpoint).
 */
function sasl(v: Values, azure: ConnectorConfig["azure"]): KafkaSasl | undefined {
  const mechanism = v.KAFKA_SASL_MECHANISM;
  if (mechanism === undefined) return undefined;
  if (mechanism !== "oauthbearer")
    return { mechanism, username: v.KAFKA_SASL_USERNAME!, password: v.KAFKA_SASL_PASSWORD! };
  const url = v.KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL;
  const clientId = v.KAFKA_SASL_OAUTHBEARER_CLIENT_ID;
  const clientSecret = v.KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET;
  const token = {
    scope: v.KAFKA_SASL_OAUTHBEARER_SCOPE!,
    extensions: v.KAFKA_SASL_OAUTHBEARER_EXTENSIONS ?? {},
    clientAuthMethod:
      v.KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD ?? DEFAULTS.KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD,
  };
  if (url !== undefined) {
    const oidc = { kind: "oidc", url } as const;
    return { mechanism, oauthBearer: { tokenEndpoint: oidc, clientId: clientId!, clientSecret, ...token } };
  }
  const tokenEndpoint = {
    kind: "entra",
    authorityHost: azure.authorityHost,
    // The rules require AZURE_TENANT_ID for tokens from Entra ID.
    tenantId: azure.tenantId as string,
  } as const;
  const identity =
    clientId === undefined
      ? {
          clientId: azure.clientId,
          clientSecret: azure.clientSecret,
          clientCertificatePath: azure.clientCertificatePath,
        }
      : { clientId: clientId.toLowerCase(), clientSecret };
  return { mechanism, oauthBearer: withoutUnset({ tokenEndpoint, ...identity, ...token }) };
}

/** The object without its `undefined` properties: an unset optional value is left out. */
function withoutUnset<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}

/** The app every tenant is read with unless its entry in the tenants file names its own. */
export function sharedApp(azure: ConnectorConfig["azure"]): TenantCredentials {
  return withoutUnset({
    clientId: azure.clientId,
    clientSecret: azure.clientSecret,
    clientCertificatePath: azure.clientCertificatePath,
  });
}

/** A stream's topics from its data topic: `<topic>.dlq` and `<topic>.state`. */
function derivedTopics(data: string): StreamTopics {
  return { data, dlq: `${data}${DLQ_TOPIC_SUFFIX}`, state: `${data}${STATE_TOPIC_SUFFIX}` };
}
