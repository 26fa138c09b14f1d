import { createServer } from "node:net";
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { APICURIO_VERSION, KAFKA_VERSION } from "../../tools/stack/versions.js";
import type { TestStack, TestStackOptions } from "./stack.js";

/** The same servers as the local stack, as Docker images (needs a Docker engine). */
export async function startContainerStack(options: TestStackOptions): Promise<TestStack> {
  if ((options.nodes ?? 1) !== 1) {
    throw new Error("the testcontainers stack runs one Kafka node; multi-node tests need the local stack");
  }
  const kafkaPort = await freePort();
  const started: StartedTestContainer[] = [];
  try {
    // The advertised listener must be the host's address, so the host port is fixed up front.
    const kafka = await new GenericContainer(`apache/kafka:${KAFKA_VERSION}`)
      .withExposedPorts({ container: 9092, host: kafkaPort })
      .withEnvironment({
        KAFKA_NODE_ID: "1",
        KAFKA_PROCESS_ROLES: "broker,controller",
        KAFKA_LISTENERS: "PLAINTEXT://:9092,CONTROLLER://:9093",
        KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
        KAFKA_CONTROLLER_LISTENER_NAMES: "CONTROLLER",
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        KAFKA_CONTROLLER_QUORUM_VOTERS: "1@localhost:9093",
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: "1",
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: "1",
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: "1",
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: "1",
        KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: "1",
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: "0",
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: "false",
      })
      .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
      .start();
    started.push(kafka);
    const registry = await new GenericContainer(`apicurio/apicurio-registry:${APICURIO_VERSION}`)
      .withExposedPorts(8080)
      .withEnvironment({ APICURIO_RULES_GLOBAL_COMPATIBILITY: "BACKWARD" })
      .withWaitStrategy(Wait.forHttp("/apis/ccompat/v7/subjects", 8080).forStatusCode(200))
      .start();
    started.push(registry);
    return {
      brokers: [`127.0.0.1:${kafkaPort}`],
      registryUrl: `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`,
      stop: async () => {
        await Promise.all(started.map((container) => container.stop()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((container) => container.stop().catch(() => undefined)));
    throw error;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePromise(typeof address === "object" && address ? address.port : 0));
    });
  });
}
