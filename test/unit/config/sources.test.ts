import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../../src/config/index.js";
import { closestName, editDistance, isMisspelling, relatedNames } from "../../../src/config/similarity.js";
import { VARIABLE_NAMES } from "../../../src/config/variables.js";
import { CLIENT_ID, problemsOf, SECRET, TENANT, validEnv } from "./helpers.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pstn-config-file-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

// --- unknown and misspelled names -------------------------------------------------------------------

test("unknown variables with the connector's own prefixes are problems", () => {
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ METRICS_PROT: "9000" }) })),
    ["METRICS_PROT: unknown variable; did you mean METRICS_PORT?"],
  );
  const problems = problemsOf(() =>
    loadConfig({
      env: validEnv({ GRAPH_TIMEOUT: "10s", CONNECTOR_ID: "x", WINDOW_SIZE: "1d", METRICS_PATH: "/m" }),
    }),
  );
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.ok(
    problems.includes(
      "GRAPH_TIMEOUT: unknown variable; did you mean GRAPH_BODY_TIMEOUT, GRAPH_CONNECT_TIMEOUT or GRAPH_HEADERS_TIMEOUT?",
    ),
    "the names sharing a word, closest first",
  );
  assert.ok(
    problems.includes(
      "CONNECTOR_ID: unknown variable; the CONNECTOR_ variables are CONNECTOR_STREAMS, CONNECTOR_TENANTS_FILE, CONNECTOR_TENANTS_RELOAD_INTERVAL, CONNECTOR_SLOTS, CONNECTOR_NAME, CONNECTOR_START, CONNECTOR_FAILOVER_TIMEOUT, CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS, CONNECTOR_MAX_RESTART_BACKOFF",
    ),
  );
  assert.ok(problems.includes("WINDOW_SIZE: unknown variable; the WINDOW_ variables are WINDOW_SLICE"));
  assert.ok(
    problems.includes(
      "METRICS_PATH: unknown variable; the METRICS_ variables are METRICS_PORT, METRICS_HOST, METRICS_TENANT_LABEL",
    ),
  );
});

test("KAFKA_ and SCHEMA_REGISTRY_ names that are not ours are unknown, with did-you-mean", () => {
  const problems = problemsOf(() =>
    loadConfig({
      env: validEnv({
        KAFKA_SSL_CA_LOCATION: "/etc/ca.pem",
        KAFKA_BOOTSTRAP_SERVERS: "k:9092",
        KAFKA_SASL_JAAS_CONFIG: "x",
        KAFKA_BROKER_ID: "1",
        SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: "u:p",
        SCHEMA_REGISTRY_LISTENERS: "http://0.0.0.0:8081",
      }),
    }),
  );
  assert.equal(problems.length, 6, problems.join("\n"));
  // Whatever KAFKA_SSL_* names exist (the TLS file variables among them), the closest is offered.
  const ca = problems.find((p) => p.startsWith("KAFKA_SSL_CA_LOCATION:")) ?? "";
  assert.match(
    ca,
    /^KAFKA_SSL_CA_LOCATION: unknown variable; did you mean KAFKA_SSL\w*( or KAFKA_SSL\w*)?\?$/,
  );
  assert.ok(problems.includes("KAFKA_BOOTSTRAP_SERVERS: unknown variable; did you mean KAFKA_BROKERS?"));
  assert.match(
    problems.find((p) => p.startsWith("KAFKA_SASL_JAAS_CONFIG:")) ?? "",
    /did you mean KAFKA_SASL_/,
  );
  assert.match(problems.find((p) => p.startsWith("KAFKA_BROKER_ID:")) ?? "", /did you mean KAFKA_BROKERS\b/);
  assert.ok(
    problems.includes(
      "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: unknown variable; did you mean SCHEMA_REGISTRY_USERNAME?",
    ),
  );
  assert.ok(
    problems.includes(
      "SCHEMA_REGISTRY_LISTENERS: unknown variable; the SCHEMA_REGISTRY_ variables are SCHEMA_REGISTRY_URL, SCHEMA_REGISTRY_USERNAME, SCHEMA_REGISTRY_PASSWORD",
    ),
  );
});

