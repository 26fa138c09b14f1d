export { formatDuration, parseDuration } from "./duration.js";
export { ConfigError } from "./errors.js";
export { loadConfig, reloadTenants } from "./load.js";
export type { PrivacyConfig, PrivacyOutput } from "./privacy.js";
export { cleartextCredentials, redactedConfig } from "./redact.js";
export { resolveStart } from "./start.js";
export type { ConnectorConfig } from "./types.js";
export { CONFIG_VARIABLES, DEFAULTS } from "./variables.js";
