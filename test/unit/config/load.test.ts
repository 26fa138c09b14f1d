import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";
import { generate } from "selfsigned";
import { type ConnectorConfig, loadConfig, reloadTenants } from "../../../src/config/index.js";
import { CLIENT_ID, problemsOf, SECRET, TENANT, validEnv } from "./helpers.js";

const D = 86_400_000;

test("the smallest valid environment gets every default", () => {
  const config = loadConfig({ env: validEnv() });
  const expected: ConnectorConfig = {
    azure: {
      tenantId: TENANT,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      authorityHost: "https://login.microsoftonline.com",
      cloud: "global",
    },
    graph: {
      endpoint: "https://graph.microsoft.com",
      apiVersion: "v1.0",
      scope: "https://graph.microsoft.com/.default",
      connectTimeoutMs: 10_000,
      headersTimeoutMs: 60_000,
      bodyTimeoutMs: 120_000,
      maxRetries: 8,
      maxRequestsPerMinute: 190,
      maxPageBytes: 64 * 1024 * 1024,
      maxPagesPerWindow: 10_000,
      maxRetryAfterMs: 600_000,
    },
    kafka: {
      brokers: ["localhost:9092"],
      topics: {
        pstn: { data: "teams.pstn-calls", dlq: "teams.pstn-calls.dlq", state: "teams.pstn-calls.state" },
        directRouting: {
          data: "teams.direct-routing-calls",
          dlq: "teams.direct-routing-calls.dlq",
          state: "teams.direct-routing-calls.state",
        },
        sms: { data: "teams.sms-log", dlq: "teams.sms-log.dlq", state: "teams.sms-log.state" },
      },
      clientId: "pstn-connector",
      compression: "zstd",
      ssl: false,
      connectTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
    },
    schemaRegistry: { url: "http://localhost:8081" },
    connector: {
      streams: ["pstn"],
      name: "default",
      start: { kind: "ago", ms: D },
      pollIntervalMs: 300_000,
      lookbackMs: 48 * 3_600_000,
      windowSliceMs: D,
      failoverTimeoutMs: 10_000,
      maxRestartBackoffMs: 300_000,
    },
    metricsPort: 9464,
    allowCleartextCredentials: false,
    logLevel: "info",
    tenantsReloadMs: 10_000,
    slots: { topic: "teams.pstn-connector.slots", count: 24 },
    metricsTenantLabel: true,
    tenants: [
      {
        tenantId: TENANT,
        name: TENANT,
        streams: ["pstn"],
        start: { kind: "ago", ms: D },
        credentials: { clientId: CLIENT_ID, clientSecret: SECRET },
      },
    ],
  };
  assert.deepEqual(config, expected);
  assert.ok(!("metricsHost" in config), "all interfaces unless METRICS_HOST is set");
  assert.ok(!("clientCertificatePath" in config.azure), "unset optional values are left out");
  assert.ok(!("sasl" in config.kafka));
});

test("an empty value counts as not set", () => {
  const config = loadConfig({ env: validEnv({ POLL_INTERVAL: "", LOG_LEVEL: "   " }) });
  assert.equal(config.connector.pollIntervalMs, 300_000);
  assert.equal(config.logLevel, "info");
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ AZURE_TENANT_ID: "" }) })),
    ["AZURE_TENANT_ID: required (the tenant GUID or domain), or CONNECTOR_TENANTS_FILE listing the tenants"],
  );
});

const CLOUDS = [
  ["global", "https://login.microsoftonline.com", "https://graph.microsoft.com"],
  ["usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"],
  ["dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"],
  ["china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"],
] as const;

for (const [cloud, authorityHost, endpoint] of CLOUDS) {
  test(`GRAPH_CLOUD=${cloud} sets the authority host, the Graph endpoint and the scope`, () => {
    const config = loadConfig({ env: validEnv({ GRAPH_CLOUD: cloud.toUpperCase() }) });
    assert.equal(config.azure.cloud, cloud);
    assert.equal(config.azure.authorityHost, authorityHost);
    assert.equal(config.graph.endpoint, endpoint);
    assert.equal(config.graph.scope, `${endpoint}/.default`);
  });
}

test("AZURE_AUTHORITY_HOST and GRAPH_ENDPOINT override the cloud's and lose trailing slashes", () => {
  const config = loadConfig({
    env: validEnv({
      GRAPH_CLOUD: "usgov",
      AZURE_AUTHORITY_HOST: "https://localhost:8443//",
      GRAPH_ENDPOINT: "https://graph.proxy.example/msgraph/",
    }),
  });
  assert.equal(config.azure.cloud, "usgov");
  assert.equal(config.azure.authorityHost, "https://localhost:8443");
  assert.equal(config.graph.endpoint, "https://graph.proxy.example/msgraph");
  assert.equal(config.graph.scope, "https://graph.proxy.example/msgraph/.default");
});

test("authority host and Graph endpoint must be https URLs", () => {
  const problems = problemsOf(() =>
    loadConfig({
      env: validEnv({
        AZURE_AUTHORITY_HOST: "http://localhost:8443",
        GRAPH_ENDPOINT: "graph.microsoft.com",
      }),
    }),
  );
  assert.equal(problems.length, 2);
  assert.match(problems[0] ?? "", /^AZURE_AUTHORITY_HOST: "http:\/\/localhost:8443" must be an https URL/);
  assert.match(
    problems[1] ?? "",
    /^GRAPH_ENDPOINT: "graph\.microsoft\.com" is not a URL; expected an https URL/,
  );
  assert.match(
    problemsOf(() =>
      loadConfig({ env: validEnv({ GRAPH_ENDPOINT: "https://graph.microsoft.com/?x=1" }) }),
    )[0] ?? "",
    /^GRAPH_ENDPOINT: .* must not have a query or fragment$/,
  );
});

test("an unknown cloud or API version names the choices", () => {
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ GRAPH_CLOUD: "germany", GRAPH_API_VERSION: "v2" }) })),
    [
      'GRAPH_CLOUD: "germany" is not a national cloud; use global, usgov, dod or china',
      'GRAPH_API_VERSION: "v2" is not a Graph API version; use v1.0 or beta',
    ],
  );
  assert.equal(loadConfig({ env: validEnv({ GRAPH_API_VERSION: "Beta" }) }).graph.apiVersion, "beta");
});

