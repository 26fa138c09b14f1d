import { setTimeout as sleep } from "node:timers/promises";
import { type App, createApp, type TenantApp } from "../app.js";
import { type ConnectorConfig, cleartextCredentials, reloadTenants } from "../config/index.js";
import { ErrorCode, isFinal, isPstnError, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import { startMetricsServer } from "../metrics/server.js";
import type { Source } from "../pipeline/source.js";
import { runWithStandby } from "../pipeline/standby.js";
import { type Command, parseCommandArgs } from "./command.js";
import { CONFIG_HELP, CONFIG_OPTION, loadCommandConfig, shutdownSignal } from "./runtime.js";

const runHelp = `Usage: pstn-connector run [options]

Polls Graph every POLL_INTERVAL, reading [watermark - LOOKBACK, now], and publishes each new row once
to its stream's topic until stopped, for each stream of CONNECTOR_STREAMS. Replicas with the same
identity (tenant, stream, CONNECTOR_NAME) elect one active instance per stream; the others stand by
and take over within CONNECTOR_FAILOVER_TIMEOUT of its loss. A final error in one stream (a
permission Graph refuses) stops them all and exits 1; with CONNECTOR_TENANTS_FILE it stops that
tenant's streams only, and the file is read again every CONNECTOR_TENANTS_RELOAD_INTERVAL (tenants
added start, removed ones stop, changed ones restart). SIGTERM/SIGINT: stops taking new work,
abandons the open transactions (their rows are read again by the next active instance), closes
cleanly, exits 0.

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
    // With a tenants file, the replicas share the units out by slots (KAFKA_SLOTS_TOPIC).
    const app = createApp(config, { slotted: config.tenantsFile !== undefined });
    const server = await startMetricsServer(app.metrics, app.health, config.metricsPort, config.metricsHost);
    const shutdown = shutdownSignal((name) => app.logger.info({ signal: name }, "stopping"));
    warnCleartext(app.logger, config);
    app.logger.info(
      {
        metricsPort: server.port,
        metricsHost: server.address,
        streams: Object.fromEntries(
          app.sources.map((source) => [source.unit.stream.name, source.unit.topics.outputs]),
        ),
        identities: app.sources.map((source) => source.identity()),
      },
      "starting",
    );
    try {
      const poll = (source: Source, signal: AbortSignal) =>
        runWithStandby(source, signal, { sessionTimeoutMs: config.connector.failoverTimeoutMs });
      if (config.tenantsFile === undefined) await eachTenant(app, shutdown.signal, poll);
      else await superviseTenants(app, shutdown.signal, poll);
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

Publishes the rows that started in [from, to] once, for each stream of CONNECTOR_STREAMS (in windows
sized to the tenant's density, never over Graph's 90 days), then exits. It keeps its own progress
and dedupe state, so running it again after a crash resumes, and rows it already published are not
sent again. getDirectRoutingCalls excludes its toDateTime: a directRouting row that starts exactly
at --to is left to the next range (or to run). It shares Graph's budget with any run of the same
app and tenant only through Graph's 429s: give each process its share with
GRAPH_MAX_REQUESTS_PER_MINUTE.

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
      const results: boolean[] = [];
      const stopped = await eachTenant(app, shutdown.signal, async (source, signal) => {
        const finished = await source.backfill(from, to, signal);
        app.logger.info(
          { tenant: source.unit.tenantId, stream: source.unit.stream.name, ...source.stats },
          finished ? "backfill done" : "backfill stopped before the end",
        );
        results.push(finished);
      });
      const done = stopped.length === 0 && results.every(Boolean);
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

/**
 * Runs `work` for every source at once until all are done. The first to fail stops the others
 * (through their signal) and its error is thrown once they have ended.
 */
async function untilFirstFailure<T>(
  sources: readonly Source[],
  signal: AbortSignal,
  work: (source: Source, signal: AbortSignal) => Promise<T>,
): Promise<T[]> {
  const failed = new AbortController();
  const both = AbortSignal.any([signal, failed.signal]);
  const settled = await Promise.allSettled(
    sources.map((source) =>
      work(source, both).catch((error: unknown) => {
        failed.abort();
        throw error;
      }),
    ),
  );
  const failure = settled.find((result) => result.status === "rejected");
  if (failure) throw failure.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<T>).value);
}

/**
 * Runs `work` for every source. With one tenant, the first final error stops every source and is
 * thrown. With a tenants file, a tenant's final error (consent revoked, a wrong secret, a tenant
 * deleted) stops that tenant's sources only, says why in the log and in /readyz, and the others go
 * on; the tenants stopped are returned once the rest are done.
 */
async function eachTenant(
  app: App,
  signal: AbortSignal,
  work: (source: Source, signal: AbortSignal) => Promise<unknown>,
): Promise<TenantApp[]> {
  if (app.config.tenantsFile === undefined) {
    await untilFirstFailure(app.sources, signal, work);
    return [];
  }
  const stopped: TenantApp[] = [];
  await Promise.all(
    app.tenants.map(async (tenant) => {
      if (!(await runTenant(app, tenant, signal, work))) stopped.push(tenant);
    }),
  );
  return stopped;
}

/**
 * Runs `work` for each source of one tenant; the first final error stops the tenant's sources,
 * is reported (log, /readyz, metrics) and resolves false. Other errors are thrown.
 */
async function runTenant(
  app: App,
  tenant: TenantApp,
  signal: AbortSignal,
  work: (source: Source, signal: AbortSignal) => Promise<unknown>,
): Promise<boolean> {
  try {
    await untilFirstFailure(tenant.sources, signal, work);
    return true;
  } catch (error) {
    if (!isFinal(error)) throw error;
    const code = isPstnError(error) ? error.code : "other";
    for (const source of tenant.sources) {
      source.health.setStopped(code);
      source.metrics.stopped(code);
    }
    app.logger.error(
      { tenant: tenant.tenant.tenantId, tenantName: tenant.tenant.name, err: error },
      "tenant stopped: its sources cannot go on without an operator; the other tenants go on",
    );
    return false;
  }
}

/**
 * `run` with a tenants file: every tenant runs on its own (a final error stops it alone), and the
 * file is read again every CONNECTOR_TENANTS_RELOAD_INTERVAL. Tenants it adds start; tenants it
 * removes stop (their state stays in Kafka); tenants whose entry changed restart; the others go on
 * untouched. A file that does not load is reported and changes nothing. Runs until `signal`.
 */
async function superviseTenants(
  app: App,
  signal: AbortSignal,
  work: (source: Source, signal: AbortSignal) => Promise<unknown>,
): Promise<void> {
  const running = new Map<string, { tenant: TenantApp; stop: AbortController; done: Promise<void> }>();
  let failure: unknown;
  const start = (tenant: TenantApp) => {
    const stop = new AbortController();
    const done = runTenant(app, tenant, AbortSignal.any([signal, stop.signal]), work).then(
      () => undefined,
      (error: unknown) => {
        failure ??= error;
      },
    );
    running.set(tenant.tenant.tenantId, { tenant, stop, done });
  };
  for (const tenant of app.tenants) start(tenant);
  let last = JSON.stringify(app.config.tenants);
  while (!signal.aborted && failure === undefined) {
    await sleep(app.config.tenantsReloadMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) break;
    const reloaded = reloadTenants(app.config);
    if (reloaded.problems) {
      for (const problem of reloaded.problems)
        app.logger.error({ problem }, "the tenants file does not load; the tenants running stay as they are");
      continue;
    }
    const now = JSON.stringify(reloaded.tenants);
    if (now === last) continue;
    last = now;
    const wanted = new Map(reloaded.tenants.map((tenant) => [tenant.tenantId, tenant]));
    for (const [id, entry] of running) {
      const next = wanted.get(id);
      if (next !== undefined && JSON.stringify(next) === JSON.stringify(entry.tenant.tenant)) continue;
      entry.stop.abort();
      await entry.done;
      running.delete(id);
      await app.removeTenant(entry.tenant);
      app.logger.info(
        { tenant: id },
        next === undefined
          ? "tenant removed from the file: stopped"
          : "tenant changed in the file: restarting",
      );
    }
    for (const tenant of reloaded.tenants) {
      if (running.has(tenant.tenantId)) continue;
      start(app.addTenant(tenant));
      app.logger.info({ tenant: tenant.tenantId, tenantName: tenant.name }, "tenant started");
    }
  }
  for (const entry of running.values()) entry.stop.abort();
  await Promise.all([...running.values()].map((entry) => entry.done));
  if (failure !== undefined) throw failure;
}

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
