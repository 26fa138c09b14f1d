/**
 * deploy/kubernetes: parsed (PyYAML) and checked field by field against the code (configuration
 * variables, metrics port, the Dockerfile's user, package.json's version), the PrometheusRule against
 * alerts.yml, and rendered by `kubectl kustomize` where kubectl is installed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config/index.js";
import { DEFAULTS, SECRET_VARIABLES, VARIABLE_NAMES } from "../../src/config/variables.js";
import { hasCommand, readYaml, readYamlDocuments, repoPath, runTool } from "./lib.js";

const DIR = "deploy/kubernetes";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: unknown };
}

interface Probe {
  httpGet: { path: string; port: string | number };
}

describe("Kubernetes manifests", () => {
  const byKind = new Map<string, Manifest>();
  let secretExample: Manifest;

  before(async () => {
    for (const file of readdirSync(repoPath(DIR)).filter((f) => f.endsWith(".yaml"))) {
      for (const doc of (await readYamlDocuments(repoPath(DIR, file))) as Manifest[]) {
        if (file === "secret.example.yaml") secretExample = doc;
        else if (doc.kind !== "Kustomization") byKind.set(doc.kind, doc);
      }
    }
  });

  const get = (kind: string): Manifest => {
    const manifest = byKind.get(kind);
    assert.ok(manifest, `a ${kind}`);
    return manifest;
  };
  const deployment = () => get("Deployment");
  const pod = () => deployment().spec.template.spec;
  const container = () => {
    const containers = pod().containers as Array<Record<string, unknown>>;
    assert.equal(containers.length, 1);
    return containers[0] as {
      image: string;
      args: string[];
      ports: Array<{ name: string; containerPort: number }>;
      env: EnvVar[];
      envFrom: Array<{ configMapRef?: { name: string }; secretRef?: unknown }>;
      livenessProbe: Probe;
      readinessProbe: Probe;
      resources: { requests: Record<string, string>; limits: Record<string, string> };
      securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
    };
  };
  const portNumber = (port: string | number): number => {
    if (typeof port === "number") return port;
    const found = container().ports.find((p) => p.name === port);
    assert.ok(found, `container port ${port}`);
    return found.containerPort;
  };

  test("kustomization.yaml lists every manifest but the Secret template", async () => {
    const kustomization = await readYaml<{ resources: string[] }>(repoPath(DIR, "kustomization.yaml"));
    const files = readdirSync(repoPath(DIR)).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml" && f !== "secret.example.yaml",
    );
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
    assert.ok(
      !kustomization.resources.includes("secret.example.yaml"),
      "a placeholder never overwrites a secret",
    );
  });

  test("kubectl kustomize renders them", {
    skip: !hasCommand("kubectl") && "kubectl is not installed",
  }, async () => {
    const result = await runTool("kubectl", ["kustomize", DIR]);
    assert.equal(result.code, 0, result.stderr);
    const kinds = [...result.stdout.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]).sort();
    assert.deepEqual(kinds, [
      "ConfigMap",
      "Deployment",
      "PodDisruptionBudget",
      "PodMonitor",
      "PrometheusRule",
      "Service",
    ]);
  });

  test("two replicas (one active, one standby), replaced one at a time, a grace period beyond the shutdown", () => {
    const spec = deployment().spec;
    assert.equal(spec.replicas, 2);
    assert.equal(spec.strategy.type, "RollingUpdate");
    assert.deepEqual(spec.strategy.rollingUpdate, { maxSurge: 0, maxUnavailable: 1 });
    // SIGTERM → stop, abandon the transaction, close Kafka clients: bounded by the request timeout.
    const requestTimeoutS = loadConfig({ env: configEnv() }).kafka.requestTimeoutMs / 1000;
    assert.ok(pod().terminationGracePeriodSeconds >= 60, "60 s or more");
    assert.ok(pod().terminationGracePeriodSeconds > requestTimeoutS, "longer than KAFKA_REQUEST_TIMEOUT");
    assert.equal(pod().enableServiceLinks, false);
    assert.equal(pod().automountServiceAccountToken, false);
  });

  test("the image is the Dockerfile's, tagged with package.json's version, running `run`", () => {
    const pkg = JSON.parse(readFileSync(repoPath("package.json"), "utf8")) as { version: string };
    assert.equal(container().image, `pstn-kafka-connector:${pkg.version}`);
    assert.deepEqual(container().args, ["run"]);
  });

  test("non-root (the Dockerfile's user), read-only root filesystem, no privilege escalation, no capabilities", () => {
    const dockerUser = /^USER (\d+)(?::(\d+))?$/m.exec(readFileSync(repoPath("Dockerfile"), "utf8"));
    assert.ok(dockerUser, "the Dockerfile sets a numeric USER");
    const podSecurity = pod().securityContext;
    assert.equal(podSecurity.runAsNonRoot, true);
    assert.equal(String(podSecurity.runAsUser), dockerUser[1]);
    assert.notEqual(podSecurity.runAsUser, 0);
    assert.equal(podSecurity.seccompProfile.type, "RuntimeDefault");
    const security = container().securityContext;
    assert.equal(security.readOnlyRootFilesystem, true);
    assert.equal(security.allowPrivilegeEscalation, false);
    assert.deepEqual(security.capabilities.drop, ["ALL"]);
  });

  test("probes: liveness /healthz, readiness /readyz, on METRICS_PORT; Service and PodMonitor on the same port", () => {
    const metricsPort = Number(get("ConfigMap").data?.METRICS_PORT ?? DEFAULTS.METRICS_PORT);
    assert.equal(container().livenessProbe.httpGet.path, "/healthz");
    assert.equal(container().readinessProbe.httpGet.path, "/readyz");
    assert.equal(portNumber(container().livenessProbe.httpGet.port), metricsPort);
    assert.equal(portNumber(container().readinessProbe.httpGet.port), metricsPort);

    const service = get("Service").spec;
    assert.equal(portNumber(service.ports[0].targetPort), metricsPort);
    assert.deepEqual(service.selector, deployment().spec.template.metadata.labels);

    const monitor = get("PodMonitor").spec;
    assert.deepEqual(monitor.selector.matchLabels, deployment().spec.template.metadata.labels);
    assert.equal(portNumber(monitor.podMetricsEndpoints[0].port), metricsPort);
    assert.equal(monitor.podMetricsEndpoints[0].path, "/metrics");
    // The alert rules select job=~"pstn-connector.*"; the job comes from this pod label.
    const job = deployment().spec.template.metadata.labels[monitor.jobLabel];
    assert.match(job, /^pstn-connector/);
  });

  test("resources: requests and a memory limit", () => {
    const { requests, limits } = container().resources;
    assert.ok(requests.cpu && requests.memory && limits.memory);
  });

  /** The environment the container gets, secrets replaced by stand-ins. */
  function configEnv(): Record<string, string> {
    const env: Record<string, string> = { ...(get("ConfigMap").data ?? {}) };
    for (const variable of container().env) {
      if (variable.valueFrom?.secretKeyRef && !variable.valueFrom.secretKeyRef.optional)
        env[variable.name] = "stand-in";
    }
    return env;
  }

  test("configuration: every name is a real variable, secrets only by secretKeyRef, and it loads", () => {
    const configMap = get("ConfigMap");
    assert.deepEqual(container().envFrom, [{ configMapRef: { name: configMap.metadata.name } }]);
    for (const name of Object.keys(configMap.data ?? {})) {
      assert.ok(VARIABLE_NAMES.has(name), `ConfigMap key ${name} is a configuration variable`);
      assert.ok(!SECRET_VARIABLES.has(name), `${name} is a secret: not in a ConfigMap`);
    }
    for (const variable of container().env) {
      assert.ok(VARIABLE_NAMES.has(variable.name), `${variable.name} is a configuration variable`);
      if (SECRET_VARIABLES.has(variable.name)) {
        assert.equal(variable.value, undefined, `${variable.name}: never a literal value`);
        const ref = variable.valueFrom?.secretKeyRef;
        assert.ok(ref, `${variable.name} comes from a Secret`);
        assert.equal(ref.name, secretExample.metadata.name);
        assert.equal(ref.key, variable.name);
        if (!ref.optional)
          assert.ok(ref.key in (secretExample.stringData ?? {}), `${ref.key} in the template`);
      }
    }
    assert.ok(container().env.some((v) => v.name === "AZURE_CLIENT_SECRET"));
    const config = loadConfig({ env: configEnv() });
    assert.equal(config.metricsPort, 9464);
  });

  test("the Secret template holds placeholders only", () => {
    assert.equal(secretExample.kind, "Secret");
    for (const [key, value] of Object.entries(secretExample.stringData ?? {})) {
      assert.ok(SECRET_VARIABLES.has(key), `${key} is a secret variable`);
      assert.match(value, /^<[^>]+>$/, `${key} is a placeholder`);
    }
    assert.equal(secretExample.data, undefined);
  });

  test("the PrometheusRule carries exactly the groups of deploy/prometheus/alerts.yml", async () => {
    const rules = await readYaml<{ groups: unknown[] }>(repoPath("deploy/prometheus/alerts.yml"));
    assert.deepEqual(get("PrometheusRule").spec.groups, rules.groups);
  });
});

