import type { ConnectorConfig } from "./types.js";

export const REDACTED = "[redacted]";

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
      ...(kafka.sasl === undefined ? {} : { sasl: { ...kafka.sasl, password: REDACTED } }),
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
