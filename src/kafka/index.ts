/** The Sink on @platformatic/kafka and the clients it runs on: everything client-specific of the connector. */
import { Admin, Consumer, type ConsumerOptions, Producer, type ProducerOptions } from "@platformatic/kafka";
import type { Dispatcher } from "undici";
import type { ConnectorConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import { type ClientOptions, kafkaClientOptions } from "./client.js";
import { kafkaTokenSource } from "./oauth.js";

export { KafkaSink, type KafkaSinkOptions } from "./sink.js";

export interface KafkaClientDependencies {
  /** Carries the OAUTHBEARER token requests (KAFKA_SASL_MECHANISM=oauthbearer). */
  dispatcher: Dispatcher;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

/**
 * The configured cluster: makes admins, producers and consumers that all connect the same way.
 * Each client holds its own connections, and closes them with `close()`.
 */
export class Kafka {
  constructor(readonly options: ClientOptions) {}

  admin(): Admin {
    return new Admin({ ...this.options });
  }

  producer(options: Partial<ProducerOptions<Buffer, Buffer, Buffer, Buffer>>): Producer {
    return new Producer({ ...this.options, ...options });
  }

  consumer(
    options: Partial<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>> & { groupId: string },
  ): Consumer {
    return new Consumer({ ...this.options, ...options } as ConsumerOptions<Buffer, Buffer, Buffer, Buffer>);
  }
}

/** The client of the configured cluster: brokers, TLS, SASL (tokens included). */
export function createKafka(
  settings: ConnectorConfig["kafka"],
  dependencies: KafkaClientDependencies,
): Kafka {
  const { dispatcher, metrics, now } = dependencies;
  const tokens =
    settings.sasl?.mechanism === "oauthbearer"
      ? kafkaTokenSource(settings.sasl.oauthBearer, { dispatcher, timeoutMs: settings.requestTimeoutMs, now })
      : undefined;
  return new Kafka(kafkaClientOptions(settings, { tokens, metrics }));
}
