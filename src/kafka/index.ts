/** The Sink on kafkajs and the client it runs on: everything kafkajs-specific of the connector. */
import { Kafka } from "kafkajs";
import type { Dispatcher } from "undici";
import type { ConnectorConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import { kafkaClientConfig } from "./client.js";
import { kafkaLogCreator } from "./log.js";
import { kafkaTokenSource } from "./oauth.js";

export type { Kafka } from "kafkajs";
export { KafkaSink, type KafkaSinkOptions } from "./sink.js";

export interface KafkaClientDependencies {
  /** Carries the OAUTHBEARER token requests (KAFKA_SASL_MECHANISM=oauthbearer). */
  dispatcher: Dispatcher;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

/** The client of the configured cluster: brokers, TLS, SASL (tokens included), logging through pino. */
export function createKafka(
  settings: ConnectorConfig["kafka"],
  dependencies: KafkaClientDependencies,
): Kafka {
  const { dispatcher, logger, metrics, now } = dependencies;
  const tokens =
    settings.sasl?.mechanism === "oauthbearer"
      ? kafkaTokenSource(settings.sasl.oauthBearer, { dispatcher, timeoutMs: settings.requestTimeoutMs, now })
      : undefined;
  return new Kafka(kafkaClientConfig(settings, { tokens, logCreator: kafkaLogCreator(logger), metrics }));
}
