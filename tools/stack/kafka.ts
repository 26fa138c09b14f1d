import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Admin } from "@platformatic/kafka";
import { ErrorCode, PstnError } from "../../src/errors.js";
import {
  jwksUrl,
  MTLS_LISTENER,
  SASL_SSL_LISTENER,
  type StackSecurity,
  scramFormatArgs,
  secureListenerProperties,
} from "./security.js";
import { runCommand } from "./tools.js";

export interface KafkaNodeSpec {
  nodeId: number;
  port: number;
  controllerPort: number;
  dataDir: string;
  configFile: string;
  logFile: string;
  /** The secure listeners' ports, on the node that has them (the single-node stack's). */
  secure?: { saslSslPort: number; mtlsPort: number };
}

export interface KafkaClusterSpec {
  nodes: KafkaNodeSpec[];
  /** Replication factor of new and internal topics, and min ISR: 1/1 alone, 3/2 on three nodes. */
  replicationFactor: number;
  minInsyncReplicas: number;
  heapMb: number;
  /** Certificates and credentials of the secure listeners, when a node has them. */
  security?: StackSecurity;
  runDir?: string;
}

/**
 * Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding. Never one that begins
 * with "-": kafka-storage's argument parser takes it for an option and the format fails (one start
 * in 64), so Kafka's own Uuid.randomUuid draws again too.
 */
export function newClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}

export function kafkaBrokers(cluster: KafkaClusterSpec): string[] {
  return cluster.nodes.map((node) => `127.0.0.1:${node.port}`);
}

/** The server.properties of one combined broker+controller node of a static KRaft quorum. */
export function kafkaNodeProperties(cluster: KafkaClusterSpec, node: KafkaNodeSpec): string {
  const voters = cluster.nodes.map((n) => `${n.nodeId}@127.0.0.1:${n.controllerPort}`).join(",");
  const rf = cluster.replicationFactor;
  const isr = cluster.minInsyncReplicas;
  const internalPartitions = 10; // default 50 makes the first consumer group slow on two cores
  const secure = node.secure !== undefined && cluster.security !== undefined ? node.secure : undefined;
  const advertised = [
    `PLAINTEXT://127.0.0.1:${node.port}`,
    ...(secure === undefined
      ? []
      : [
          `${SASL_SSL_LISTENER}://127.0.0.1:${secure.saslSslPort}`,
          `${MTLS_LISTENER}://127.0.0.1:${secure.mtlsPort}`,
        ]),
  ];
  const properties: Record<string, string | number | boolean> = {
    "process.roles": "broker,controller",
    "node.id": node.nodeId,
    "controller.quorum.voters": voters,
    listeners: [...advertised, `CONTROLLER://127.0.0.1:${node.controllerPort}`].join(","),
    "advertised.listeners": advertised.join(","),
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": [
      "PLAINTEXT:PLAINTEXT",
      "CONTROLLER:PLAINTEXT",
      ...(secure === undefined ? [] : [`${SASL_SSL_LISTENER}:SASL_SSL`, `${MTLS_LISTENER}:SSL`]),
    ].join(","),
    "log.dirs": node.dataDir,
    "num.partitions": 1,
    "default.replication.factor": rf,
    "min.insync.replicas": isr,
    "offsets.topic.replication.factor": rf,
    "offsets.topic.num.partitions": internalPartitions,
    "transaction.state.log.replication.factor": rf,
    "transaction.state.log.min.isr": isr,
    "transaction.state.log.num.partitions": internalPartitions,
    "share.coordinator.state.topic.replication.factor": rf,
    "share.coordinator.state.topic.min.isr": isr,
    "group.initial.rebalance.delay.ms": 0,
    // Lets tests fail over between connector replicas in a second or two (default minimum 6 s).
    "group.min.session.timeout.ms": 1000,
    // Topics are created on purpose (by the connector or a test), never by a typo.
    "auto.create.topics.enable": false,
    "log.segment.bytes": 64 * 1024 * 1024,
    ...(secure === undefined || cluster.security === undefined || cluster.runDir === undefined
      ? {}
      : secureListenerProperties(cluster.security, cluster.runDir)),
  };
  return `${Object.entries(properties)
    .map(([key, value]) => `${key}=${value}`)
    .join("\n")}\n`;
}

const LOG4J2_PROPERTIES = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
`;

export async function writeKafkaFiles(cluster: KafkaClusterSpec, runDir: string): Promise<string> {
  const log4jFile = join(runDir, "kafka-log4j2.properties");
  await writeFile(log4jFile, LOG4J2_PROPERTIES);
  for (const node of cluster.nodes) {
    await mkdir(node.dataDir, { recursive: true });
    // The owner's alone: with secure listeners it holds the PLAIN user's password.
    await writeFile(node.configFile, kafkaNodeProperties(cluster, node), { mode: 0o600 });
  }
  return log4jFile;
}

export function kafkaJvmArgs(options: {
  classpath: string;
  log4jFile: string;
  heapMb: number;
  marker: string;
  security?: StackSecurity;
}): string[] {
  return [
    // Kafka 4 reads OAUTHBEARER JWKS and token URLs only when this list names them.
    ...(options.security === undefined
      ? []
      : [`-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${jwksUrl(options.security)}`]),
    `-Xms${Math.min(256, options.heapMb)}m`,
    `-Xmx${options.heapMb}m`,
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${options.log4jFile}`,
    options.marker,
    "-cp",
    options.classpath,
  ];
}

/** Formats a node's log dir for the cluster unless it already is (a restarted node keeps its data). */
export async function formatKafkaStorage(
  java: string,
  jvmArgs: readonly string[],
  node: KafkaNodeSpec,
  clusterId: string,
  security?: StackSecurity,
): Promise<void> {
  if (existsSync(join(node.dataDir, "meta.properties"))) return;
  const result = await runCommand(java, [
    ...jvmArgs,
    "kafka.tools.StorageTool",
    "format",
    "--cluster-id",
    clusterId,
    "--config",
    node.configFile,
    ...(security !== undefined && node.secure !== undefined ? scramFormatArgs(security) : []),
  ]);
  await writeFile(`${node.logFile}.format`, result.stdout + result.stderr);
  if (result.code !== 0) {
    throw new PstnError(
      ErrorCode.STACK_START_FAILED,
      `formatting Kafka node ${node.nodeId}'s storage failed; read ${node.logFile}.format`,
    );
  }
}

/** Ready when the node answers metadata requests and sees every broker of the cluster. */
export function kafkaReadinessProbe(port: number, expectedBrokers: number): () => Promise<boolean> {
  return async () => {
    const admin = new Admin({
      clientId: "pstn-stack-probe",
      bootstrapBrokers: [`127.0.0.1:${port}`],
      connectTimeout: 1000,
      requestTimeout: 2000,
      retries: 0,
    });
    try {
      const cluster = await admin.metadata({ topics: [], forceUpdate: true });
      return cluster.brokers.size >= expectedBrokers && cluster.controllerId >= 0;
    } finally {
      await admin.close().catch(() => undefined);
    }
  };
}