test("related names: the most shared words, closest spelling first", () => {
  const known = ["KAFKA_SSL", "KAFKA_SSL_CA_FILE", "KAFKA_SSL_CERT_FILE", "KAFKA_BROKERS", "GRAPH_CLOUD"];
  assert.deepEqual(relatedNames("KAFKA_SSL_CA_LOCATION", known, "KAFKA_"), ["KAFKA_SSL_CA_FILE"]);
  assert.deepEqual(relatedNames("KAFKA_SSL_KEY", known, "KAFKA_"), [
    "KAFKA_SSL",
    "KAFKA_SSL_CA_FILE",
    "KAFKA_SSL_CERT_FILE",
  ]);
  assert.deepEqual(
    relatedNames("KAFKA_BROKER_LIST", known, "KAFKA_"),
    ["KAFKA_BROKERS"],
    "an inflection counts",
  );
  assert.deepEqual(relatedNames("KAFKA_CLOUD", known, "KAFKA_"), [], "only names under the prefix");
  assert.deepEqual(relatedNames("KAFKA_HEAP", known, "KAFKA_"), []);
});

test("close misspellings of known names are caught anywhere in the environment", () => {
  const problems = problemsOf(() =>
    loadConfig({
      env: validEnv({
        LOOKBAK: "2d",
        POLL_INTERVALL: "1m",
        KAFKA_TOPICS: "x",
        AZURE_CLEINT_SECRET: "swapped letters",
        LOGLEVEL: "debug",
        log_level: "debug",
      }),
    }),
  );
  assert.deepEqual(problems.sort(), [
    "AZURE_CLEINT_SECRET: unknown variable; did you mean AZURE_CLIENT_SECRET?",
    "KAFKA_TOPICS: unknown variable; did you mean KAFKA_TOPIC?",
    "LOGLEVEL: unknown variable; did you mean LOG_LEVEL?",
    "LOOKBAK: unknown variable; did you mean LOOKBACK?",
    "POLL_INTERVALL: unknown variable; did you mean POLL_INTERVAL?",
    "log_level: unknown variable; did you mean LOG_LEVEL? (names are upper case)",
  ]);
});

test("other software's variables are left alone", () => {
  const config = loadConfig({
    env: validEnv({
      PATH: "/usr/bin",
      HOME: "/home/app",
      NODE_OPTIONS: "--enable-source-maps",
      NODE_EXTRA_CA_CERTS: "/etc/ca.pem",
      AZURE_USERNAME: "someone",
      AZURE_PASSWORD: "other-tools-password",
      AZURE_CLIENT_CERTIFICATE_PASSWORD: "x",
      AZURE_FEDERATED_TOKEN_FILE: "/var/run/token",
      AZURE_SUBSCRIPTION_ID: "x",
      // Kafka's and the registry's scripts
      KAFKA_HEAP_OPTS: "-Xmx1G",
      KAFKA_OPTS: "-Dx=y",
      KAFKA_JVM_PERFORMANCE_OPTS: "-server",
      KAFKA_LOG4J_OPTS: "-Dlog4j.configuration=x",
      KAFKA_JMX_OPTS: "-Dcom.sun.management.jmxremote",
      KAFKA_GC_LOG_OPTS: "x",
      KAFKA_DEBUG: "y",
      KAFKA_HOME: "/opt/kafka",
      SCHEMA_REGISTRY_HEAP_OPTS: "-Xmx512M",
      SCHEMA_REGISTRY_OPTS: "-Dx=y",
      // the Heroku Kafka add-on
      KAFKA_URL: "kafka+ssl://host:9096",
      KAFKA_CLIENT_CERT: "x",
      KAFKA_CLIENT_CERT_KEY: "x",
      KAFKA_TRUSTED_CERT: "x",
      KAFKA_PREFIX: "x",
      KAFKAJS_LOG_LEVEL: "debug",
      // Kubernetes service links of Services named "kafka" and "schema-registry"
      KAFKA_PORT: "tcp://10.0.0.9:9092",
      KAFKA_SERVICE_HOST: "10.0.0.9",
      KAFKA_PORT_9092_TCP_ADDR: "10.0.0.9",
      SCHEMA_REGISTRY_PORT: "tcp://10.0.0.10:8081",
      SCHEMA_REGISTRY_SERVICE_PORT: "8081",
      LOG_FORMAT: "json",
      // Kubernetes service links of Services named "metrics" and "graph"
      METRICS_SERVICE_HOST: "10.0.0.7",
      METRICS_SERVICE_PORT: "9464",
      METRICS_PORT_9464_TCP: "tcp://10.0.0.7:9464",
      METRICS_PORT_9464_TCP_ADDR: "10.0.0.7",
      GRAPH_PORT: "tcp://10.0.0.8:443",
    }),
  });
  assert.equal(config.azure.tenantId, TENANT);
});

