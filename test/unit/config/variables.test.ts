import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CONFIG_VARIABLES,
  type ConnectorConfig,
  DEFAULTS,
  loadConfig,
  parseDuration,
  redactedConfig,
} from "../../../src/config/index.js";
import { validEnv } from "./helpers.js";

/** The Configuration table of CONTRACT.md, with its defaults as written there. */
const CONTRACT: ReadonlyArray<[string, string | undefined]> = [
  ["AZURE_TENANT_ID", "none: required, unless CONNECTOR_TENANTS_FILE is set"],
  ["AZURE_CLIENT_ID", undefined],
  ["AZURE_CLIENT_SECRET", undefined],
  ["AZURE_CLIENT_CERTIFICATE_PATH", undefined],
  ["AZURE_AUTHORITY_HOST", undefined],
  ["GRAPH_CLOUD", "global"],
  ["GRAPH_ENDPOINT", undefined],
  ["GRAPH_API_VERSION", "v1.0"],
  ["KAFKA_BROKERS", undefined],
  ["KAFKA_TOPIC", "teams.pstn-calls"],
  ["KAFKA_SSL", undefined],
  ["KAFKA_SASL_MECHANISM", undefined],
  ["KAFKA_SASL_USERNAME", undefined],
  ["KAFKA_SASL_PASSWORD", undefined],
  ["SCHEMA_REGISTRY_URL", undefined],
  ["SCHEMA_REGISTRY_USERNAME", undefined],
  ["SCHEMA_REGISTRY_PASSWORD", undefined],
  ["CONNECTOR_START", "1d"],
  ["POLL_INTERVAL", "5m"],
  ["LOOKBACK", "48h"],
  ["METRICS_PORT", "9464"],
  ["METRICS_HOST", "all interfaces"],
  ["CONNECTOR_STREAMS", "pstn"],
  ["KAFKA_TOPIC_DIRECT_ROUTING", "teams.direct-routing-calls"],
  ["KAFKA_TOPIC_SMS", "teams.sms-log"],
  ["CONNECTOR_TENANTS_FILE", "none: the single tenant of AZURE_TENANT_ID"],
  ["PRIVACY_POLICY_FILE", "none: every field kept"],
  ["CONNECTOR_TENANTS_RELOAD_INTERVAL", "10s"],
  ["LOG_LEVEL", "info"],
];

const ADDITIONS: ReadonlyArray<[string, string | undefined]> = [
  ["KAFKA_SLOTS_TOPIC", "teams.pstn-connector.slots"],
  ["CONNECTOR_SLOTS", "24"],
  ["METRICS_TENANT_LABEL", "true"],
  ["KAFKA_SSL_CA_FILE", "none (the system's trust store)"],
  ["KAFKA_SSL_CERT_FILE", undefined],
  ["KAFKA_SSL_KEY_FILE", undefined],
  ["KAFKA_SSL_KEY_PASSWORD", undefined],
  ["KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL", "Entra ID (AZURE_AUTHORITY_HOST, AZURE_TENANT_ID)"],
  ["KAFKA_SASL_OAUTHBEARER_CLIENT_ID", "AZURE_CLIENT_ID (Entra ID token endpoint only)"],
  [
    "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    "AZURE_CLIENT_SECRET, when KAFKA_SASL_OAUTHBEARER_CLIENT_ID is unset",
  ],
  ["KAFKA_SASL_OAUTHBEARER_SCOPE", undefined],
  ["KAFKA_SASL_OAUTHBEARER_EXTENSIONS", "none"],
  ["KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD", "client_secret_basic"],
  ["CONNECTOR_NAME", "default"],
  ["KAFKA_DLQ_TOPIC", "<KAFKA_TOPIC>.dlq"],
  ["KAFKA_STATE_TOPIC", "<KAFKA_TOPIC>.state"],
  ["KAFKA_CLIENT_ID", "pstn-connector"],
  ["KAFKA_COMPRESSION", "zstd"],
  ["WINDOW_SLICE", "1d"],
  ["CONNECTOR_FAILOVER_TIMEOUT", "10s"],
  ["GRAPH_CONNECT_TIMEOUT", "10s"],
  ["GRAPH_HEADERS_TIMEOUT", "60s"],
  ["GRAPH_BODY_TIMEOUT", "120s"],
  ["GRAPH_MAX_RETRIES", "8"],
  ["GRAPH_MAX_REQUESTS_PER_MINUTE", "190"],
  ["GRAPH_MAX_PAGE_BYTES", "64MiB"],
  ["GRAPH_MAX_PAGES_PER_WINDOW", "10000"],
  ["GRAPH_MAX_RETRY_AFTER", "10m"],
  ["CONNECTOR_MAX_RESTART_BACKOFF", "5m"],
  ["KAFKA_CONNECT_TIMEOUT", "10s"],
  ["KAFKA_REQUEST_TIMEOUT", "30s"],
  ["CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS", "false"],
];

