/**
 * The kafkajs client configuration from the connector's: brokers, timeouts, TLS (CA, client
 * certificate) and SASL (password or OAUTHBEARER). The only place that builds Kafka security, so
 * that every Kafka client of the process connects the same way.
 */
import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates, type SecureContextOptions } from "node:tls";
import type { KafkaConfig, logCreator, OauthbearerProviderResponse, SASLOptions } from "kafkajs";
import type { TokenSource } from "../auth/token-provider.js";
import type { ConnectorConfig, KafkaTlsFiles } from "../config/types.js";
import { ErrorCode, PstnError } from "../errors.js";
import type { Metrics } from "../metrics/index.js";

export interface KafkaClientOptions {
  /** Where OAUTHBEARER tokens come from; required when the mechanism is oauthbearer. */
  tokens?: TokenSource;
  logCreator?: logCreator;
  metrics?: Metrics;
}

export function kafkaClientConfig(
  kafka: ConnectorConfig["kafka"],
  options: KafkaClientOptions = {},
): KafkaConfig {
  return {
    clientId: kafka.clientId,
    brokers: kafka.brokers,
    ssl: kafkaTls(kafka),
    sasl: kafkaSasl(kafka, options),
    connectionTimeout: kafka.connectTimeoutMs,
    requestTimeout: kafka.requestTimeoutMs,
    // Short waits between retries: after a broker dies, a retry soon after its partitions move
    // (the controller notices within broker.session.timeout.ms, 9 s by default) ends the pause.
    retry: { retries: 12, initialRetryTime: 200, maxRetryTime: 4_000 },
    ...(options.logCreator === undefined ? {} : { logCreator: options.logCreator }),
  };
}

/**
 * `true` for system trust; with files, one secure context for every connection (given `ca` per
 * connection instead, each would parse every root again). A CA file adds to the system's roots.
 */
function kafkaTls(kafka: ConnectorConfig["kafka"]): KafkaConfig["ssl"] {
  if (!kafka.ssl) return false;
  if (kafka.tls === undefined) return true;
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

/** kafkajs sends `extensions` in the OAUTHBEARER initial response (RFC 7628) though its types omit it. */
type OAuthBearerResponse = OauthbearerProviderResponse & { extensions?: Record<string, string> };

function kafkaSasl(kafka: ConnectorConfig["kafka"], options: KafkaClientOptions): SASLOptions | undefined {
  const sasl = kafka.sasl;
  if (sasl === undefined) return undefined;
  switch (sasl.mechanism) {
    case "plain":
      return { mechanism: "plain", username: sasl.username, password: sasl.password };
    case "scram-sha-256":
      return { mechanism: "scram-sha-256", username: sasl.username, password: sasl.password };
    case "scram-sha-512":
      return { mechanism: "scram-sha-512", username: sasl.username, password: sasl.password };
  }
  const tokens = options.tokens;
  if (tokens === undefined) {
    throw new PstnError(ErrorCode.CONFIG_INVALID, "SASL OAUTHBEARER needs a token source", {
      final: true,
    });
  }
  const extensions = sasl.oauthBearer.extensions;
  const hasExtensions = Object.keys(extensions).length > 0;
  const counter = options.metrics?.kafkaOAuthTokens;
  return {
    mechanism: "oauthbearer",
    // Called by kafkajs for each broker connection it authenticates; the source caches the token.
    oauthBearerProvider: async (): Promise<OAuthBearerResponse> => {
      try {
        const value = await tokens.getToken();
        counter?.inc({ outcome: "ok" });
        return hasExtensions ? { value, extensions: { ...extensions } } : { value };
      } catch (error) {
        counter?.inc({ outcome: "error" });
        throw error;
      }
    },
  };
}