test("durations are read in both forms wherever one is expected", () => {
  const config = loadConfig({
    env: validEnv({
      POLL_INTERVAL: "PT1M30S",
      LOOKBACK: "3d",
      WINDOW_SLICE: "PT12H",
      GRAPH_CONNECT_TIMEOUT: "500ms",
      GRAPH_HEADERS_TIMEOUT: "PT0.5S",
      GRAPH_BODY_TIMEOUT: "2m",
      KAFKA_CONNECT_TIMEOUT: "1s",
      KAFKA_REQUEST_TIMEOUT: "P1D",
    }),
  });
  assert.equal(config.connector.pollIntervalMs, 90_000);
  assert.equal(config.connector.lookbackMs, 3 * D);
  assert.equal(config.connector.windowSliceMs, D / 2);
  assert.equal(config.graph.connectTimeoutMs, 500);
  assert.equal(config.graph.headersTimeoutMs, 500);
  assert.equal(config.graph.bodyTimeoutMs, 120_000);
  assert.equal(config.kafka.connectTimeoutMs, 1000);
  assert.equal(config.kafka.requestTimeoutMs, D);
});

test("bad durations say what is wrong and what to write", () => {
  const problems = problemsOf(() =>
    loadConfig({
      env: validEnv({
        POLL_INTERVAL: "5 minutes",
        LOOKBACK: "P1M",
        WINDOW_SLICE: "91d",
        GRAPH_CONNECT_TIMEOUT: "0s",
        GRAPH_BODY_TIMEOUT: "-1m",
        KAFKA_REQUEST_TIMEOUT: "30d",
      }),
    }),
  );
  assert.deepEqual(problems, [
    'GRAPH_CONNECT_TIMEOUT: "0s" must be longer than zero; use e.g. 5m, 30s or PT5M',
    'GRAPH_BODY_TIMEOUT: "-1m" is negative; use e.g. 5m, 30s or PT5M',
    'KAFKA_REQUEST_TIMEOUT: "30d" is too long; at most 24d (the longest wait Node\'s timers support)',
    'POLL_INTERVAL: "5 minutes" is not a duration; use e.g. 5m, 30s or PT5M',
    'LOOKBACK: "P1M" uses years or months, which have no fixed length; use days or weeks, e.g. P30D or 30d',
    'WINDOW_SLICE: "91d" is too long; at most 90d (Graph\'s limit per request)',
  ]);
});

test("zero is refused where it means nothing and kept where it does", () => {
  assert.equal(loadConfig({ env: validEnv({ LOOKBACK: "0s" }) }).connector.lookbackMs, 0);
  assert.equal(loadConfig({ env: validEnv({ WINDOW_SLICE: "90d" }) }).connector.windowSliceMs, 90 * D);
  const problems = problemsOf(() =>
    loadConfig({ env: validEnv({ POLL_INTERVAL: "0s", WINDOW_SLICE: "PT0S" }) }),
  );
  assert.equal(problems.length, 2);
  assert.match(problems[0] ?? "", /^POLL_INTERVAL: "0s" must be longer than zero/);
  assert.match(problems[1] ?? "", /^WINDOW_SLICE: "PT0S" must be longer than zero/);
});

test("CONNECTOR_START as an instant, with Z or an offset", () => {
  for (const [text, iso] of [
    ["2024-05-01T00:00:00Z", "2024-05-01T00:00:00.000Z"],
    ["2024-05-01T02:00:00+02:00", "2024-05-01T00:00:00.000Z"],
    ["2024-05-01T00:00:00.250-05:00", "2024-05-01T05:00:00.250Z"],
  ] as const) {
    const { start } = loadConfig({ env: validEnv({ CONNECTOR_START: text }) }).connector;
    assert.equal(start.kind, "instant");
    assert.equal(start.kind === "instant" ? start.at.toISOString() : undefined, iso);
  }
});

test("CONNECTOR_START as a duration ago", () => {
  for (const [text, ms] of [
    ["30d", 30 * D],
    ["P30D", 30 * D],
    ["PT12H", D / 2],
    ["0s", 0],
  ] as const) {
    assert.deepEqual(loadConfig({ env: validEnv({ CONNECTOR_START: text }) }).connector.start, {
      kind: "ago",
      ms,
    });
  }
});

test("a CONNECTOR_START that is neither says so", () => {
  const cases: ReadonlyArray<[string, ...string[]]> = [
    [
      "2024-05-01",
      'CONNECTOR_START: "2024-05-01" has no time zone; add Z or an offset, e.g. 2024-05-01T00:00:00Z',
    ],
    [
      "2024-05-01T08:00:00",
      'CONNECTOR_START: "2024-05-01T08:00:00" has no time zone; add Z or an offset, e.g. 2024-05-01T08:00:00Z',
    ],
    ["2024-02-30T00:00:00Z", 'CONNECTOR_START: "2024-02-30T00:00:00Z" is not a real date and time'],
    [
      "yesterday",
      'CONNECTOR_START: "yesterday" is neither an ISO-8601 instant (e.g. 2024-05-01T00:00:00Z) nor a duration ago (e.g. 30d or P30D)',
    ],
    ["-30d", 'CONNECTOR_START: "-30d" is negative; give how long ago the first run begins, e.g. 30d'],
    [
      "P1Y",
      'CONNECTOR_START: "P1Y" uses years or months, which have no fixed length; use days, e.g. 365d, or an instant',
    ],
  ];
  for (const [text, problem] of cases) {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ CONNECTOR_START: text }) })),
      [problem],
    );
  }
});

test("tenant and client ids", () => {
  const guid = "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE";
  const config = loadConfig({ env: validEnv({ AZURE_TENANT_ID: guid, AZURE_CLIENT_ID: guid }) });
  assert.equal(config.azure.tenantId, guid.toLowerCase());
  assert.equal(config.azure.clientId, guid.toLowerCase());
  const problems = problemsOf(() =>
    loadConfig({ env: validEnv({ AZURE_TENANT_ID: "common", AZURE_CLIENT_ID: "my-app" }) }),
  );
  assert.deepEqual(problems, [
    'AZURE_TENANT_ID: "common" is not a single tenant; application permissions need the tenant GUID or its domain',
    'AZURE_CLIENT_ID: "my-app" is not an application (client) id; expected a GUID like 00000000-0000-0000-0000-000000000000',
  ]);
  assert.match(
    problemsOf(() => loadConfig({ env: validEnv({ AZURE_TENANT_ID: "contoso" }) }))[0] ?? "",
    /^AZURE_TENANT_ID: "contoso" is not a tenant GUID or domain/,
  );
});

// --- secret or certificate -------------------------------------------------------------------------

