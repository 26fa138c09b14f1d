import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MessagesStreamModes } from "@platformatic/kafka";
import { pino } from "pino";
import { createApp } from "../../src/app.js";
import { decodedToGraphJson } from "../../src/avro/index.js";
import { type Command, parseCommandArgs, parseIntegerOption } from "../../src/cli/command.js";
import { shutdownSignal } from "../../src/cli/runtime.js";
import { loadConfig } from "../../src/config/index.js";
import { ErrorCode, PstnError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import { startMetricsServer } from "../../src/metrics/server.js";
import { type DemoEvent, readCounters, renderView } from "../demo/view.js";
import { startGraphSimulator } from "../simulator/index.js";
import { stackDown, stackUp } from "../stack/index.js";

const DAY = 86_400_000;

const help = `Usage: pstn-connector demo [options]

The embedded default, end to end on this machine: starts the Graph simulator (HTTPS, Entra ID token
endpoint and getPstnCalls with late rows, throttling, 503s and token revocation), the local Kafka and
schema registry (unless KAFKA_BROKERS and SCHEMA_REGISTRY_URL are set), and the connector, then shows
live progress and the latest events decoded from the topic. Ctrl-C stops everything it started.

Options:
  --days <n>             history the simulated tenant has, read as a backfill first (default 100)
  --calls-per-hour <n>   the tenant's call rate over its history (default 60)
  --live-calls-per-hour <n>  the call rate from start-up on, arriving up to 20 s late (default 1800)
  --duration <seconds>   stop by itself after this long and print a summary (default: until Ctrl-C)
  -h, --help             this help
`;

export const demoCommand: Command = {
  name: "demo",
  summary: "run simulator + local stack + connector with a live view (Ctrl-C stops)",
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      days: { type: "string" },
      "calls-per-hour": { type: "string" },
      "live-calls-per-hour": { type: "string" },
      duration: { type: "string" },
    });
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    if (positionals.length > 0)
      throw new PstnError(ErrorCode.USAGE, `unexpected argument: ${positionals.join(" ")}`);
    const days = parseIntegerOption("days", values.days, 1, 3650) ?? 100;
    const callsPerHour = parseIntegerOption("calls-per-hour", values["calls-per-hour"], 1, 1_000_000) ?? 60;
    const liveCallsPerHour =
      parseIntegerOption("live-calls-per-hour", values["live-calls-per-hour"], 0, 1_000_000) ?? 1800;
    const durationS = parseIntegerOption("duration", values.duration, 1, 86_400);
    const shutdown = shutdownSignal();
    const cleanups: Array<() => Promise<unknown>> = [];
    const say = (line: string) => process.stderr.write(`demo: ${line}\n`);
    try {
      const secret = "demo-client-secret";
      const now = Date.now();
      say("starting the Graph simulator");
      const sim = await startGraphSimulator({
        seed: 42,
        clientSecret: secret,
        dataStart: new Date(now - days * DAY),
        callsPerHour,
        live: { since: new Date(now), callsPerHour: liveCallsPerHour },
        visibilityDelayMs: { min: 0, max: 20_000 },
        faults: {
          throttleRate: 0.03,
          retryAfterSeconds: 1,
          unavailableRate: 0.02,
          revokeTokensEveryRequests: 60,
          extraPropertyRate: 0.01,
          malformedRowRate: 0.0005,
          oversizedChargeRate: 0.0005,
          pageLatencyMs: { min: 20, max: 120 },
        },
      });
      cleanups.push(() => sim.close());

      let brokers = process.env.KAFKA_BROKERS;
      let registryUrl = process.env.SCHEMA_REGISTRY_URL;
      if (!brokers || !registryUrl) {
        say("starting the local Kafka and schema registry (first use downloads them through Maven)");
        const stack = await stackUp({ progress: (message) => say(message) });
        brokers = stack.brokers.join(",");
        registryUrl = stack.registryUrl;
        if (!stack.reused) cleanups.push(() => stackDown({ nodes: 1 }));
      }
      if (shutdown.signal.aborted) return 0;

      const workDir = await mkdtemp(join(tmpdir(), "pstn-demo-"));
      const logFile = join(workDir, "connector.log");
      await writeFile(join(workDir, "simulator-ca.pem"), sim.caCertificatePem);
      const config = loadConfig({
        env: {
          ...process.env,
          AZURE_TENANT_ID: sim.tenantId,
          AZURE_CLIENT_ID: sim.clientId,
          AZURE_CLIENT_SECRET: secret,
          AZURE_CLIENT_CERTIFICATE_PATH: "",
          AZURE_AUTHORITY_HOST: sim.url,
          GRAPH_ENDPOINT: sim.url,
          KAFKA_BROKERS: brokers,
          SCHEMA_REGISTRY_URL: registryUrl,
          CONNECTOR_START: process.env.CONNECTOR_START ?? `${days}d`,
          POLL_INTERVAL: process.env.POLL_INTERVAL ?? "5s",
          LOOKBACK: process.env.LOOKBACK ?? "2m",
          WINDOW_SLICE: process.env.WINDOW_SLICE ?? "30d",
        },
      });
      const logger = createLogger(
        config.logLevel,
        pino.destination({ dest: logFile, sync: false, mkdir: true }),
      );
      const app = createApp(config, { extraCaPem: sim.caCertificatePem, logger });
      cleanups.push(() => app.close());
      const server = await startMetricsServer(
        app.metrics,
        app.health,
        config.metricsPort,
        config.metricsHost,
      ).catch(() => undefined);
      if (server) cleanups.push(() => server.close());

      const events: DemoEvent[] = [];
      // Through the connector's own client, so that the tail reads with the same Kafka security.
      const tail = app.kafka.consumer({
        groupId: `pstn-demo-tail-${process.pid}-${now}`,
        maxWaitTime: 250,
        autocommit: false,
      });
      cleanups.push(() => tail.close(true));

      const stop = new AbortController();
      shutdown.signal.addEventListener("abort", () => stop.abort(), { once: true });
      if (durationS !== undefined) setTimeout(() => stop.abort(), durationS * 1000).unref();
      const running = app.source.run(stop.signal);

      await app.source.prepare().catch(() => undefined);
      const messages = await tail.consume({ topics: [config.kafka.topic], mode: MessagesStreamModes.LATEST });
      const show = async (value: Buffer | undefined): Promise<void> => {
        if (!value || value.length === 0) return;
        const row = decodedToGraphJson((await app.registry.decode(value)) as Record<string, unknown>);
        events.unshift({
          id: String(row.id),
          startDateTime: String(row.startDateTime),
          callType: String(row.callType ?? "-"),
          callerNumber: String(row.callerNumber ?? "-"),
          calleeNumber: String(row.calleeNumber ?? "-"),
          duration: String(row.duration ?? "-"),
          charge: row.charge === null ? "-" : `${row.charge} ${row.currency ?? ""}`,
        });
        events.length = Math.min(events.length, 8);
      };
      messages.on("data", (message) => void show(message.value).catch(() => undefined));

      const header = `pstn-connector demo: Graph simulator ${sim.url} -> Kafka ${brokers} topic ${config.kafka.topic} (registry ${registryUrl})`;
      const tty = process.stdout.isTTY === true;
      let last = { at: Date.now(), fetched: 0 };
      let lastPrint = 0;
      const paint = async () => {
        const at = Date.now();
        const progress = app.source.stats;
        const rate = ((progress.fetched - last.fetched) * 1000) / Math.max(1, at - last.at);
        last = { at, fetched: progress.fetched };
        const counters = await readCounters(app.metrics);
        const lines = renderView({
          header,
          progress,
          ...counters,
          rowsPerSecond: rate,
          events,
          now: at,
          logFile,
        });
        if (tty) process.stdout.write(`\x1b[H\x1b[2J${lines.join("\n")}\n`);
        else if (at - lastPrint >= 5000) {
          lastPrint = at;
          process.stdout.write(
            `fetched ${progress.fetched} published ${progress.published} duplicates ${progress.duplicates} dead-lettered ${progress.deadLettered} watermark ${progress.watermark?.toISOString() ?? "-"}\n`,
          );
        }
      };
      while (!stop.signal.aborted) {
        await paint();
        await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
      }
      await running;
      const stats = app.source.stats;
      const counters = await readCounters(app.metrics);
      process.stdout.write(
        `demo: stopped. fetched ${stats.fetched}, published ${stats.published}, duplicates dropped ${stats.duplicates}, ` +
          `dead-lettered ${stats.deadLettered}, Graph requests ${JSON.stringify(counters.graphByCode)}, ` +
          `watermark ${stats.watermark?.toISOString() ?? "-"}; logs in ${logFile}\n`,
      );
      return 0;
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      shutdown.dispose();
    }
  },
};