describe("the fleet overlay (deploy/kubernetes-fleet)", () => {
  test("kubectl kustomize renders 3 replicas reading the tenants ConfigMap, whose file loads", {
    skip: !hasCommand("kubectl") && "kubectl is not installed",
  }, async () => {
    const result = await runTool("kubectl", ["kustomize", "deploy/kubernetes-fleet"]);
    assert.equal(result.code, 0, result.stderr);
    const docs = parseAllDocuments(result.stdout).map((doc) => doc.toJS()) as Array<{
      kind: string;
      metadata: { name: string };
      data?: Record<string, string>;
      spec?: {
        replicas?: number;
        template: {
          spec: {
            volumes: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string } }>;
            containers: Array<{
              volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
            }>;
          };
        };
      };
    }>;
    const config = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === "pstn-connector-config");
    const tenants = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === "pstn-connector-tenants");
    const deployment = docs.find((d) => d.kind === "Deployment");
    assert.equal(deployment?.spec?.replicas, 3);
    assert.equal(config?.data?.AZURE_TENANT_ID, undefined, "the tenants come from the file");
    const file = config?.data?.CONNECTOR_TENANTS_FILE ?? "";
    const pod = deployment?.spec?.template.spec;
    const mount = pod?.containers[0]?.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
    assert.ok(mount?.readOnly, `${file} is on a read-only mount`);
    const volume = pod?.volumes.find((v) => v.name === mount?.name);
    assert.equal(volume?.configMap?.name, "pstn-connector-tenants");
    const secrets = pod?.volumes.find((v) => v.secret?.secretName === "pstn-connector-tenant-secrets");
    const secretMount = pod?.containers[0]?.volumeMounts.find((m) => m.name === secrets?.name);
    assert.ok(secretMount?.readOnly);

    // The file as the pod sees it, its Secret's files given stand-ins here: it loads.
    const dir = mkdtempSync(join(tmpdir(), "pstn-fleet-"));
    try {
      const text = (tenants?.data?.["tenants.yaml"] ?? "").replaceAll(secretMount?.mountPath ?? "-", dir);
      for (const [, name] of text.matchAll(new RegExp(`${dir}/([\\w.-]+)`, "g")))
        writeFileSync(join(dir, name as string), "stand-in-secret");
      writeFileSync(join(dir, "tenants.yaml"), text);
      const env: Record<string, string> = {
        ...(config?.data ?? {}),
        CONNECTOR_TENANTS_FILE: join(dir, "tenants.yaml"),
        AZURE_CLIENT_SECRET: "stand-in",
      };
      const loaded = loadConfig({ env });
      assert.ok(loaded.tenants.length >= 2, "a shared-app tenant and one with its own app");
      assert.ok(loaded.tenants.some((tenant) => tenant.credentials.clientSecret === "stand-in-secret"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