let dir = "";
let goodPem = "";
let otherKey = "";
let otherCert = "";
let encryptedPem = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pstn-config-"));
  const attrs = [{ name: "commonName", value: "pstn-connector-test" }];
  const [pair, other, encrypted] = await Promise.all([
    generate(attrs, { keySize: 2048, algorithm: "sha256" }),
    generate(attrs, { keySize: 2048, algorithm: "sha256" }),
    generate(attrs, { keySize: 2048, algorithm: "sha256", passphrase: "pass phrase" }),
  ]);
  goodPem = `${pair.cert}\n${pair.private}`;
  otherKey = other.private;
  otherCert = other.cert;
  encryptedPem = `${encrypted.cert}\n${encrypted.private}`;
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pemFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function withCertificate(path: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return validEnv({ AZURE_CLIENT_SECRET: undefined, AZURE_CLIENT_CERTIFICATE_PATH: path, ...extra });
}

test("a certificate file with its private key is accepted, as an absolute path", async () => {
  const path = await pemFile("app.pem", goodPem);
  const config = loadConfig({ env: withCertificate(path) });
  assert.equal(config.azure.clientCertificatePath, path);
  assert.ok(!("clientSecret" in config.azure));
  const fromRelative = loadConfig({ env: withCertificate(relative(process.cwd(), path)) });
  assert.equal(fromRelative.azure.clientCertificatePath, path);
});

test("a key before the certificate, or a certificate chain with the app's certificate first, is fine too", async () => {
  const [cert = "", key = ""] = goodPem.split(/\n(?=-----BEGIN PRIVATE KEY)/);
  const reversed = await pemFile("reversed.pem", `${key}\n${cert}`);
  assert.equal(loadConfig({ env: withCertificate(reversed) }).azure.clientCertificatePath, reversed);
  const chain = await pemFile("chain.pem", `${cert}\n${otherCert}\n${key}`);
  assert.equal(loadConfig({ env: withCertificate(chain) }).azure.clientCertificatePath, chain);
});

test("secret and certificate together, or neither, is a problem", async () => {
  const path = await pemFile("both.pem", goodPem);
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ AZURE_CLIENT_CERTIFICATE_PATH: path }) })),
    [
      "AZURE_CLIENT_CERTIFICATE_PATH: set together with AZURE_CLIENT_SECRET; set exactly one of them (a client secret or a certificate)",
    ],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ AZURE_CLIENT_SECRET: undefined }) })),
    [
      "AZURE_CLIENT_SECRET: required, or AZURE_CLIENT_CERTIFICATE_PATH (a client secret, or a PEM file with the certificate and its private key)",
    ],
  );
});

test("an unusable certificate file says why", async () => {
  const [cert = "", key = ""] = goodPem.split(/\n(?=-----BEGIN PRIVATE KEY)/);
  const subdir = join(dir, "a-directory");
  await mkdir(subdir, { recursive: true });
  const cases: ReadonlyArray<[string, ...string[]]> = [
    [join(dir, "missing.pem"), "does not exist"],
    [subdir, "is a directory, not a PEM file"],
    [await pemFile("cert-only.pem", cert), "holds no PEM private key (-----BEGIN PRIVATE KEY-----)"],
    [await pemFile("key-only.pem", key), "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"],
    [
      await pemFile("empty.pem", "nothing here\n"),
      "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
      "holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
    ],
    [
      await pemFile("encrypted.pem", encryptedPem),
      "holds an encrypted private key; the connector needs it unencrypted",
    ],
    [
      await pemFile("mismatch.pem", `${cert}\n${otherKey}`),
      "does not hold the private key of its certificate (its first one)",
    ],
    [
      // msal takes the first certificate's thumbprint: a key of a later one cannot sign for it.
      await pemFile("not-first.pem", `${otherCert}\n${cert}\n${key}`),
      "does not hold the private key of its certificate (its first one)",
    ],
    [
      await pemFile("two-keys.pem", `${cert}\n${key}\n${otherKey}`),
      "holds more than one private key; keep only the certificate's",
    ],
    [
      await pemFile("garbage.pem", `-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n${key}`),
      "holds a certificate that cannot be read (the 1st one)",
    ],
  ];
  for (const [path, ...messages] of cases) {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: withCertificate(path) })),
      messages.map((message) => `AZURE_CLIENT_CERTIFICATE_PATH: ${JSON.stringify(path)} ${message}`),
    );
  }
});

test("an unreadable certificate file is a problem", {
  skip: process.getuid?.() === 0 && "root reads anything",
}, async () => {
  const path = await pemFile("locked.pem", goodPem);
  await chmod(path, 0o000);
  assert.match(
    problemsOf(() => loadConfig({ env: withCertificate(path) }))[0] ?? "",
    /^AZURE_CLIENT_CERTIFICATE_PATH: ".*locked\.pem" cannot be read \(permission denied\)$/,
  );
});

// --- Kafka ------------------------------------------------------------------------------------------

test("KAFKA_BROKERS: a comma-separated list of host:port", () => {
  const config = loadConfig({
    env: validEnv({
      KAFKA_BROKERS:
        " kafka-1.example.com:9092, kafka-2:9093 ,10.0.0.3:9094,[::1]:9095,stack_kafka_1:9092,kafka-2:9093,",
    }),
  });
  assert.deepEqual(config.kafka.brokers, [
    "kafka-1.example.com:9092",
    "kafka-2:9093",
    "10.0.0.3:9094",
    "[::1]:9095",
    "stack_kafka_1:9092",
  ]);
});

test("each bad broker is its own problem", () => {
  const problems = problemsOf(() =>
    loadConfig({
      env: validEnv({
        KAFKA_BROKERS: "PLAINTEXT://k1:9092,k2,k3:0,k4:port,bad host:9092,::1:9092,999.1.1.1:9092",
      }),
    }),
  );
  assert.deepEqual(problems, [
    'KAFKA_BROKERS: "PLAINTEXT://k1:9092" has a scheme; write host:port only, e.g. k1:9092',
    'KAFKA_BROKERS: "k2" has no port; use host:port, e.g. k2:9092',
    'KAFKA_BROKERS: "k3:0" is not host:port; the port must be a number from 1 to 65535',
    'KAFKA_BROKERS: "k4:port" is not host:port; the port must be a number from 1 to 65535',
    'KAFKA_BROKERS: "bad host:9092" is not host:port; the host is not a valid name or address',
    'KAFKA_BROKERS: "::1:9092" is not host:port (write an IPv6 address in brackets, [::1]:9092)',
    'KAFKA_BROKERS: "999.1.1.1:9092" is not host:port; the host is not a valid name or address',
  ]);
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ KAFKA_BROKERS: " , " }) })),
    ['KAFKA_BROKERS: "," names no broker; use host:port'],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ KAFKA_BROKERS: undefined }) })),
    ["KAFKA_BROKERS: required (comma-separated host:port, e.g. kafka-1:9092)"],
  );
});