test("names given on the command line must all be known", () => {
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv(), overrides: { POLL_INTERVALL: "1m", FOO: "x" } })),
    [
      "POLL_INTERVALL: unknown variable given on the command line; did you mean POLL_INTERVAL?",
      "FOO: unknown variable given on the command line",
    ],
  );
});

test("misspelling detection: close edits, not unrelated names", () => {
  assert.equal(editDistance("LOOKBACK", "LOOKBAK"), 1);
  assert.equal(editDistance("POLL_INTERVAL", "POLL_ITNERVAL"), 1, "a swap is one edit");
  assert.equal(editDistance("abc", ""), 3);
  for (const [candidate, known] of [
    ["LOOKBAK", "LOOKBACK"],
    ["POLL_INTERVALL", "POLL_INTERVAL"],
    ["KAFKA_BROKER", "KAFKA_BROKERS"],
    ["METRIC_PORT", "METRICS_PORT"],
    ["KAFKA_SLL", "KAFKA_SSL"],
  ] as const) {
    assert.ok(isMisspelling(candidate, known), `${candidate} ~ ${known}`);
  }
  for (const [candidate, known] of [
    ["KAFKA_URL", "KAFKA_SSL"],
    ["AZURE_TENANT", "AZURE_TENANT_ID"],
    ["LOOKBACK", "LOOKBACK"],
    ["PATH", "LOG_LEVEL"],
  ] as const) {
    assert.ok(!isMisspelling(candidate, known), `${candidate} !~ ${known}`);
  }
  assert.equal(closestName("KAFKA_TOPICS", VARIABLE_NAMES), "KAFKA_TOPIC");
  assert.equal(closestName("HOSTNAME", VARIABLE_NAMES), undefined);
});

// --- config files -----------------------------------------------------------------------------------

test("a JSON file supplies values; the environment wins over it, overrides over both", async () => {
  const path = await file(
    "config.json",
    JSON.stringify({
      AZURE_TENANT_ID: TENANT,
      AZURE_CLIENT_ID: CLIENT_ID,
      AZURE_CLIENT_SECRET: SECRET,
      KAFKA_BROKERS: "file-kafka:9092",
      SCHEMA_REGISTRY_URL: "http://file-registry:8081",
      KAFKA_SSL: true,
      METRICS_PORT: 9999,
      POLL_INTERVAL: "10m",
      LOG_LEVEL: "debug",
    }),
  );
  const fileOnly = loadConfig({ env: {}, file: path });
  assert.deepEqual(fileOnly.kafka.brokers, ["file-kafka:9092"]);
  assert.equal(fileOnly.kafka.ssl, true);
  assert.equal(fileOnly.metricsPort, 9999);
  assert.equal(fileOnly.connector.pollIntervalMs, 600_000);

  const layered = loadConfig({
    env: { KAFKA_BROKERS: "env-kafka:9092", POLL_INTERVAL: "1m", LOG_LEVEL: "" },
    file: path,
    overrides: { POLL_INTERVAL: "30s" },
  });
  assert.deepEqual(layered.kafka.brokers, ["env-kafka:9092"], "environment over file");
  assert.equal(layered.connector.pollIntervalMs, 30_000, "overrides over environment");
  assert.equal(layered.logLevel, "debug", "an empty environment value does not hide the file's");
  assert.equal(layered.schemaRegistry.url, "http://file-registry:8081");
});

test("JSON file problems: unknown keys, wrong value types, a bad value says where it came from", async () => {
  const path = await file(
    "bad.json",
    JSON.stringify({
      LOOKBAK: "2d",
      HELLO: "x",
      KAFKA_BROKERS: ["a:1"],
      SCHEMA_REGISTRY_URL: null,
      POLL_INTERVAL: 300,
    }),
  );
  const problems = problemsOf(() => loadConfig({ env: validEnv(), file: path }));
  assert.deepEqual(problems, [
    `KAFKA_BROKERS: in config file ${path} must be a string, number or boolean, not an array`,
    `SCHEMA_REGISTRY_URL: in config file ${path} must be a string, number or boolean, not null`,
    `LOOKBAK: unknown variable in config file ${path}; did you mean LOOKBACK?`,
    `HELLO: unknown variable in config file ${path}`,
    `POLL_INTERVAL: "300" is not a duration; use e.g. 5m, 30s or PT5M (config file ${path})`,
  ]);
});

