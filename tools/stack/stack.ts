import { existsSync } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, PstnError } from "../../src/errors.js";
import { type Progress, resolveApicurio, resolveKafkaClasspath } from "./artifacts.js";
import {
  formatKafkaStorage,
  type KafkaClusterSpec,
  kafkaBrokers,
  kafkaJvmArgs,
  kafkaReadinessProbe,
  newClusterId,
  writeKafkaFiles,
} from "./kafka.js";
import { stackCacheDir, stackPaths } from "./paths.js";
import {
  isOurProcess,
  killProcess,
  type ReadinessTarget,
  requirePortsFree,
  spawnServer,
  stopProcess,
  waitUntilReady,
} from "./processes.js";
import { apicurioJvmArgs, registryReadinessProbe, registryUrl } from "./registry.js";
import { createStackSecurity, type StackSecurity } from "./security.js";
import { requireJava } from "./tools.js";
import { APICURIO_MIN_JAVA, APICURIO_VERSION, KAFKA_MIN_JAVA, KAFKA_VERSION } from "./versions.js";

/** One server process of a stack, with what it takes to recognise and restart it. */
export interface ServerState {
  role: string;
  pid: number;
  marker: string;
  port: number;
  logFile: string;
  command: string;
  args: string[];
  cwd?: string;
}

export interface KafkaNodeState extends ServerState {
  nodeId: number;
  controllerPort: number;
  dataDir: string;
}

export interface StackState {
  name: string;
  nodes: number;
  clusterId: string;
  kafkaVersion: string;
  registryVersion: string;
  startedAt: string;
  brokers: string[];
  registryUrl: string;
  kafka: KafkaNodeState[];
  registry: ServerState;
  /** The single-node stack's secure listeners and the files to use them (also in `security.json`). */
  security?: StackSecurity;
}

export interface StackUpOptions {
  nodes?: 1 | 3;
  /** First broker port; node i listens on kafkaPort + 2i and its controller on the next port. */
  kafkaPort?: number;
  registryPort?: number;
  /** Single node only: the SASL_SSL listener (default kafkaPort + 2) and the mTLS one (kafkaPort + 3). */
  saslSslPort?: number;
  mtlsPort?: number;
  timeoutMs?: number;
  progress?: Progress;
  env?: NodeJS.ProcessEnv;
}

export interface StackInfo {
  brokers: string[];
  registryUrl: string;
  /** True when a running stack was found and reused rather than started. */
  reused: boolean;
  state: StackState;
}

export const DEFAULT_PORTS = {
  1: { kafka: 19092, registry: 18081 },
  3: { kafka: 29092, registry: 28081 },
} as const;

export const DEFAULT_START_TIMEOUT_MS = 120_000;

export function stackName(nodes: number): string {
  return nodes === 1 ? "kafka-1node" : `kafka-${nodes}nodes`;
}

const silent: Progress = () => undefined;