test("a broker entry with user info or a query is never quoted with it", () => {
  const problems = problemsOf(() =>
    loadConfig({
      env: validEnv({
        KAFKA_BROKERS:
          "sasl_ssl://svc:BrokerPa55@broker:9093,svc:BrokerPa55@broker-2:9093,broker-3:9093?token=BrokerPa55",
      }),
    }),
  );
  assert.deepEqual(problems, [
    'KAFKA_BROKERS: "sasl_ssl://[redacted]@broker:9093" has a scheme; write host:port only, e.g. broker:9093',
    'KAFKA_BROKERS: "[redacted]@broker-2:9093" carries a user name or password; write host:port only and set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD',
    'KAFKA_BROKERS: "broker-3:9093?[redacted]" is not host:port; the port must be a number from 1 to 65535',
  ]);
});

test("KAFKA_SSL takes true/false, 1/0 and yes/no", () => {
  for (const [text, ssl] of [
    ["true", true],
    ["TRUE", true],
    ["1", true],
    ["yes", true],
    ["false", false],
    ["0", false],
    ["No", false],
  ] as const) {
    assert.equal(loadConfig({ env: validEnv({ KAFKA_SSL: text }) }).kafka.ssl, ssl, text);
  }
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SSL: "on" }) })),
    ['KAFKA_SSL: "on" is not true or false; use true, false, 1, 0, yes or no'],
  );
});

test("SASL: mechanism (any case) with user name and password", () => {
  for (const mechanism of ["plain", "SCRAM-SHA-256", "Scram-Sha-512"]) {
    const config = loadConfig({
      env: validEnv({
        KAFKA_SSL: "true",
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: "svc",
        KAFKA_SASL_PASSWORD: "pw-1234",
      }),
    });
    assert.deepEqual(config.kafka.sasl, {
      mechanism: mechanism.toLowerCase(),
      username: "svc",
      password: "pw-1234",
    });
  }
});

test("SASL problems: missing parts, unknown mechanism, credentials without mechanism", () => {
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SASL_MECHANISM: "scram-sha-256" }) })),
    [
      "KAFKA_SASL_USERNAME: required when KAFKA_SASL_MECHANISM is set",
      "KAFKA_SASL_PASSWORD: required when KAFKA_SASL_MECHANISM is set",
    ],
  );
  assert.deepEqual(
    problemsOf(() =>
      loadConfig({
        env: validEnv({ KAFKA_SASL_MECHANISM: "gssapi", KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "p" }),
      }),
    ),
    [
      'KAFKA_SASL_MECHANISM: "gssapi" is not a supported SASL mechanism; use plain, scram-sha-256, scram-sha-512 or oauthbearer',
    ],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "p" }) })),
    [
      "KAFKA_SASL_MECHANISM: required when KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are set (plain, scram-sha-256, scram-sha-512 or oauthbearer)",
    ],
  );
});

test("SASL without TLS is a problem of its own line, whatever the mechanism, unless opted in", () => {
  for (const mechanism of ["plain", "scram-sha-256", "scram-sha-512"]) {
    const sasl = {
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: "svc",
      KAFKA_SASL_PASSWORD: "pw-1234",
    };
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv(sasl) })),
      [
        "KAFKA_SASL_MECHANISM: SASL with KAFKA_SSL=false sends the Kafka credentials in clear text; set KAFKA_SSL=true (the brokers' SASL_SSL listener), or set CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS=true if the network is trusted end to end",
      ],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ ...sasl, KAFKA_SSL: "no" }) })),
      problemsOf(() => loadConfig({ env: validEnv(sasl) })),
      "an explicit false is the same",
    );
    assert.equal(
      loadConfig({ env: validEnv({ ...sasl, KAFKA_SSL: "true" }) }).kafka.sasl?.mechanism,
      mechanism,
    );
    const trusted = loadConfig({ env: validEnv({ ...sasl, CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS: "true" }) });
    assert.equal(trusted.kafka.sasl?.mechanism, mechanism);
    assert.equal(trusted.allowCleartextCredentials, true);
  }
  assert.equal(
    loadConfig({ env: validEnv() }).kafka.sasl,
    undefined,
    "no SASL, no credentials: plaintext is fine",
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS: "sure" }) })),
    ['CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS: "sure" is not true or false; use true, false, 1, 0, yes or no'],
  );
});

test("registry credentials over http are a problem unless opted in; https or no credentials are fine", () => {
  const auth = { SCHEMA_REGISTRY_USERNAME: "reg", SCHEMA_REGISTRY_PASSWORD: "reg-pass-31" };
  assert.deepEqual(
    problemsOf(() =>
      loadConfig({ env: validEnv({ ...auth, SCHEMA_REGISTRY_URL: "http://registry:8081/apis/ccompat/v7" }) }),
    ),
    [
      'SCHEMA_REGISTRY_URL: "http://registry:8081" is http, so SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD would be sent in clear text; use the registry\'s https URL, or set CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS=true if the network is trusted end to end',
    ],
  );
  assert.equal(
    loadConfig({ env: validEnv({ ...auth, SCHEMA_REGISTRY_URL: "https://registry:8081" }) }).schemaRegistry
      .password,
    "reg-pass-31",
  );
  assert.equal(
    loadConfig({ env: validEnv({ ...auth, CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS: "1" }) }).schemaRegistry
      .username,
    "reg",
  );
  assert.equal(
    loadConfig({ env: validEnv() }).schemaRegistry.url,
    "http://localhost:8081",
    "http alone is fine",
  );
  const both = problemsOf(() =>
    loadConfig({
      env: validEnv({
        ...auth,
        KAFKA_SASL_MECHANISM: "plain",
        KAFKA_SASL_USERNAME: "u",
        KAFKA_SASL_PASSWORD: "p-5",
      }),
    }),
  );
  assert.deepEqual(
    both.map((line) => line.slice(0, line.indexOf(":"))),
    ["KAFKA_SASL_MECHANISM", "SCHEMA_REGISTRY_URL"],
    "one line each",
  );
});

