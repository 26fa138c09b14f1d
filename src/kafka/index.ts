/** The Sink on @platformatic/kafka and the clients it runs on: everything client-specific of the connector. */
import { Admin, Consumer, type ConsumerOptions, Producer, type ProducerOptions } from "@platformatic/kafka";
import type { Dispatcher } from "undici";
import type { ConnectorConfig } from "../config/types.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import { type ClientOptions, kafkaClientOptions } from "./client.js";
import { kafkaTokenSource } from "./oauth.js";

export { KafkaSink, type KafkaSinkOptions } from "./sink.js";
export { SlottedSink, type SlottedSinkOptions } from "./slotted-sink.js";

export interface KafkaClientDependencies {
  /** Carries the OAUTHBEARER token requests (KAFKA_SASL_MECHANISM=oauthbearer). */
  dispatcher: Dispatcher;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

/**
 * The configured cluster: makes admins, producers and consumers that all connect the same way.
 * Each client holds its own connections, and closes them with `close()`. The client does not log;
 * with a logger, a broker connection that fails or drops is logged (the failure that follows, if
 * any, is reported where it ends a session).
 */
export class Kafka {
  constructor(
    readonly options: ClientOptions,
    private readonly logger?: Logger,
  ) {}

  admin(): Admin {
    return this.watched(new Admin({ ...this.options }));
  }

  producer(options: Partial<ProducerOptions<Buffer, Buffer, Buffer, Buffer>>): Producer {
    return this.watched(new Producer({ ...this.options, ...options }));
  }

  consumer(
    options: Partial<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>> & { groupId: string },
  ): Consumer {
    return this.watched(
      new Consumer({ ...this.options, ...options } as ConsumerOptions<Buffer, Buffer, Buffer, Buffer>),
    );
  }

  private watched<T extends Admin | Producer | Consumer>(client: T): T {
    const logger = this.logger?.child({ component: "kafka" });
    if (logger === undefined) return client;
    const broker = ({ broker }: { broker: { host: string; port: number } }) =>
      `${broker.host}:${broker.port}`;
    (client as Admin).on("client:broker:failed", (payload) =>
      logger.warn({ broker: broker(payload) }, "a connection to a Kafka broker failed"),
    );
    (client as Admin).on("client:broker:disconnect", (payload) =>
      logger.debug({ broker: broker(payload) }, "a connection to a Kafka broker closed"),
    );
    return client;
  }
}

/** The client of the configured cluster: brokers, TLS, SASL (tokens included). */
export function createKafka(
  settings: ConnectorConfig["kafka"],
  dependencies: KafkaClientDependencies,
): Kafka {
  const { dispatcher, logger, metrics, now } = dependencies;
  const tokens =
    settings.sasl?.mechanism === "oauthbearer"
      ? kafkaTokenSource(settings.sasl.oauthBearer, { dispatcher, timeoutMs: settings.requestTimeoutMs, now })
      : undefined;
  return new Kafka(kafkaClientOptions(settings, { tokens, metrics }), logger);
}
