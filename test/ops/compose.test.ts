/**
 * docker-compose.yml without a Docker engine: validated by docker-compose 1.29 (`config`), linted by
 * yamllint, its Kafka and registry checked against the local stack's versions and settings, and its
 * simulator + connector pair run for real from the same command lines and environment (addresses
 * mapped to this machine) against the shared stack.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import { SECRET_VARIABLES, VARIABLE_NAMES } from "../../src/config/variables.js";
import { kafkaNodeProperties } from "../../tools/stack/kafka.js";
import { apicurioJvmArgs, registryUrl } from "../../tools/stack/registry.js";
import { APICURIO_VERSION, KAFKA_VERSION } from "../../tools/stack/versions.js";
import { CliProcess, cleanEnv, parseEnvLines, runCli } from "../support/cli.js";
import { waitFor } from "../support/connector.js";
import { uniqueName } from "../support/kafka.js";
import { freePort } from "../support/processes.js";
import { startTestStack, type TestStack } from "../support/stack.js";
import {
  type ComposeFile,
  environmentOf,
  optionValue,
  ROOT,
  readCompose,
  readEnvFile,
  readYaml,
  repoPath,
  runTool,
  service,
  stopCli,
  withOptions,
} from "./lib.js";

/** Kafka settings that differ on purpose: listeners and addresses of a container network. */
const NETWORK_PROPERTIES = new Set([
  "listeners",
  "advertised.listeners",
  "listener.security.protocol.map",
  "inter.broker.listener.name",
  "controller.quorum.voters",
  "log.dirs",
]);

function kafkaEnvToProperty(name: string): string {
  return name
    .replace(/^KAFKA_/, "")
    .toLowerCase()
    .replaceAll("_", ".");
}

/** The single-node properties of the local stack, parsed back from server.properties text. */
function localKafkaProperties(): Map<string, string> {
  const node = {
    nodeId: 1,
    port: 19092,
    controllerPort: 19093,
    dataDir: "/d",
    configFile: "/c",
    logFile: "/l",
  };
  const text = kafkaNodeProperties(
    { nodes: [node], replicationFactor: 1, minInsyncReplicas: 1, heapMb: 512 },
    node,
  );
  const properties = new Map<string, string>();
  for (const line of text.trim().split("\n")) {
    const at = line.indexOf("=");
    properties.set(line.slice(0, at), line.slice(at + 1));
  }
  return properties;
}