test("topics: derived from KAFKA_TOPIC unless set, valid names, each its own", () => {
  const derived = loadConfig({ env: validEnv({ KAFKA_TOPIC: "calls" }) }).kafka;
  assert.deepEqual(derived.topics.pstn, { data: "calls", dlq: "calls.dlq", state: "calls.state" });
  const explicit = loadConfig({
    env: validEnv({ KAFKA_TOPIC: "calls", KAFKA_DLQ_TOPIC: "dead", KAFKA_STATE_TOPIC: "progress" }),
  }).kafka;
  assert.deepEqual(explicit.topics.pstn, { data: "calls", dlq: "dead", state: "progress" });

  assert.deepEqual(
    problemsOf(() =>
      loadConfig({
        env: validEnv({ KAFKA_TOPIC: "calls", KAFKA_DLQ_TOPIC: "calls", KAFKA_STATE_TOPIC: "calls" }),
      }),
    ),
    [
      'KAFKA_DLQ_TOPIC: "calls" is KAFKA_TOPIC itself; dead letters need a topic of their own',
      'KAFKA_STATE_TOPIC: "calls" is KAFKA_TOPIC too; the state needs a compacted topic of its own',
    ],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ KAFKA_TOPIC: "my calls" }) })),
    ['KAFKA_TOPIC: "my calls" is not a valid topic name; use up to 249 letters, digits, ".", "_" or "-"'],
  );
  const long = "t".repeat(245);
  const problems = problemsOf(() => loadConfig({ env: validEnv({ KAFKA_TOPIC: long }) }));
  assert.equal(problems.length, 1, "the .dlq name still fits; the .state one does not");
  assert.match(
    problems[0] ?? "",
    /^KAFKA_STATE_TOPIC: "t+…" \(derived from KAFKA_TOPIC\) is not a valid topic name/,
  );
});

test("streams: pstn by default; CONNECTOR_STREAMS chooses, in any case, each once, each with topics of its own", () => {
  const plain = loadConfig({ env: validEnv() });
  assert.deepEqual(plain.connector.streams, ["pstn"]);
  const all = loadConfig({ env: validEnv({ CONNECTOR_STREAMS: " PSTN, directrouting ,sms" }) });
  assert.deepEqual(all.connector.streams, ["pstn", "directRouting", "sms"]);
  assert.deepEqual(all.kafka.topics.directRouting, {
    data: "teams.direct-routing-calls",
    dlq: "teams.direct-routing-calls.dlq",
    state: "teams.direct-routing-calls.state",
  });
  const own = loadConfig({ env: validEnv({ CONNECTOR_STREAMS: "sms", KAFKA_TOPIC_SMS: "texts" }) });
  assert.deepEqual(own.kafka.topics.sms, { data: "texts", dlq: "texts.dlq", state: "texts.state" });

  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ CONNECTOR_STREAMS: "pstn,direct-routing,pstn,smss" }) })),
    [
      'CONNECTOR_STREAMS: "direct-routing" is not a stream; use pstn, directRouting and sms; did you mean directRouting?',
      "CONNECTOR_STREAMS: names pstn twice",
      'CONNECTOR_STREAMS: "smss" is not a stream; use pstn, directRouting and sms; did you mean sms?',
    ],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ CONNECTOR_STREAMS: " , " }) })),
    ['CONNECTOR_STREAMS: "," names no stream; use pstn, directRouting and sms'],
  );
  assert.deepEqual(
    problemsOf(() =>
      loadConfig({
        env: validEnv({ CONNECTOR_STREAMS: "pstn,sms", KAFKA_TOPIC_SMS: "teams.pstn-calls" }),
      }),
    ),
    [
      "KAFKA_TOPIC_SMS: makes \"teams.pstn-calls\" (KAFKA_TOPIC_SMS) the sms stream's, but it is already the pstn stream's (KAFKA_TOPIC); each stream needs topics of its own",
      "KAFKA_TOPIC_SMS: makes \"teams.pstn-calls.dlq\" (KAFKA_TOPIC_SMS.dlq) the sms stream's, but it is already the pstn stream's (KAFKA_DLQ_TOPIC); each stream needs topics of its own",
      "KAFKA_TOPIC_SMS: makes \"teams.pstn-calls.state\" (KAFKA_TOPIC_SMS.state) the sms stream's, but it is already the pstn stream's (KAFKA_STATE_TOPIC); each stream needs topics of its own",
    ],
  );
  // A pstn dead-letter topic named like the sms stream's data topic would mix the two as well.
  assert.deepEqual(
    problemsOf(() =>
      loadConfig({ env: validEnv({ CONNECTOR_STREAMS: "sms,pstn", KAFKA_DLQ_TOPIC: "teams.sms-log" }) }),
    ),
    [
      "KAFKA_TOPIC: makes \"teams.sms-log\" (KAFKA_DLQ_TOPIC) the pstn stream's, but it is already the sms stream's (KAFKA_TOPIC_SMS); each stream needs topics of its own",
    ],
  );
  // A stream not read may share a name: it writes nothing.
  assert.deepEqual(loadConfig({ env: validEnv({ KAFKA_TOPIC_SMS: "teams.pstn-calls" }) }).connector.streams, [
    "pstn",
  ]);
  const long = "t".repeat(245);
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ CONNECTOR_STREAMS: "sms", KAFKA_TOPIC_SMS: long }) })).map(
      (line) => line.replace(/"t+…"/, '"t…"'),
    ),
    [
      'KAFKA_TOPIC_SMS: "t…" (derived from it) is not a valid topic name; use up to 249 letters, digits, ".", "_" or "-"',
    ],
  );
});