export async function stackUp(options: StackUpOptions = {}): Promise<StackInfo> {
  const nodes = options.nodes ?? 1;
  const env = options.env ?? process.env;
  const progress = options.progress ?? silent;
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const name = stackName(nodes);
  const paths = stackPaths(name, env);
  await mkdir(paths.run, { recursive: true });

  const release = await acquireLock(paths.lock, timeoutMs);
  try {
    const running = await readState(paths.state);
    if (running && stackAlive(running)) {
      const ready = await waitUntilReady(readinessTargets(running), 10_000).then(
        () => true,
        () => false,
      );
      if (ready)
        return { brokers: running.brokers, registryUrl: running.registryUrl, reused: true, state: running };
    }
    if (running) {
      progress(`stack ${name} is partly down; restarting it`);
      await stopStack(running);
    }

    const defaults = DEFAULT_PORTS[nodes];
    const kafkaPort = options.kafkaPort ?? defaults.kafka;
    const regPort = options.registryPort ?? defaults.registry;
    // The three-node stack is for failover: its nodes keep to one plaintext listener each.
    const secure =
      nodes === 1
        ? { saslSslPort: options.saslSslPort ?? kafkaPort + 2, mtlsPort: options.mtlsPort ?? kafkaPort + 3 }
        : undefined;
    const cluster: KafkaClusterSpec = {
      nodes: Array.from({ length: nodes }, (_, i) => ({
        nodeId: i + 1,
        port: kafkaPort + 2 * i,
        controllerPort: kafkaPort + 2 * i + 1,
        dataDir: join(paths.run, `kafka-${i + 1}-data`),
        configFile: join(paths.run, `kafka-${i + 1}.properties`),
        logFile: join(paths.run, `kafka-${i + 1}.log`),
        ...(secure === undefined ? {} : { secure }),
      })),
      replicationFactor: nodes === 1 ? 1 : 3,
      minInsyncReplicas: nodes === 1 ? 1 : 2,
      heapMb: nodes === 1 ? 512 : 384,
    };
    const registrySpec = {
      port: regPort,
      managementPort: regPort + 10,
      logFile: join(paths.run, "registry.log"),
      heapMb: 384,
    };
    await requirePortsFree([
      ...cluster.nodes.flatMap((node) => [
        { port: node.port, role: `Kafka node ${node.nodeId} broker` },
        { port: node.controllerPort, role: `Kafka node ${node.nodeId} controller` },
        ...(node.secure === undefined
          ? []
          : [
              { port: node.secure.saslSslPort, role: `Kafka node ${node.nodeId} SASL_SSL listener` },
              { port: node.secure.mtlsPort, role: `Kafka node ${node.nodeId} mTLS listener` },
            ]),
      ]),
      { port: registrySpec.port, role: "schema registry" },
      { port: registrySpec.managementPort, role: "schema registry management" },
    ]);

    const kafkaJava = await requireJava(KAFKA_MIN_JAVA, `Kafka ${KAFKA_VERSION}`, env);
    const registryJava = await requireJava(APICURIO_MIN_JAVA, `Apicurio Registry ${APICURIO_VERSION}`, env);
    const classpath = await resolveKafkaClasspath(paths.cache, progress, env);
    const apicurioDir = await resolveApicurio(paths.cache, progress, env);

    // A fresh `up` starts from empty servers: tests and the demo must not see an old run's data.
    await clearRunDir(paths.run);
    progress(
      `starting Kafka ${KAFKA_VERSION} (${nodes} KRaft node${nodes > 1 ? "s" : ""}) and Apicurio Registry ${APICURIO_VERSION}`,
    );
    if (secure !== undefined) {
      cluster.security = await createStackSecurity(paths.run, secure);
      cluster.runDir = paths.run;
    }
    const log4jFile = await writeKafkaFiles(cluster, paths.run);
    const clusterId = newClusterId();

    const registryMarker = `-Dpstn.stack=${name}/registry`;
    const registryArgs = apicurioJvmArgs(registrySpec, registryMarker);
    const registry: ServerState = {
      role: "schema registry",
      pid: spawnServer(registryJava.executable, registryArgs, {
        cwd: apicurioDir,
        logFile: registrySpec.logFile,
      }),
      marker: registryMarker,
      port: registrySpec.port,
      logFile: registrySpec.logFile,
      command: registryJava.executable,
      args: registryArgs,
      cwd: apicurioDir,
    };
    const state: StackState = {
      name,
      nodes,
      clusterId,
      kafkaVersion: KAFKA_VERSION,
      registryVersion: APICURIO_VERSION,
      startedAt: new Date().toISOString(),
      brokers: kafkaBrokers(cluster),
      registryUrl: registryUrl(registrySpec.port),
      kafka: [],
      registry,
      ...(cluster.security === undefined ? {} : { security: cluster.security }),
    };
    await writeState(paths.state, state);

    try {
      await Promise.all(
        cluster.nodes.map(async (node) => {
          const marker = `-Dpstn.stack=${name}/kafka-${node.nodeId}`;
          const jvmArgs = kafkaJvmArgs({
            classpath,
            log4jFile,
            heapMb: cluster.heapMb,
            marker,
            ...(cluster.security === undefined ? {} : { security: cluster.security }),
          });
          await formatKafkaStorage(kafkaJava.executable, jvmArgs, node, clusterId, cluster.security);
          const args = [...jvmArgs, "kafka.Kafka", node.configFile];
          state.kafka.push({
            role: `Kafka node ${node.nodeId}`,
            pid: spawnServer(kafkaJava.executable, args, { logFile: node.logFile }),
            marker,
            port: node.port,
            logFile: node.logFile,
            command: kafkaJava.executable,
            args,
            nodeId: node.nodeId,
            controllerPort: node.controllerPort,
            dataDir: node.dataDir,
          });
        }),
      );
      state.kafka.sort((a, b) => a.nodeId - b.nodeId);
      await writeState(paths.state, state);
      await waitUntilReady(readinessTargets(state), timeoutMs);
    } catch (error) {
      // Leave nothing running behind a failed start; the logs stay for reading.
      await stopStack(state);
      await rm(paths.state, { force: true });
      throw error;
    }
    return { brokers: state.brokers, registryUrl: state.registryUrl, reused: false, state };
  } finally {
    await release();
  }
}

function readinessTargets(state: StackState): ReadinessTarget[] {
  return [
    ...state.kafka.map((node) => ({
      what: `${node.role} (127.0.0.1:${node.port})`,
      pid: node.pid,
      marker: node.marker,
      logFile: node.logFile,
      probe: kafkaReadinessProbe(node.port, state.nodes),
    })),
    {
      what: `schema registry (${state.registryUrl})`,
      pid: state.registry.pid,
      marker: state.registry.marker,
      logFile: state.registry.logFile,
      probe: registryReadinessProbe(state.registry.port),
    },
  ];
}

function stackAlive(state: StackState): boolean {
  return allServers(state).every((server) => isOurProcess(server.pid, server.marker));
}

function allServers(state: StackState): ServerState[] {
  return [...state.kafka, state.registry];
}

async function stopStack(state: StackState): Promise<void> {
  await Promise.all(allServers(state).map((server) => stopProcess(server.pid, server.marker)));
}

