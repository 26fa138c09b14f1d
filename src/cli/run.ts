import { createApp } from "../app.js";
import { type ConnectorConfig, cleartextCredentials } from "../config/index.js";
import { ErrorCode, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import { startMetricsServer } from "../metrics/server.js";
import { runWithStandby } from "../pipeline/standby.js";
import { type Command, parseCommandArgs } from "./command.js";
import { CONFIG_HELP, CONFIG_OPTION, loadCommandConfig, shutdownSignal } from "./runtime.js";

const runHelp = `Usage: pstn-connector run [options]

Polls Graph every POLL_INTERVAL, reading [watermark - LOOKBACK, now], and publishes each new row once
to KAFKA_TOPIC until stopped. Replicas with the same identity (tenant, CONNECTOR_NAME) elect one
active instance; the others stand by and take over within CONNECTOR_FAILOVER_TIMEOUT of its loss.
SIGTERM/SIGINT: stops taking new work, abandons the open transaction (its rows are read again by
the next active instance), closes cleanly, exits 0.

Options:
${CONFIG_HELP}
  -h, --help           this help
`;

export const runCommand: Command = {
  name: "run",
  summary: "poll Graph and publish until stopped",
  help: runHelp,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, CONFIG_OPTION);
    if (values.help) {
      process.stdout.write(runHelp);
      return 0;
    }
    if (positionals.length > 0)
      throw new PstnError(ErrorCode.USAGE, `unexpected argument: ${positionals.join(" ")}`);
    const config = loadCommandConfig(values.config);
    const app = createApp(config);
    const server = await startMetricsServer(app.metrics, app.health, config.metricsPort, config.metricsHost);
    const shutdown = shutdownSignal((name) => app.logger.info({ signal: name }, "stopping"));
    warnCleartext(app.logger, config);
    app.logger.info(
      {
        metricsPort: server.port,
        metricsHost: server.address,
        topic: config.kafka.topic,
        identity: app.source.identity(),
      },
      "starting",
    );
    try {
      await runWithStandby(app.source, shutdown.signal, {
        sessionTimeoutMs: config.connector.failoverTimeoutMs,
      });
      app.logger.info("stopped");
      return 0;
    } finally {
      shutdown.dispose();
      await app.close();
      await server.close();
      app.logger.flush();
    }
  },
};

const backfillHelp = `Usage: pstn-connector backfill --from <ISO> [--to <ISO>] [options]

Publishes the rows that started in [from, to] once (in windows sized to the tenant's density,
never over Graph's 90 days), then exits. It keeps its own progress and dedupe state, so running it
again after a crash resumes, and rows it already published are not sent again.

Options:
  --from <ISO>         first instant, e.g. 2026-01-01T00:00:00Z (required)
  --to <ISO>           last instant (default: now)
${CONFIG_HELP}
  -h, --help           this help
`;

export const backfillCommand: Command = {
  name: "backfill",
  summary: "publish a fixed time range once, then exit",
  help: backfillHelp,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...CONFIG_OPTION,
      from: { type: "string" },
      to: { type: "string" },
    });
    if (values.help) {
      process.stdout.write(backfillHelp);
      return 0;
    }
    if (positionals.length > 0)
      throw new PstnError(ErrorCode.USAGE, `unexpected argument: ${positionals.join(" ")}`);
    const from = parseInstant("--from", values.from);
    const to = values.to === undefined ? new Date() : parseInstant("--to", values.to);
    if (from > to) throw new PstnError(ErrorCode.USAGE, "--from must not be after --to");
    const config = loadCommandConfig(values.config);
    const app = createApp(config);
    const server = await startMetricsServer(app.metrics, app.health, config.metricsPort, config.metricsHost);
    const shutdown = shutdownSignal((name) => app.logger.info({ signal: name }, "stopping"));
    warnCleartext(app.logger, config);
    app.logger.info({ from, to }, "backfill starting");
    try {
      const done = await app.source.backfill(from, to, shutdown.signal);
      app.logger.info({ ...app.source.stats }, done ? "backfill done" : "backfill stopped before the end");
      if (!done)
        process.stderr.write(
          "pstn-connector backfill: stopped before the range was done; run it again to resume\n",
        );
      return done ? 0 : 1;
    } finally {
      shutdown.dispose();
      await app.close();
      await server.close();
      app.logger.flush();
    }
  },
};

/** The operator allowed clear-text credentials: say which ones go that way, at every start. */
function warnCleartext(logger: Logger, config: ConnectorConfig): void {
  const cleartext = cleartextCredentials(config);
  if (cleartext.length > 0) {
    logger.warn(
      { cleartext },
      "credentials cross the network unencrypted (CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS=true)",
    );
  }
}

function parseInstant(flag: string, value: string | undefined): Date {
  if (value === undefined) throw new PstnError(ErrorCode.USAGE, `${flag} is required (an ISO-8601 instant)`);
  const date = /^\d{4}-\d{2}-\d{2}(T.*)?$/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new PstnError(
      ErrorCode.USAGE,
      `${flag}: "${value}" is not an ISO-8601 instant; use e.g. 2026-01-01T00:00:00Z`,
    );
  }
  return date;
}