test("tenants: from CONNECTOR_TENANTS_FILE instead of AZURE_TENANT_ID, each with the environment's defaults", () => {
  const dir = mkdtempSync(join(tmpdir(), "pstn-config-tenants-"));
  try {
    const file = join(dir, "tenants.yaml");
    writeFileSync(
      file,
      "tenants:\n  - id: contoso.onmicrosoft.com\n  - id: fabrikam.example.com\n    streams: [sms]\n    credentials:\n      clientId: 22222222-3333-4444-5555-666666666666\n      clientSecret: { env: FABRIKAM_SECRET }\n",
    );
    const config = loadConfig({
      env: validEnv({
        AZURE_TENANT_ID: undefined,
        CONNECTOR_TENANTS_FILE: file,
        CONNECTOR_STREAMS: "pstn,directRouting",
        FABRIKAM_SECRET: "fabrikam-secret",
      }),
    });
    assert.equal(config.tenantsFile, file);
    assert.equal(config.azure.tenantId, undefined);
    assert.deepEqual(
      config.tenants.map((tenant) => [tenant.tenantId, tenant.streams, tenant.credentials.clientId]),
      [
        ["contoso.onmicrosoft.com", ["pstn", "directRouting"], CLIENT_ID],
        ["fabrikam.example.com", ["sms"], "22222222-3333-4444-5555-666666666666"],
      ],
    );
    assert.equal(config.tenants[1]?.credentials.clientSecret, "fabrikam-secret");

    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ AZURE_TENANT_ID: undefined }) })),
      [
        "AZURE_TENANT_ID: required (the tenant GUID or domain), or CONNECTOR_TENANTS_FILE listing the tenants",
      ],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: validEnv({ CONNECTOR_TENANTS_FILE: file }) })),
      [
        "AZURE_TENANT_ID: set together with CONNECTOR_TENANTS_FILE, which lists the tenants; remove AZURE_TENANT_ID (or add it to the file)",
      ],
    );
    // The file's problems come after the environment's are fixed, one line each.
    assert.deepEqual(
      problemsOf(() =>
        loadConfig({ env: validEnv({ AZURE_TENANT_ID: undefined, CONNECTOR_TENANTS_FILE: file }) }),
      ),
      [
        `CONNECTOR_TENANTS_FILE (${file}) tenants[1].credentials.clientSecret: env: FABRIKAM_SECRET is not set`,
      ],
    );

    // Read again while running: the same defaults; a file that does not load is its problems.
    writeFileSync(file, "tenants:\n  - id: tailspin.example.com\n");
    assert.deepEqual(
      reloadTenants(config, {}).tenants?.map((tenant) => [tenant.tenantId, tenant.streams]),
      [["tailspin.example.com", ["pstn", "directRouting"]]],
    );
    writeFileSync(file, "tenants:\n  - id: common\n");
    assert.equal(reloadTenants(config, {}).problems?.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("privacy: PRIVACY_POLICY_FILE covers every stream a tenant reads, at load and at reload", () => {
  const dir = mkdtempSync(join(tmpdir(), "pstn-config-privacy-"));
  try {
    const policy = join(dir, "privacy.yaml");
    writeFileSync(policy, "version: v1\nstreams:\n  pstn:\n    outputs:\n      - default: keep\n");
    const single = loadConfig({ env: validEnv({ PRIVACY_POLICY_FILE: policy }) });
    assert.equal(single.privacyFile, policy);
    assert.deepEqual(single.privacy?.outputs, {
      pstn: [{ topic: "teams.pstn-calls", policy: { changes: [] } }],
    });
    assert.equal(loadConfig({ env: validEnv() }).privacy, undefined);

    // A tenant of the file reading sms, which the policy leaves out: refused with the policy's line.
    const tenants = join(dir, "tenants.yaml");
    writeFileSync(
      tenants,
      "tenants:\n  - id: contoso.onmicrosoft.com\n  - id: fabrikam.example.com\n    streams: [sms]\n",
    );
    const env = validEnv({
      AZURE_TENANT_ID: undefined,
      CONNECTOR_TENANTS_FILE: tenants,
      PRIVACY_POLICY_FILE: policy,
    });
    assert.deepEqual(
      problemsOf(() => loadConfig({ env })),
      [
        `PRIVACY_POLICY_FILE (${policy}) streams.sms: missing: the stream is read, and the policy says what each stream's outputs carry (for rows as Graph sends them, an output with default: keep)`,
      ],
    );
    writeFileSync(tenants, "tenants:\n  - id: contoso.onmicrosoft.com\n");
    const config = loadConfig({ env });
    writeFileSync(
      tenants,
      "tenants:\n  - id: contoso.onmicrosoft.com\n  - id: fabrikam.example.com\n    streams: [sms]\n",
    );
    assert.deepEqual(reloadTenants(config, {}).problems, [
      "CONNECTOR_TENANTS_FILE: a tenant reads sms, which PRIVACY_POLICY_FILE has no outputs for; add the stream to the policy first",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// --- registry, connector, operations ----------------------------------------------------------------

test("schema registry: http(s) URL, basic auth in pairs, never in the URL", () => {
  const config = loadConfig({
    env: validEnv({
      SCHEMA_REGISTRY_URL: "https://localhost:8081/apis/ccompat/v7/",
      SCHEMA_REGISTRY_USERNAME: "reg-user",
      SCHEMA_REGISTRY_PASSWORD: "reg-pass",
    }),
  });
  assert.deepEqual(config.schemaRegistry, {
    url: "https://localhost:8081/apis/ccompat/v7",
    username: "reg-user",
    password: "reg-pass",
  });
  assert.deepEqual(
    problemsOf(() =>
      loadConfig({ env: validEnv({ SCHEMA_REGISTRY_URL: "https://bob:hunter22@registry.example" }) }),
    ),
    [
      'SCHEMA_REGISTRY_URL: "https://bob:[redacted]@registry.example" must not carry a user name or password; set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD',
    ],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ SCHEMA_REGISTRY_USERNAME: "reg-user" }) })),
    ["SCHEMA_REGISTRY_PASSWORD: required when SCHEMA_REGISTRY_USERNAME is set"],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ SCHEMA_REGISTRY_URL: "ftp://registry" }) })),
    [
      'SCHEMA_REGISTRY_URL: "ftp://registry" must be an http or https URL, e.g. https://registry.example.com:8081',
    ],
  );
});

test("METRICS_PORT from 0 to 65535", () => {
  assert.equal(loadConfig({ env: validEnv({ METRICS_PORT: "0" }) }).metricsPort, 0);
  assert.equal(loadConfig({ env: validEnv({ METRICS_PORT: "65535" }) }).metricsPort, 65_535);
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ METRICS_PORT: "65536" }) })),
    ['METRICS_PORT: "65536" is not a port from 0 to 65535 (0 picks a free port)'],
  );
  assert.match(
    problemsOf(() => loadConfig({ env: validEnv({ METRICS_PORT: "tcp://10.0.0.7:9464" }) }))[0] ?? "",
    /^METRICS_PORT: "tcp:\/\/10\.0\.0\.7:9464" is not a port but a Kubernetes service link/,
  );
});

test("METRICS_HOST: an address or host name, all interfaces when unset", () => {
  for (const [text, host] of [
    ["127.0.0.1", "127.0.0.1"],
    ["0.0.0.0", "0.0.0.0"],
    ["::", "::"],
    ["[::1]", "::1"],
    ["localhost", "localhost"],
    ["metrics.internal", "metrics.internal"],
  ] as const) {
    assert.equal(loadConfig({ env: validEnv({ METRICS_HOST: text }) }).metricsHost, host, text);
  }
  assert.equal(loadConfig({ env: validEnv({ METRICS_HOST: " " }) }).metricsHost, undefined);
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ METRICS_HOST: "127.0.0.1:9464" }) })),
    [
      'METRICS_HOST: "127.0.0.1:9464" is not an address; give the address only (e.g. 127.0.0.1 or ::), the port is METRICS_PORT',
    ],
  );
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ METRICS_HOST: "all interfaces" }) })),
    ['METRICS_HOST: "all interfaces" is not an IP address or host name; use e.g. 127.0.0.1, :: or 0.0.0.0'],
  );
});