test("a file that cannot be used is reported alone, without its content", async () => {
  const broken = await file("broken.json", `{\n  "AZURE_CLIENT_SECRET": "leaky-secret-1234"\n  "X": 1\n}`);
  const problems = problemsOf(() => loadConfig({ env: {}, file: broken }));
  assert.equal(problems.length, 1);
  assert.match(problems[0] ?? "", new RegExp(`^config file ${broken}: is not valid JSON`));
  assert.ok(!problems[0]?.includes("leaky-secret-1234"));

  const array = await file("array.json", "[1, 2]");
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: {}, file: array })),
    [`config file ${array}: must hold one JSON object of variable names to values`],
  );
  const missing = join(dir, "missing.env");
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv(), file: missing })),
    [`config file ${missing}: cannot be read (does not exist)`],
  );
});

test("a dotenv file: comments, export, quotes, inline comments; the environment wins", async () => {
  const path = await file(
    "connector.env",
    [
      "\uFEFF# PSTN connector",
      "",
      `AZURE_TENANT_ID=${TENANT}`,
      `export AZURE_CLIENT_ID = ${CLIENT_ID}`,
      `AZURE_CLIENT_SECRET='${SECRET} # not a comment'`,
      'KAFKA_BROKERS="file-kafka:9092,file-kafka-2:9092"  # two brokers',
      "SCHEMA_REGISTRY_URL=http://registry:8081 # trailing comment",
      "KAFKA_SSL=yes",
      "KAFKA_SASL_MECHANISM=plain",
      "KAFKA_SASL_USERNAME=svc",
      'KAFKA_SASL_PASSWORD="p\\"w\\\\d#1"',
      "LOG_LEVEL=warn",
      "CONNECTOR_NAME=from-file\r",
    ].join("\n"),
  );
  const config = loadConfig({ env: { LOG_LEVEL: "error" }, file: path });
  assert.equal(config.azure.tenantId, TENANT);
  assert.equal(config.azure.clientId, CLIENT_ID);
  assert.equal(config.azure.clientSecret, `${SECRET} # not a comment`);
  assert.deepEqual(config.kafka.brokers, ["file-kafka:9092", "file-kafka-2:9092"]);
  assert.equal(config.schemaRegistry.url, "http://registry:8081");
  assert.ok(config.kafka.sasl !== undefined && "password" in config.kafka.sasl);
  assert.equal(config.kafka.sasl.password, 'p"w\\d#1');
  assert.equal(config.logLevel, "error", "environment over file");
  assert.equal(config.connector.name, "from-file");
});

test("dotenv problems name the line, never its content", async () => {
  const path = await file(
    "bad.env",
    [
      "LOOKBACK=48h",
      "this line holds hunter2-secret",
      'KAFKA_SASL_PASSWORD="unterminated-secret-5555',
      "LOOKBACK=72h",
      "GRAPH_TIMEOUT=5s",
      "POLL_INTERVAL=soon",
    ].join("\n"),
  );
  const problems = problemsOf(() => loadConfig({ env: validEnv(), file: path }));
  assert.deepEqual(problems, [
    `config file ${path}, line 2: expected KEY=VALUE`,
    `KAFKA_SASL_PASSWORD: in config file ${path}, line 3, a quoted value is not closed or is followed by more text`,
    `LOOKBACK: set twice in config file ${path} (lines 1 and 4)`,
    `GRAPH_TIMEOUT: unknown variable in config file ${path}, line 5; did you mean GRAPH_BODY_TIMEOUT, GRAPH_CONNECT_TIMEOUT or GRAPH_HEADERS_TIMEOUT?`,
    `POLL_INTERVAL: "soon" is not a duration; use e.g. 5m, 30s or PT5M (config file ${path}, line 6)`,
  ]);
  const text = problems.join("\n");
  assert.ok(!text.includes("hunter2") && !text.includes("unterminated-secret"));
});
