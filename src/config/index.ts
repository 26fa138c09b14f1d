export { NATIONAL_CLOUDS } from "./clouds.js";
export { formatDuration, parseDuration } from "./duration.js";
export { ConfigError } from "./errors.js";
export { type LoadConfigOptions, loadConfig } from "./load.js";
export { cleartextCredentials, REDACTED, redactedConfig } from "./redact.js";
export { resolveStart } from "./start.js";
export type {
  ConfigVariable,
  ConnectorConfig,
  GraphApiVersion,
  GraphCloud,
  LogLevel,
  SaslMechanism,
  StartSpec,
} from "./types.js";
export { GRAPH_API_VERSIONS, GRAPH_CLOUDS, LOG_LEVELS, SASL_MECHANISMS } from "./types.js";
export { CONFIG_VARIABLES, DEFAULTS, RETIRED_VARIABLES, type VariableName } from "./variables.js";