test("LOG_LEVEL: trace to fatal, any case, with a suggestion when close", () => {
  for (const level of ["trace", "debug", "info", "warn", "error", "fatal"]) {
    assert.equal(loadConfig({ env: validEnv({ LOG_LEVEL: level.toUpperCase() }) }).logLevel, level);
  }
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ LOG_LEVEL: "debgu" }) })),
    [
      'LOG_LEVEL: "debgu" is not a log level; use trace, debug, info, warn, error or fatal; did you mean debug?',
    ],
  );
});

test("Graph pacing and retries are whole numbers in range", () => {
  const config = loadConfig({
    env: validEnv({ GRAPH_MAX_RETRIES: "0", GRAPH_MAX_REQUESTS_PER_MINUTE: "60" }),
  });
  assert.equal(config.graph.maxRetries, 0);
  assert.equal(config.graph.maxRequestsPerMinute, 60);
  assert.deepEqual(
    problemsOf(() =>
      loadConfig({ env: validEnv({ GRAPH_MAX_RETRIES: "-1", GRAPH_MAX_REQUESTS_PER_MINUTE: "0" }) }),
    ),
    [
      'GRAPH_MAX_RETRIES: "-1" is not a whole number from 0 to 100',
      'GRAPH_MAX_REQUESTS_PER_MINUTE: "0" is not a whole number from 1 to 60000',
    ],
  );
});

test("GRAPH_MAX_PAGE_BYTES takes bytes or a unit; GRAPH_MAX_PAGES_PER_WINDOW a whole number", () => {
  const sizes: ReadonlyArray<[string, number]> = [
    ["64MiB", 64 * 1024 * 1024],
    ["10MB", 10_000_000],
    ["10 mb", 10_000_000],
    ["1048576", 1_048_576],
    ["512KiB", 512 * 1024],
    ["1.5MiB", 1.5 * 1024 * 1024],
    ["256MiB", 256 * 1024 * 1024],
    ["65536B", 65_536],
  ];
  for (const [text, bytes] of sizes) {
    assert.equal(
      loadConfig({ env: validEnv({ GRAPH_MAX_PAGE_BYTES: text }) }).graph.maxPageBytes,
      bytes,
      text,
    );
  }
  assert.equal(
    loadConfig({ env: validEnv({ GRAPH_MAX_PAGES_PER_WINDOW: "20" }) }).graph.maxPagesPerWindow,
    20,
  );
  assert.deepEqual(
    problemsOf(() =>
      loadConfig({ env: validEnv({ GRAPH_MAX_PAGE_BYTES: "64 megs", GRAPH_MAX_PAGES_PER_WINDOW: "0" }) }),
    ),
    [
      'GRAPH_MAX_PAGE_BYTES: "64 megs" is not a size; use bytes or a unit, e.g. 64MiB, 10MB or 1048576',
      'GRAPH_MAX_PAGES_PER_WINDOW: "0" is not a whole number from 1 to 10000000',
    ],
  );
  for (const text of ["1KiB", "1GiB", "-1MB"]) {
    assert.match(
      problemsOf(() => loadConfig({ env: validEnv({ GRAPH_MAX_PAGE_BYTES: text }) }))[0] ?? "",
      /^GRAPH_MAX_PAGE_BYTES: ".*" is not a size( from 64KiB to 256MiB|; use bytes)/,
      text,
    );
  }
});

test("GRAPH_MAX_RETRY_AFTER and CONNECTOR_MAX_RESTART_BACKOFF: durations above zero, at most a day", () => {
  const config = loadConfig({
    env: validEnv({ GRAPH_MAX_RETRY_AFTER: "90s", CONNECTOR_MAX_RESTART_BACKOFF: "1h" }),
  });
  assert.equal(config.graph.maxRetryAfterMs, 90_000);
  assert.equal(config.connector.maxRestartBackoffMs, 3_600_000);
  const problems = problemsOf(() =>
    loadConfig({ env: validEnv({ GRAPH_MAX_RETRY_AFTER: "2d", CONNECTOR_MAX_RESTART_BACKOFF: "0s" }) }),
  );
  assert.equal(problems.length, 2, problems.join("\n"));
  assert.match(problems[0] ?? "", /^GRAPH_MAX_RETRY_AFTER: "2d" is too long; at most 1d \(a day\)/);
  assert.match(problems[1] ?? "", /^CONNECTOR_MAX_RESTART_BACKOFF: "0s" must be longer than zero/);
});

test("CONNECTOR_NAME is part of the identity: no slashes or spaces", () => {
  assert.equal(loadConfig({ env: validEnv({ CONNECTOR_NAME: "emea-1" }) }).connector.name, "emea-1");
  assert.match(
    problemsOf(() => loadConfig({ env: validEnv({ CONNECTOR_NAME: "emea/1" }) }))[0] ?? "",
    /^CONNECTOR_NAME: "emea\/1" is not a valid name/,
  );
});

// --- everything at once -----------------------------------------------------------------------------

test("every problem is reported, one line each, in the documented order", () => {
  const problems = problemsOf(() =>
    loadConfig({
      env: {
        AZURE_CLIENT_ID: "not-a-guid",
        GRAPH_CLOUD: "mars",
        KAFKA_BROKERS: "kafka",
        KAFKA_SSL: "perhaps",
        CONNECTOR_START: "last week",
        POLL_INTERVAL: "5 minutes",
        LOOKBACK: "forever",
        WINDOW_SLICE: "100d",
        METRICS_PORT: "http",
        LOG_LEVEL: "loud",
        LOOKBAK: "2d",
      },
    }),
  );
  assert.deepEqual(
    problems.map((problem) => problem.slice(0, problem.indexOf(":"))),
    [
      "LOOKBAK",
      "AZURE_TENANT_ID",
      "AZURE_CLIENT_ID",
      "AZURE_CLIENT_SECRET",
      "GRAPH_CLOUD",
      "KAFKA_BROKERS",
      "KAFKA_SSL",
      "SCHEMA_REGISTRY_URL",
      "CONNECTOR_START",
      "POLL_INTERVAL",
      "LOOKBACK",
      "WINDOW_SLICE",
      "METRICS_PORT",
      "LOG_LEVEL",
    ],
  );
  assert.ok(problems.includes('POLL_INTERVAL: "5 minutes" is not a duration; use e.g. 5m, 30s or PT5M'));
  assert.ok(
    problems.includes(
      "AZURE_TENANT_ID: required (the tenant GUID or domain), or CONNECTOR_TENANTS_FILE listing the tenants",
    ),
  );
  assert.ok(problems.includes("LOOKBAK: unknown variable; did you mean LOOKBACK?"));
});

