import { type Logger as KafkaLogger, logLevel as KafkaLogLevel, type LogEntry } from "kafkajs";
import { type Logger, pino } from "pino";

export type { Logger };

/** Keys whose values never reach a log line, wherever they sit in the logged object. */
const REDACT = [
  "*.clientSecret",
  "*.password",
  "*.accessToken",
  "*.authorization",
  "*.headers.authorization",
  "clientSecret",
  "password",
  "accessToken",
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: "pstn-connector" },
      redact: { paths: REDACT, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

/**
 * kafkajs logs through pino. kafkajs retries broker errors itself and logs each try at ERROR;
 * the connector reports what finally fails, so kafkajs' own errors are warnings here.
 */
export function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: "kafkajs" });
  return (_level: KafkaLogLevel) =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
      // Every send of ours is inside a transaction that is aborted and re-read on failure, so a
      // bounded retry count cannot break exactly-once; kafkajs warns about it on each connect.
      if (message.startsWith("Limiting retries for the idempotent producer")) {
        child.debug(extra, message);
        return;
      }
      switch (level) {
        case KafkaLogLevel.ERROR:
        case KafkaLogLevel.WARN:
          child.warn(extra, message);
          break;
        case KafkaLogLevel.INFO:
          child.info(extra, message);
          break;
        default:
          child.debug(extra, message);
      }
    };
}

/** The kafkajs Logger interface over pino, for code that takes a kafkajs logger. */
export function asKafkaLogger(logger: Logger): KafkaLogger {
  return {
    info: (message, extra) => logger.info(extra ?? {}, message),
    warn: (message, extra) => logger.warn(extra ?? {}, message),
    error: (message, extra) => logger.error(extra ?? {}, message),
    debug: (message, extra) => logger.debug(extra ?? {}, message),
    namespace: () => asKafkaLogger(logger),
    setLogLevel: () => undefined,
  };
}
