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