test("secret values never appear in a problem", () => {
  const secrets = {
    AZURE_CLIENT_SECRET: "azure-secret-8f2a",
    KAFKA_SASL_PASSWORD: "sasl-password-9c1d",
    SCHEMA_REGISTRY_PASSWORD: "registry-password-77e0",
  };
  const problems = problemsOf(() =>
    loadConfig({
      env: {
        ...secrets,
        AZURE_TENANT_ID: TENANT,
        AZURE_CLIENT_ID: CLIENT_ID,
        AZURE_CLIENT_CERTIFICATE_PATH: "/nonexistent.pem",
        KAFKA_BROKERS: "localhost:9092",
        SCHEMA_REGISTRY_URL: "http://localhost:8081",
        // SASL password without mechanism or user, registry password without user
        // a secret pasted into the wrong variable
        POLL_INTERVAL: secrets.AZURE_CLIENT_SECRET,
        AZURE_AUTHORITY_HOST: `x${secrets.KAFKA_SASL_PASSWORD}`,
        // and a misspelled secret name
        KAFKA_SASL_PASWORD: "misspelled-secret-4b4b",
      },
    }),
  );
  assert.ok(problems.length >= 6, problems.join("\n"));
  const text = problems.join("\n");
  for (const secret of [...Object.values(secrets), "misspelled-secret-4b4b"]) {
    assert.ok(!text.includes(secret), `a problem shows a secret:\n${text}`);
  }
  assert.ok(problems.includes('POLL_INTERVAL: "[redacted]" is not a duration; use e.g. 5m, 30s or PT5M'));
  assert.ok(problems.includes("KAFKA_SASL_PASWORD: unknown variable; did you mean KAFKA_SASL_PASSWORD?"));
});

test("no problem line for any invalid input holds a planted credential", () => {
  const planted = {
    sasl: "SaslPa55word-0c7e",
    registry: "RegistryPa55-19bd",
    azure: "Azur3Secret-value-5e21",
    broker: "BrokerPa55-77aa",
    sig: "SasSig4711-f00d",
    token: "Tok3nInUrl-beef",
    // An Entra ID client secret pasted into a variable that is not secret.
    entra: "a1b8Q~Zk3p9XyW2vQm7NcR4tLs6Hd0Jf5Gb1Ue8Io",
  };
  const secrets = {
    AZURE_CLIENT_SECRET: planted.azure,
    KAFKA_SASL_MECHANISM: "plain",
    KAFKA_SASL_USERNAME: "svc",
    KAFKA_SASL_PASSWORD: planted.sasl,
    SCHEMA_REGISTRY_USERNAME: "reg",
    SCHEMA_REGISTRY_PASSWORD: planted.registry,
    KAFKA_SSL: "true",
    SCHEMA_REGISTRY_URL: "https://registry:8081",
  };
  const inputs: Record<string, string>[] = [
    { KAFKA_BROKERS: `sasl_ssl://svc:${planted.broker}@broker:9093` },
    { KAFKA_BROKERS: `svc:${planted.broker}@broker:9093` },
    { KAFKA_BROKERS: `${planted.token}@broker:9093` },
    { KAFKA_BROKERS: `broker:9093?token=${planted.token}` },
    { KAFKA_BROKERS: `broker:9093,${planted.sasl}` },
    { KAFKA_BROKERS: `https://svc:${planted.broker}@broker:9093/x?sig=${planted.sig}` },
    { SCHEMA_REGISTRY_URL: `https://reg:${planted.broker}@registry` },
    { SCHEMA_REGISTRY_URL: `https://${planted.token}@registry` },
    { SCHEMA_REGISTRY_URL: `https://registry?api_key=${planted.token}` },
    { SCHEMA_REGISTRY_URL: `ftp://u:${planted.broker}@registry` },
    { SCHEMA_REGISTRY_URL: `http://registry/#${planted.sig}`, KAFKA_SSL: "true" },
    { SCHEMA_REGISTRY_URL: planted.registry },
    { GRAPH_ENDPOINT: `https://graph.example?sig=${planted.sig}` },
    { GRAPH_ENDPOINT: `http://graph.example/${planted.azure}` },
    { AZURE_AUTHORITY_HOST: `https://login.example/#${planted.sig}` },
    { AZURE_AUTHORITY_HOST: `https://u:${planted.broker}@login.example` },
    { AZURE_TENANT_ID: planted.entra },
    { AZURE_CLIENT_ID: planted.entra },
    { AZURE_CLIENT_ID: planted.azure },
    { POLL_INTERVAL: planted.sasl },
    { LOG_LEVEL: planted.registry },
    { CONNECTOR_NAME: `name with ${planted.entra}` },
    { KAFKA_TOPIC: `topic ${planted.azure}` },
    { METRICS_HOST: `https://u:${planted.broker}@host` },
    { METRICS_PORT: `tcp://${planted.token}@10.0.0.7:9464` },
    { KAFKA_SASL_MECHANISM: planted.sasl },
    { GRAPH_CLOUD: planted.entra },
    { CONNECTOR_START: planted.entra },
  ];
  for (const input of inputs) {
    const problems = problemsOf(() => loadConfig({ env: validEnv({ ...secrets, ...input }) }));
    assert.ok(problems.length > 0);
    const text = problems.join("\n");
    for (const value of Object.values(planted)) {
      assert.ok(!text.includes(value), `${JSON.stringify(input)} shows a credential:\n${text}`);
    }
  }
});

test("KAFKA_COMPRESSION: each codec of the client, zstd by default; another is refused with the choices", () => {
  assert.equal(loadConfig({ env: validEnv() }).kafka.compression, "zstd");
  for (const codec of ["none", "gzip", "snappy", "lz4", "zstd"]) {
    assert.equal(loadConfig({ env: validEnv({ KAFKA_COMPRESSION: codec }) }).kafka.compression, codec);
  }
  assert.deepEqual(
    problemsOf(() => loadConfig({ env: validEnv({ KAFKA_COMPRESSION: "brotli" }) })),
    ['KAFKA_COMPRESSION: "brotli" is not a Kafka compression; use none, gzip, snappy, lz4 or zstd'],
  );
});
