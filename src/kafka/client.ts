/**
 * The client options of the configured cluster, from the connector's: brokers, timeouts, retries,
 * TLS (CA, client certificate) and SASL (password or OAUTHBEARER). The only place that builds
 * Kafka security, so that every Kafka client of the process connects the same way.
 */
import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates, type SecureContextOptions } from "node:tls";
import type { BaseOptions, SASLOptions } from "@platformatic/kafka";
import type { TokenSource } from "../auth/token-provider.js";
import type { ConnectorConfig, KafkaTlsFiles } from "../config/types.js";
import { ErrorCode, PstnError } from "../errors.js";
import type { Metrics } from "../metrics/index.js";

export interface KafkaClientOptions {
  /** Where OAUTHBEARER tokens come from; required when the mechanism is oauthbearer. */
  tokens?: TokenSource;
  metrics?: Metrics;
}

/** What every client (admin, producer, consumer) of the process is given. */
export type ClientOptions = Omit<BaseOptions, "retries" | "retryDelay"> & {
  retries: number;
  retryDelay: (client: object, operationId: string, attempt: number) => number;
};

export function kafkaClientOptions(
  kafka: ConnectorConfig["kafka"],
  options: KafkaClientOptions = {},
): ClientOptions {
  const tls = kafkaTls(kafka);
  const sasl = kafkaSasl(kafka, options);
  return {
    clientId: kafka.clientId,
    bootstrapBrokers: [...kafka.brokers],
    connectTimeout: kafka.connectTimeoutMs,
    requestTimeout: kafka.requestTimeoutMs,
    retries: 12,
    retryDelay: retryDelay,
    ...(tls === undefined ? {} : { tls }),
    ...(sasl === undefined ? {} : { sasl }),
  };
}

/**
 * Short waits between retries, growing to 4 s, with jitter: after a broker dies, a retry soon after
 * its partitions move (the controller notices within broker.session.timeout.ms, 9 s by default)
 * ends the pause. The first wait is short because the broker answers a transaction begun right
 * after a commit with CONCURRENT_TRANSACTIONS until the commit's markers are written, a few
 * milliseconds (Java's producer retries that after 20 ms).
 */
export function retryDelay(_client: object, _operationId: string, attempt: number): number {
  const ceiling = Math.min(4_000, 20 * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * `{}` for system trust; with files, one secure context for every connection (given `ca` per
 * connection instead, each would parse every root again). A CA file adds to the system's roots.
 */
function kafkaTls(kafka: ConnectorConfig["kafka"]): BaseOptions["tls"] | undefined {
  if (!kafka.ssl) return undefined;
  if (kafka.tls === undefined) return {};
  return { secureContext: createSecureContext(secureContextOptions(kafka.tls)) };
}

export function secureContextOptions(tls: KafkaTlsFiles): SecureContextOptions {
  const read = (name: string, path: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new PstnError(
        ErrorCode.CONFIG_INVALID,
        `${name}: ${JSON.stringify(path)} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
        { cause: error, final: true },
      );
    }
  };
  return {
    ...(tls.caFile === undefined ? {} : { ca: [...rootCertificates, read("KAFKA_SSL_CA_FILE", tls.caFile)] }),
    ...(tls.certFile === undefined ? {} : { cert: read("KAFKA_SSL_CERT_FILE", tls.certFile) }),
    ...(tls.keyFile === undefined ? {} : { key: read("KAFKA_SSL_KEY_FILE", tls.keyFile) }),
    ...(tls.keyPassword === undefined ? {} : { passphrase: tls.keyPassword }),
  };
}

function kafkaSasl(kafka: ConnectorConfig["kafka"], options: KafkaClientOptions): SASLOptions | undefined {
  const sasl = kafka.sasl;
  if (sasl === undefined) return undefined;
  switch (sasl.mechanism) {
    case "plain":
      return { mechanism: "PLAIN", username: sasl.username, password: sasl.password };
    case "scram-sha-256":
      return { mechanism: "SCRAM-SHA-256", username: sasl.username, password: sasl.password };
    case "scram-sha-512":
      return { mechanism: "SCRAM-SHA-512", username: sasl.username, password: sasl.password };
  }
  const tokens = options.tokens;
  if (tokens === undefined) {
    throw new PstnError(ErrorCode.CONFIG_INVALID, "SASL OAUTHBEARER needs a token source", {
      final: true,
    });
  }
  const extensions = sasl.oauthBearer.extensions;
  const counter = options.metrics?.kafkaOAuthTokens;
  return {
    mechanism: "OAUTHBEARER",
    // Called for each broker connection the client authenticates; the source caches the token.
    token: async (): Promise<string> => {
      try {
        const value = await tokens.getToken();
        counter?.inc({ outcome: "ok" });
        return value;
      } catch (error) {
        counter?.inc({ outcome: "error" });
        throw error;
      }
    },
    ...(Object.keys(extensions).length > 0 ? { oauthBearerExtensions: { ...extensions } } : {}),
  };
}
