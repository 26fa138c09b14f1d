import type { ConnectorConfig, KafkaSasl } from "./types.js";

const REDACTED = "[redacted]";

/**
 * The configuration as plain data for a log line: secrets replaced by `[redacted]`, the start as
 * text. Unset optional values are left out.
 */
export function redactedConfig(config: ConnectorConfig): Record<string, unknown> {
  const { azure, graph, kafka, schemaRegistry, connector } = config;
  return {
    azure: { ...azure, ...(azure.clientSecret === undefined ? {} : { clientSecret: REDACTED }) },
    graph: { ...graph },
    kafka: {
      ...kafka,
      brokers: [...kafka.brokers],
      ...(kafka.tls === undefined
        ? {}
        : {
            tls: {
              ...kafka.tls,
              ...(kafka.tls.keyPassword === undefined ? {} : { keyPassword: REDACTED }),
            },
          }),
      ...(kafka.sasl === undefined ? {} : { sasl: redactedSasl(kafka.sasl) }),
    },
    schemaRegistry: {
      ...schemaRegistry,
      ...(schemaRegistry.password === undefined ? {} : { password: REDACTED }),
    },
    connector: {
      ...connector,
      start:
        connector.start.kind === "instant"
          ? { kind: "instant", at: connector.start.at.toISOString() }
          : { kind: "ago", ms: connector.start.ms },
    },
    metricsPort: config.metricsPort,
    ...(config.metricsHost === undefined ? {} : { metricsHost: config.metricsHost }),
    allowCleartextCredentials: config.allowCleartextCredentials,
    logLevel: config.logLevel,
  };
}

function redactedSasl(sasl: KafkaSasl): Record<string, unknown> {
  if (sasl.mechanism !== "oauthbearer") return { ...sasl, password: REDACTED };
  const { oauthBearer } = sasl;
  return {
    mechanism: sasl.mechanism,
    oauthBearer: {
      ...oauthBearer,
      tokenEndpoint: { ...oauthBearer.tokenEndpoint },
      extensions: { ...oauthBearer.extensions },
      ...(oauthBearer.clientSecret === undefined ? {} : { clientSecret: REDACTED }),
    },
  };
}

/**
 * The credentials this configuration sends unencrypted (only possible with
 * CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS), for a warning at start-up.
 */
export function cleartextCredentials(config: ConnectorConfig): string[] {
  const found: string[] = [];
  if (config.kafka.sasl !== undefined && !config.kafka.ssl) found.push("Kafka SASL (KAFKA_SSL=false)");
  if (config.schemaRegistry.password !== undefined && config.schemaRegistry.url.startsWith("http:"))
    found.push("schema registry basic auth (http)");
  return found;
}