const byName = new Map<string, (typeof CONFIG_VARIABLES)[number]>(CONFIG_VARIABLES.map((v) => [v.name, v]));

test("CONFIG_VARIABLES documents exactly the contract's variables and the additions", () => {
  assert.equal(byName.size, CONFIG_VARIABLES.length, "names are unique");
  assert.deepEqual(
    [...byName.keys()].sort(),
    [...CONTRACT.map(([name]) => name), ...ADDITIONS.map(([name]) => name)].sort(),
  );
  for (const [name, fallback] of CONTRACT) {
    if (fallback !== undefined) assert.equal(byName.get(name)?.default, fallback, name);
  }
  for (const [name, fallback] of ADDITIONS) assert.equal(byName.get(name)?.default, fallback, name);
});

test("every variable is documented: description, example, required and secret flags", () => {
  for (const variable of CONFIG_VARIABLES) {
    assert.ok(variable.description.length > 10, variable.name);
    assert.ok(variable.example.length > 0, variable.name);
    if (variable.required)
      assert.equal(variable.default, undefined, `${variable.name} is required and has a default`);
  }
  const required = CONFIG_VARIABLES.filter((v) => v.required).map((v) => v.name);
  // AZURE_TENANT_ID is required unless CONNECTOR_TENANTS_FILE lists the tenants (a rule).
  assert.deepEqual(required, ["AZURE_CLIENT_ID", "KAFKA_BROKERS", "SCHEMA_REGISTRY_URL"]);
  const secret = CONFIG_VARIABLES.filter((v) => v.secret).map((v) => v.name);
  assert.deepEqual(secret, [
    "AZURE_CLIENT_SECRET",
    "KAFKA_SSL_KEY_PASSWORD",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
    "SCHEMA_REGISTRY_PASSWORD",
  ]);
});

test("DEFAULTS are the documented defaults, and the duration ones parse", () => {
  for (const [name, value] of Object.entries(DEFAULTS)) {
    assert.equal(byName.get(name)?.default, value, name);
    if (/TIMEOUT|INTERVAL|LOOKBACK|SLICE|START/.test(name))
      assert.notEqual(parseDuration(value), undefined, name);
  }
});

test("redactedConfig hides every secret and keeps the rest", () => {
  const config: ConnectorConfig = loadConfig({
    env: validEnv({
      AZURE_CLIENT_SECRET: "azure-secret-8f2a",
      KAFKA_SSL: "true",
      SCHEMA_REGISTRY_URL: "https://localhost:8081",
      KAFKA_SASL_MECHANISM: "scram-sha-512",
      KAFKA_SASL_USERNAME: "svc",
      KAFKA_SASL_PASSWORD: "sasl-password-9c1d",
      SCHEMA_REGISTRY_USERNAME: "reg",
      SCHEMA_REGISTRY_PASSWORD: "registry-password-77e0",
      CONNECTOR_START: "2024-05-01T00:00:00Z",
    }),
  });
  const redacted = redactedConfig(config);
  const text = JSON.stringify(redacted);
  for (const secret of ["azure-secret-8f2a", "sasl-password-9c1d", "registry-password-77e0"]) {
    assert.ok(!text.includes(secret), `${secret} in ${text}`);
  }
  assert.deepEqual(redacted.azure, {
    tenantId: config.azure.tenantId,
    clientId: config.azure.clientId,
    clientSecret: "[redacted]",
    authorityHost: "https://login.microsoftonline.com",
    cloud: "global",
  });
  assert.deepEqual((redacted.kafka as { sasl: unknown }).sasl, {
    mechanism: "scram-sha-512",
    username: "svc",
    password: "[redacted]",
  });
  assert.deepEqual(redacted.schemaRegistry, {
    url: "https://localhost:8081",
    username: "reg",
    password: "[redacted]",
  });
  assert.deepEqual((redacted.connector as { start: unknown }).start, {
    kind: "instant",
    at: "2024-05-01T00:00:00.000Z",
  });
  assert.equal(redacted.logLevel, "info");
  assert.equal(config.azure.clientSecret, "azure-secret-8f2a", "the configuration itself is untouched");
  assert.ok(config.kafka.sasl !== undefined && "password" in config.kafka.sasl);
  assert.equal(config.kafka.sasl.password, "sasl-password-9c1d");
});

test("redactedConfig leaves unset secrets out instead of inventing them", () => {
  const redacted = redactedConfig(loadConfig({ env: validEnv() }));
  assert.ok(!("sasl" in (redacted.kafka as object)));
  assert.ok(!("password" in (redacted.schemaRegistry as object)));
});