export interface StackDownResult {
  name: string;
  stopped: Array<{ role: string; pid: number }>;
}

/** Stops the processes a stack started, by PID (and only those), then forgets the stack. */
export async function stackDown(
  options: { nodes?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<StackDownResult[]> {
  const env = options.env ?? process.env;
  const names = options.nodes === undefined ? await knownStacks(env) : [stackName(options.nodes)];
  const results: StackDownResult[] = [];
  for (const name of names) {
    const paths = stackPaths(name, env);
    const state = await readState(paths.state);
    if (!state) continue;
    const release = await acquireLock(paths.lock, DEFAULT_START_TIMEOUT_MS);
    try {
      const stopped = allServers(state)
        .filter((server) => isOurProcess(server.pid, server.marker))
        .map((server) => ({ role: server.role, pid: server.pid }));
      await stopStack(state);
      await rm(paths.state, { force: true });
      results.push({ name, stopped });
    } finally {
      await release();
    }
  }
  return results;
}

export interface ServerStatus {
  role: string;
  pid: number;
  running: boolean;
  address: string;
  logFile: string;
}

export interface StackStatus {
  name: string;
  startedAt: string;
  brokers: string[];
  registryUrl: string;
  servers: ServerStatus[];
  security?: StackSecurity;
  /** The JSON file holding {@link security}, for tests and scripts. */
  securityFile?: string;
}

export async function stackStatus(env: NodeJS.ProcessEnv = process.env): Promise<StackStatus[]> {
  const statuses: StackStatus[] = [];
  for (const name of await knownStacks(env)) {
    const state = await readState(stackPaths(name, env).state);
    if (!state) continue;
    statuses.push({
      name,
      startedAt: state.startedAt,
      brokers: state.brokers,
      registryUrl: state.registryUrl,
      servers: allServers(state).map((server) => ({
        role: server.role,
        pid: server.pid,
        running: isOurProcess(server.pid, server.marker),
        address: server === state.registry ? state.registryUrl : `127.0.0.1:${server.port}`,
        logFile: server.logFile,
      })),
      ...(state.security === undefined
        ? {}
        : { security: state.security, securityFile: securityFile(stackPaths(name, env).run) }),
    });
  }
  return statuses;
}

/** Kills one Kafka node abruptly (SIGKILL), for failover tests. */
export async function killKafkaNode(
  nodeId: number,
  options: { nodes?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const state = await requireState(options.nodes ?? 3, options.env);
  const node = state.kafka.find((n) => n.nodeId === nodeId);
  if (!node) throw new Error(`stack ${state.name} has no Kafka node ${nodeId}`);
  killProcess(node.pid, node.marker);
  while (isOurProcess(node.pid, node.marker)) await sleep(50);
}

/** Restarts a Kafka node that was killed, on its kept data, and waits until the cluster sees it. */
export async function restartKafkaNode(
  nodeId: number,
  options: { nodes?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<void> {
  const env = options.env ?? process.env;
  const state = await requireState(options.nodes ?? 3, env);
  const node = state.kafka.find((n) => n.nodeId === nodeId);
  if (!node) throw new Error(`stack ${state.name} has no Kafka node ${nodeId}`);
  if (!isOurProcess(node.pid, node.marker)) {
    node.pid = spawnServer(node.command, node.args, { logFile: node.logFile });
    await writeState(stackPaths(state.name, env).state, state);
  }
  await waitUntilReady(
    readinessTargets(state).filter((target) => target.pid === node.pid),
    options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS,
  );
}

export function securityFile(runDir: string): string {
  return join(runDir, "security.json");
}

async function requireState(nodes: number, env: NodeJS.ProcessEnv = process.env): Promise<StackState> {
  const state = await readState(stackPaths(stackName(nodes), env).state);
  if (!state) throw new Error(`no ${stackName(nodes)} stack is running: run stack up --nodes ${nodes}`);
  return state;
}

async function knownStacks(env: NodeJS.ProcessEnv): Promise<string[]> {
  const runRoot = join(stackCacheDir(env), "run");
  if (!existsSync(runRoot)) return [];
  return (await readdir(runRoot)).sort();
}

async function readState(file: string): Promise<StackState | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as StackState;
  } catch {
    return undefined;
  }
}

async function writeState(file: string, state: StackState): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2));
  await rename(`${file}.tmp`, file);
}

async function clearRunDir(runDir: string): Promise<void> {
  for (const entry of await readdir(runDir)) {
    if (entry === "lock") continue;
    await rm(join(runDir, entry), { recursive: true, force: true });
  }
}

/** A lock file holding the owner's PID; a lock whose owner died is taken over. */
async function acquireLock(file: string, timeoutMs: number): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number((await readFile(file, "utf8").catch(() => "")).trim());
    if (!Number.isInteger(owner) || owner <= 0 || !pidAlive(owner)) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new PstnError(
        ErrorCode.STACK_BUSY,
        `another stack command (pid ${owner}) holds ${file}; wait for it or stop it`,
      );
    }
    await sleep(200);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
