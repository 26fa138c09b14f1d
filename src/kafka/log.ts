import { logLevel as KafkaLogLevel, type LogEntry } from "kafkajs";
import type { Logger } from "../log.js";

/**
 * kafkajs logs through pino. kafkajs retries broker errors itself and logs each try at ERROR;
 * the connector reports what finally fails, so kafkajs' own errors are warnings here.
 */
export function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: "kafkajs" });
  return (_level: KafkaLogLevel) =>
    ({ level, log }: LogEntry) => {
      const { message, ...extra } = log;
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