describe("docker-compose.yml", () => {
  let compose: ComposeFile;

  before(async () => {
    compose = await readCompose();
  });

  test("docker-compose 1.29 validates it (`config -q`), the real-tenant profile included", async () => {
    // docker-compose 1.29 predates the top-level `name` key (Compose v2 reads it): validate
    // everything else, from the repository as the project directory so relative paths resolve.
    const text = await readFile(repoPath("docker-compose.yml"), "utf8");
    const withoutName = text.replace(/^name: .*\n/m, "");
    assert.equal(
      text.split("\n").length - withoutName.split("\n").length,
      1,
      "only the name line is dropped",
    );
    assert.equal(compose.name, "pstn-connector");
    const dir = await mkdtemp(join(tmpdir(), "pstn-compose-"));
    try {
      const file = join(dir, "docker-compose.yml");
      await writeFile(file, withoutName);
      const result = await runTool("docker-compose", [
        "-f",
        file,
        "--project-directory",
        ROOT,
        "config",
        "-q",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const profile = await runTool("docker-compose", [
        "-f",
        file,
        "--project-directory",
        ROOT,
        "--profile",
        "real-tenant",
        "config",
        "-q",
      ]);
      assert.equal(profile.code, 0, profile.stderr);
      const services = await runTool("docker-compose", [
        "-f",
        file,
        "--project-directory",
        ROOT,
        "config",
        "--services",
      ]);
      assert.deepEqual(services.stdout.trim().split("\n").sort(), [
        "connector",
        "connector-tenant",
        "grafana",
        "kafka",
        "prometheus",
        "schema-registry",
        "simulator",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("yamllint passes on docker-compose.yml and every YAML file of deploy/", async () => {
    const result = await runTool("yamllint", [
      "-s",
      "-c",
      "deploy/yamllint.yml",
      "docker-compose.yml",
      "deploy",
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  test("Kafka and the registry are the local stack's versions and settings", () => {
    assert.equal(service(compose, "kafka").image, `apache/kafka:${KAFKA_VERSION}`);
    assert.equal(service(compose, "schema-registry").image, `apicurio/apicurio-registry:${APICURIO_VERSION}`);

    const local = localKafkaProperties();
    const kafkaEnv = environmentOf(service(compose, "kafka"));
    const compared: string[] = [];
    for (const [name, value] of Object.entries(kafkaEnv)) {
      const property = kafkaEnvToProperty(name);
      if (NETWORK_PROPERTIES.has(property) || !local.has(property)) continue;
      assert.equal(value, local.get(property), `${name} (${property}) as in tools/stack/kafka.ts`);
      compared.push(property);
    }
    for (const property of [
      "process.roles",
      "node.id",
      "offsets.topic.replication.factor",
      "transaction.state.log.replication.factor",
      "transaction.state.log.min.isr",
      "auto.create.topics.enable",
    ]) {
      assert.ok(compared.includes(property), `${property} is set in compose and compared`);
    }

    // Apicurio: the -Dapicurio.* system properties of the local stack, as Quarkus environment names.
    const registryEnv = environmentOf(service(compose, "schema-registry"));
    const args = apicurioJvmArgs({ port: 1, managementPort: 2, logFile: "/l", heapMb: 1 }, "-Dmarker");
    const apicurio = args.filter((arg) => arg.startsWith("-Dapicurio."));
    assert.ok(apicurio.length > 0);
    for (const arg of apicurio) {
      const [key, value] = arg.slice(2).split("=") as [string, string];
      const envName = key.toUpperCase().replaceAll(".", "_");
      assert.equal(registryEnv[envName], value, `${envName} as ${key} in tools/stack/registry.ts`);
    }
  });

  test("the connector reaches Kafka, the registry and the simulator at the addresses compose gives them", () => {
    const kafkaEnv = environmentOf(service(compose, "kafka"));
    const internal = kafkaEnv.KAFKA_INTER_BROKER_LISTENER_NAME;
    const advertised = (kafkaEnv.KAFKA_ADVERTISED_LISTENERS ?? "").split(",");
    const internalAddress = advertised.find((l) => l.startsWith(`${internal}://`))?.split("://")[1];
    const connector = environmentOf(service(compose, "connector"));
    assert.equal(connector.KAFKA_BROKERS, internalAddress);

    const registryPort = service(compose, "schema-registry").ports?.[0]?.split(":").pop();
    const registryPath = new URL(registryUrl(1)).pathname;
    assert.equal(connector.SCHEMA_REGISTRY_URL, `http://schema-registry:${registryPort}${registryPath}`);

    const simulator = service(compose, "simulator");
    const command = simulator.command ?? [];
    assert.equal(command[0], "simulate");
    assert.equal(optionValue(command, "--host"), "0.0.0.0", "reachable from other containers");
    const publicUrl = new URL(optionValue(command, "--public-url"));
    assert.equal(publicUrl.hostname, "simulator", "the service's name, which its certificate then carries");
    assert.equal(publicUrl.port, optionValue(command, "--port"));
    assert.equal(connector.AZURE_AUTHORITY_HOST, publicUrl.origin);
    assert.equal(connector.GRAPH_ENDPOINT, publicUrl.origin);
    assert.equal(connector.AZURE_CLIENT_SECRET, optionValue(command, "--client-secret"));
    assert.equal(connector.NODE_EXTRA_CA_CERTS, optionValue(command, "--ca-out"));

    // The CA travels through a volume, written by the simulator and read-only for the connector.
    const caDir = optionValue(command, "--ca-out").replace(/\/[^/]+$/, "");
    const simulatorVolume = simulator.volumes?.find((v) => v.split(":")[1] === caDir);
    const connectorVolume = service(compose, "connector").volumes?.find((v) => v.split(":")[1] === caDir);
    assert.ok(simulatorVolume && connectorVolume, `both mount ${caDir}`);
    assert.equal(simulatorVolume.split(":")[0], connectorVolume.split(":")[0]);
    assert.match(connectorVolume, /:ro$/);

    const dependsOn = service(compose, "connector").depends_on as Record<string, { condition: string }>;
    for (const name of ["kafka", "schema-registry", "simulator"]) {
      assert.equal(dependsOn[name]?.condition, "service_healthy", `connector waits for ${name}`);
    }
  });

  test("the connectors run the Dockerfile's runtime image, the simulator its tools target; all read-only", async () => {
    const stages = [
      ...(await readFile(repoPath("Dockerfile"), "utf8")).matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim),
    ].map((match) => match[1]);
    assert.equal(stages.at(-1), "runtime", "runtime is the default target");
    assert.ok(stages.includes("tools"), "the Dockerfile has a tools target");
    for (const name of ["connector", "connector-tenant"]) {
      const svc = service(compose, name);
      assert.equal(svc.image, "pstn-kafka-connector:local", name);
      assert.ok(
        svc.build === "." ||
          (typeof svc.build === "object" && svc.build.context === "." && !svc.build.target),
        `${name} builds the default (runtime) target`,
      );
    }
    const simulator = service(compose, "simulator");
    assert.deepEqual(simulator.build, { context: ".", target: "tools" });
    assert.notEqual(
      simulator.image,
      service(compose, "connector").image,
      "the tools get an image of their own",
    );
    for (const name of ["connector", "connector-tenant", "simulator"]) {
      assert.equal(service(compose, name).read_only, true, name);
    }
    for (const name of ["connector", "connector-tenant"]) {
      assert.deepEqual(service(compose, name).command, ["run"]);
    }
    assert.deepEqual(service(compose, "connector-tenant").profiles, ["real-tenant"]);

    const demo = environmentOf(service(compose, "connector"));
    const config = loadConfig({ env: demo });
    assert.equal(config.metricsPort, 9464);
    for (const name of Object.keys(demo)) {
      assert.ok(
        VARIABLE_NAMES.has(name) || name === "NODE_EXTRA_CA_CERTS",
        `${name} is a configuration variable`,
      );
    }
  });

  test("the real-tenant switch: an env file of real variables, no secret in it, the secret from the shell", () => {
    const tenant = service(compose, "connector-tenant");
    assert.deepEqual(tenant.env_file, ["deploy/compose/real-tenant.env"]);
    assert.deepEqual(tenant.environment, { AZURE_CLIENT_SECRET: null }, "passed through from the shell");
    const env = readEnvFile(repoPath("deploy/compose/real-tenant.env"));
    for (const name of Object.keys(env)) {
      assert.ok(VARIABLE_NAMES.has(name), `${name} is a configuration variable`);
      assert.ok(!SECRET_VARIABLES.has(name), `${name} is a secret and must not be in the file`);
    }
    const config = loadConfig({ env: { ...env, AZURE_CLIENT_SECRET: "from-the-shell" } });
    assert.equal(config.kafka.topics.pstn.data, "teams.pstn-calls");
    assert.notEqual(
      environmentOf(service(compose, "connector")).KAFKA_TOPIC,
      config.kafka.topics.pstn.data,
      "demo rows elsewhere",
    );
  });

  test("Prometheus and Grafana: mounted files, scrape targets and datasource agree with the services", async () => {
    const prometheus = service(compose, "prometheus");
    assert.ok(prometheus.volumes?.includes("./deploy/prometheus:/etc/prometheus:ro"));
    assert.ok(prometheus.command?.includes("--config.file=/etc/prometheus/prometheus.yml"));
    const config = await readYaml<{
      scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
    }>(repoPath("deploy/prometheus/prometheus.yml"));
    const connectorJobs = config.scrape_configs.filter((job) => job.job_name.startsWith("pstn-connector"));
    assert.deepEqual(
      connectorJobs.map((job) => job.dns_sd_configs?.[0]?.names[0]),
      ["connector", "connector-tenant"],
      "one job per connector service (identity)",
    );
    for (const job of connectorJobs) {
      const name = job.dns_sd_configs?.[0]?.names[0] ?? "";
      const env =
        name === "connector-tenant"
          ? readEnvFile(repoPath("deploy/compose/real-tenant.env"))
          : environmentOf(service(compose, name));
      assert.equal(String(job.dns_sd_configs?.[0]?.port), env.METRICS_PORT ?? "9464", `${job.job_name} port`);
    }

    const grafana = service(compose, "grafana");
    const dashboards = await readYaml<{ providers: Array<{ options: { path: string } }> }>(
      repoPath("deploy/grafana/provisioning/dashboards/pstn-connector.yml"),
    );
    const dashboardDir = dashboards.providers[0]?.options.path;
    assert.ok(grafana.volumes?.includes(`./deploy/grafana/dashboards:${dashboardDir}:ro`));
    assert.ok(grafana.volumes?.includes("./deploy/grafana/provisioning:/etc/grafana/provisioning:ro"));
    const datasources = await readYaml<{ datasources: Array<{ url: string; type: string }> }>(
      repoPath("deploy/grafana/provisioning/datasources/prometheus.yml"),
    );
    assert.equal(datasources.datasources[0]?.type, "prometheus");
    assert.equal(datasources.datasources[0]?.url, "http://prometheus:9090");
    assert.ok(prometheus.ports?.some((port) => port.endsWith(":9090")));
  });
});

describe("docker-compose.yml's simulator and connector, run as composed against the shared stack", () => {
  let stack: TestStack;
  let compose: ComposeFile;
  let dir: string;
  let simulator: CliProcess | undefined;
  let port: number;
  let caFile: string;

  before(async () => {
    stack = await startTestStack();
    compose = await readCompose();
    dir = await mkdtemp(join(tmpdir(), "pstn-compose-run-"));
    port = await freePort();
    caFile = join(dir, "simulator-ca.pem");
    const command = service(compose, "simulator").command ?? [];
    // This machine has no network named "simulator": listen on loopback and use a name the
    // simulator's certificate always carries.
    simulator = new CliProcess(
      withOptions(command, {
        "--host": "127.0.0.1",
        "--port": String(port),
        "--public-url": `https://localhost:${port}`,
        "--ca-out": caFile,
      }),
      cleanEnv({}),
    );
    await waitFor(
      "the simulator to print its settings",
      () => simulator!.stdout.includes("NODE_EXTRA_CA_CERTS="),
      30_000,
    );
  });
  after(async () => {
    await stopCli(simulator, "SIGINT");
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The compose connector's environment with the container addresses mapped to this machine. */
  function localConnectorEnv(): Record<string, string> {
    const composed = environmentOf(service(compose, "connector"));
    const simulatorUrl = optionValue(service(compose, "simulator").command ?? [], "--public-url");
    const mapped: Record<string, string> = {};
    for (const [name, value] of Object.entries(composed)) {
      mapped[name] = value
        .replace(simulatorUrl, `https://localhost:${port}`)
        .replace(/^kafka:9092$/, stack.brokers.join(","))
        .replace(/^http:\/\/schema-registry:8080\/apis\/ccompat\/v7$/, stack.registryUrl)
        .replace(/^\/shared\/simulator-ca\.pem$/, caFile);
    }
    assert.equal(mapped.KAFKA_BROKERS, stack.brokers.join(","));
    assert.equal(mapped.SCHEMA_REGISTRY_URL, stack.registryUrl);
    assert.equal(mapped.NODE_EXTRA_CA_CERTS, caFile);
    return { ...mapped, KAFKA_TOPIC: uniqueName("compose-calls"), METRICS_PORT: "0", LOG_LEVEL: "warn" };
  }

  test("the simulator prints exactly the tenant, app and secret the compose connector is given", () => {
    const printed = parseEnvLines(simulator!.stdout);
    const connector = environmentOf(service(compose, "connector"));
    assert.equal(printed.AZURE_TENANT_ID, connector.AZURE_TENANT_ID);
    assert.equal(printed.AZURE_CLIENT_ID, connector.AZURE_CLIENT_ID);
    assert.equal(printed.AZURE_CLIENT_SECRET, connector.AZURE_CLIENT_SECRET);
    assert.equal(printed.GRAPH_ENDPOINT, `https://localhost:${port}`, "the public URL, not the bind address");
    assert.equal(printed.NODE_EXTRA_CA_CERTS, caFile);
  });

  test("the simulator's healthcheck passes with the CA it wrote, and fails without it", async () => {
    const check = service(compose, "simulator").healthcheck?.test ?? [];
    assert.equal(check[0], "CMD-SHELL");
    const simulatorUrl = optionValue(service(compose, "simulator").command ?? [], "--public-url");
    const local = (check[1] ?? "").replace(simulatorUrl, `https://localhost:${port}`);
    const good = await runTool("sh", ["-c", local.replace("/shared/simulator-ca.pem", caFile)]);
    assert.equal(good.code, 0, good.stderr);
    const stale = await runTool("sh", [
      "-c",
      local.replace("/shared/simulator-ca.pem", join(dir, "missing.pem")),
    ]);
    assert.equal(stale.code, 1, "an untrusted certificate is unhealthy");
  });

  test("`check` with the compose connector's environment reaches token, Graph, Kafka and registry", async () => {
    const result = await runCli(["check"], cleanEnv(localConnectorEnv()));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      result.stdout
        .trim()
        .split("\n")
        .map((line) => line.split(":")[0]),
      ["ok   token", "ok   graph pstn", "ok   kafka", "ok   registry"],
    );
  });
});
