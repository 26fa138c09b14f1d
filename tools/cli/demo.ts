import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MessagesStreamModes } from "@platformatic/kafka";
import { pino } from "pino";
import { stringify } from "yaml";
import { createApp } from "../../src/app.js";
import { decodedToGraphJson, rowSchema } from "../../src/avro/index.js";
import { type Command, parseCommandArgs, parseIntegerOption } from "../../src/cli/command.js";
import { shutdownSignal } from "../../src/cli/runtime.js";
import { loadConfig } from "../../src/config/index.js";
import { ErrorCode, PstnError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import { startMetricsServer } from "../../src/metrics/server.js";
import { type Source, TENANT_HEADER } from "../../src/pipeline/source.js";
import type { StreamName } from "../../src/streams/index.js";
import {
  DEMO_KEY_ID,
  DEMO_KEY_VARIABLE,
  demoKey,
  demoPolicy,
  demoPolicyVersion,
  PairTracker,
  policyHeaders,
} from "../demo/privacy.js";
import {
  type Counters,
  type DemoEvent,
  eventOf,
  inLastMinute,
  type PrivacyView,
  readCounters,
  renderPrivacy,
  renderProgressLine,
  renderSummary,
  renderTenantsProgressLine,
  renderTenantsSummary,
  renderView,
  type StreamView,
  streamTotals,
  type TenantView,
  withEvent,
} from "../demo/view.js";
import { startGraphSimulator } from "../simulator/index.js";
import { stackDown, stackUp } from "../stack/index.js";

const DAY = 86_400_000;
/** The streams the demo reads unless CONNECTOR_STREAMS says otherwise: all three, side by side. */
const DEMO_STREAMS = "pstn,directRouting,sms";
/** Latest events the view keeps of each stream. */
const EVENTS_PER_STREAM = 4;
/** The most tenants `--tenants` runs at once (each has a token, a Graph budget and a producer per stream). */
const MAX_TENANTS = 20;
/**
 * The tenants of `--tenants`, the main one first: each its name and its call rates as a multiple of
 * the main tenant's (--calls-per-hour, --live-calls-per-hour), so that their lines differ.
 */
const DEMO_TENANTS: ReadonlyArray<readonly [name: string, rate: number]> = [
  ["Contoso", 1],
  ["Fabrikam", 0.5],
  ["Northwind", 2],
  ["Tailspin", 0.25],
  ["Woodgrove", 1.5],
  ["Adatum", 0.75],
  ["Litware", 3],
  ["Proseware", 0.1],
  ["Wingtip", 1.25],
  ["Relecloud", 0.4],
];

/** One tenant the demo simulates and reads. */
interface DemoTenant {
  /** Its id; the main tenant's is the simulator's own (undefined here). */
  id: string | undefined;
  name: string;
  /** Its call rates as a multiple of the main tenant's. */
  rate: number;
}

/** The first `count` tenants of the demo's roster (past DEMO_TENANTS, its names again, numbered). */
export function demoTenants(count: number): DemoTenant[] {
  return Array.from({ length: count }, (_, i) => {
    const [base, rate] = DEMO_TENANTS[i % DEMO_TENANTS.length] as readonly [string, number];
    const round = Math.floor(i / DEMO_TENANTS.length);
    const name = round === 0 ? base : `${base} ${round + 1}`;
    return {
      id: i === 0 ? undefined : `${name.toLowerCase().replace(/ /g, "-")}.onmicrosoft.com`,
      name,
      rate,
    };
  });
}

const help = `Usage: pstn-connector demo [options]

The embedded default, end to end on this machine: starts the Graph simulator (HTTPS, Entra ID token
endpoint, and getPstnCalls, getDirectRoutingCalls and getSmsLog (beta) of one tenant, or of
--tenants, with late rows, throttling, 503s and token revocation), the local Kafka and schema
registry (unless KAFKA_BROKERS and SCHEMA_REGISTRY_URL are set), and the connector reading the three
streams (pstn, directRouting, sms; CONNECTOR_STREAMS chooses others) side by side, each into its own
topic. It shows, per stream, live progress and the latest events decoded from its topic, and the
Graph budget the streams share (requests in the last minute against GRAPH_MAX_REQUESTS_PER_MINUTE,
and 429s). Ctrl-C stops everything it started.

With --tenants <n> above 1, the simulator serves n tenants (Contoso, the main one, then Fabrikam,
Northwind, Tailspin, Woodgrove, ...), each with rows of its own at its own rate (0.5, 2, 0.25, 1.5
... times the main tenant's), and the connector reads them as production does: from a tenants file
(CONNECTOR_TENANTS_FILE, written in the demo's temporary folder; AZURE_TENANT_ID unset), each
tenant with its own token and Graph budget through the shared multi-tenant app, all of them
sharing each stream's topics. The view then shows a line per tenant (fetched, published,
duplicates, rows/s, Graph requests, requests in the last minute, 429s, the watermark of its
slowest stream and its lag), each stream's totals over the tenants, and the grand total; the
summary on stop adds a line per tenant.

Privacy: unless --no-privacy, the connector runs under a privacy policy (PRIVACY_POLICY_FILE,
written in the demo's temporary folder): each stream writes its topic raw and <topic>.siem, both in
the same transactions, where phone numbers are hashed with their country code left readable
(+44~k1:...), the UPN hashed, the display name dropped, public IP addresses cut to their network
and local ones dropped. The hashing key is 32 random bytes made for each run, handed to the
connector by reference (an environment variable of its configuration only), never written or
shown. The view shows one recent event raw next to the same event as the SIEM output wrote it,
both read back from Kafka (read_committed) and decoded with the registry's schema, a field per
line, with the records' pstn.policy.version and pstn.policy.key headers (when stdout is not a
terminal, the summary on stop shows it instead).

Options:
  --days <n>             history the simulated tenants have, read as a backfill first (default 100)
  --calls-per-hour <n>   the (main) tenant's PSTN call rate over its history (default 60); Direct
                         Routing calls come at a quarter of it, SMS at a tenth
  --live-calls-per-hour <n>  the (main) tenant's PSTN call rate from start-up on, arriving up to 20 s
                         late (default 1800); Direct Routing calls and SMS speed up by the same factor
  --tenants <n>          how many tenants to simulate and read at once, 1 to ${MAX_TENANTS} (default 1)
  --duration <seconds>   stop by itself after this long and print a summary (default: until Ctrl-C)
  --no-privacy           no privacy policy: each stream writes its one topic, rows as Graph sent them
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
      tenants: { type: "string" },
      "no-privacy": { type: "boolean" },
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
    const roster = demoTenants(parseIntegerOption("tenants", values.tenants, 1, MAX_TENANTS) ?? 1);
    const multi = roster.length > 1;
    const privacyOn = values["no-privacy"] !== true;
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
        // The other tenants: the same app (multi-tenant), faults and history, rows of their own.
        tenants: roster.slice(1).map((tenant) => ({
          tenantId: tenant.id as string,
          callsPerHour: callsPerHour * tenant.rate,
          live: { since: new Date(now), callsPerHour: liveCallsPerHour * tenant.rate },
        })),
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
      // Several tenants: a tenants file, as a fleet reads them; each through the shared app.
      const tenantsFile = join(workDir, "tenants.yaml");
      if (multi) {
        const tenants = roster.map((tenant) => ({ id: tenant.id ?? sim.tenantId, name: tenant.name }));
        await writeFile(
          tenantsFile,
          `# The demo's tenants (CONNECTOR_TENANTS_FILE): each read through the shared app, AZURE_CLIENT_ID.\n${stringify({ tenants })}`,
        );
      }
      const env: Record<string, string | undefined> = {
        ...process.env,
        ...(multi
          ? {
              AZURE_TENANT_ID: undefined,
              CONNECTOR_TENANTS_FILE: tenantsFile,
              // The view's lines per tenant read the tenant label.
              METRICS_TENANT_LABEL: "true",
            }
          : { AZURE_TENANT_ID: sim.tenantId, CONNECTOR_TENANTS_FILE: undefined }),
        AZURE_CLIENT_ID: sim.clientId,
        AZURE_CLIENT_SECRET: secret,
        AZURE_CLIENT_CERTIFICATE_PATH: "",
        AZURE_AUTHORITY_HOST: sim.url,
        GRAPH_ENDPOINT: sim.url,
        CONNECTOR_STREAMS: process.env.CONNECTOR_STREAMS ?? DEMO_STREAMS,
        KAFKA_BROKERS: brokers,
        SCHEMA_REGISTRY_URL: registryUrl,
        CONNECTOR_START: process.env.CONNECTOR_START ?? `${days}d`,
        POLL_INTERVAL: process.env.POLL_INTERVAL ?? "5s",
        LOOKBACK: process.env.LOOKBACK ?? "2m",
        WINDOW_SLICE: process.env.WINDOW_SLICE ?? "30d",
        // The demo's own policy below, or (--no-privacy) none.
        PRIVACY_POLICY_FILE: undefined,
        [DEMO_KEY_VARIABLE]: undefined,
      };
      let config = loadConfig({ env });
      let privacy: PrivacyView | undefined;
      if (privacyOn) {
        // The streams' topics as configured (KAFKA_TOPIC, ...), each with its `.siem` beside it. The
        // key is in the configuration's environment only: not in this process's, a file or a log.
        const policyFile = join(workDir, "privacy-policy.json");
        const version = demoPolicyVersion(now);
        const topics = Object.fromEntries(
          Object.entries(config.kafka.topics).map(([stream, { data }]) => [stream, data]),
        ) as Record<StreamName, string>;
        await writeFile(policyFile, demoPolicy(version, topics));
        config = loadConfig({
          env: { ...env, PRIVACY_POLICY_FILE: policyFile, [DEMO_KEY_VARIABLE]: demoKey() },
        });
        privacy = { file: policyFile, version, keyId: DEMO_KEY_ID };
      }
      const logger = createLogger(
        config.logLevel,
        pino.destination({ dest: logFile, sync: false, mkdir: true }),
      );
      // Not slotted, even with the tenants file: this one process reads every unit, so the slots
      // (which share the units out among replicas) would only add a slots topic and a consumer
      // group to join per run; each unit has its own producer and session, as with backfill.
      const app = createApp(config, { extraCaPem: sim.caCertificatePem, logger });
      cleanups.push(() => app.close());
      const server = await startMetricsServer(
        app.metrics,
        app.health,
        config.metricsPort,
        config.metricsHost,
      ).catch(() => undefined);
      if (server) cleanups.push(() => server.close());

      let events: DemoEvent[] = [];
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

      // Topics and schemas first (a failure here is retried by run), so that the tail finds them.
      await Promise.all(app.sources.map((source) => source.prepare().catch(() => undefined)));
      const runningSince = Date.now();
      // Every stream runs until stop; one that ends with an error stops the others too.
      const running = Promise.allSettled(
        app.sources.map((source) =>
          source.run(stop.signal).catch((error: unknown) => {
            stop.abort();
            throw error;
          }),
        ),
      );

      /**
       * Each topic the tail reads: each stream's first output (its raw topic), and under the demo's
       * policy its second (`.siem`), whose records are paired with the raw ones of the same rows.
       */
      const streamOfTopic = new Map<
        string,
        { name: string; schema: object; side: "raw" | "siem"; siem?: string }
      >();
      for (const source of app.sources) {
        const [raw, siem] = source.unit.topics.outputs as [string, string | undefined];
        const stream = {
          name: source.unit.stream.name,
          schema: rowSchema(source.unit.stream.schemaFile).schema,
        };
        streamOfTopic.set(raw, { ...stream, side: "raw", ...(privacy && siem ? { siem } : {}) });
        if (privacy && siem) streamOfTopic.set(siem, { ...stream, side: "siem" });
      }
      const schemaOf = new Map([...streamOfTopic.values()].map(({ name, schema }) => [name, schema]));
      const decodeRow = async (stream: string, value: Buffer): Promise<Record<string, unknown>> =>
        decodedToGraphJson(
          (await app.registry.decode(value)) as Record<string, unknown>,
          schemaOf.get(stream),
        );
      const pairs = new PairTracker({ decode: decodeRow });
      const messages = await tail.consume({
        topics: [...streamOfTopic.keys()],
        mode: MessagesStreamModes.LATEST,
      });
      const tenantNames = new Map(app.tenants.map(({ tenant }) => [tenant.tenantId, tenant.name]));
      /** The name of a record's tenant, from its header, when several tenants share the topics. */
      const tenantOf = (headers: ReadonlyMap<unknown, unknown> | undefined): string | undefined => {
        if (!multi || headers === undefined) return undefined;
        for (const [key, value] of headers) {
          if (String(key) !== TENANT_HEADER) continue;
          const id = String(value);
          return tenantNames.get(id) ?? id;
        }
        return undefined;
      };
      const show = async (message: {
        topic: string;
        key?: Buffer | undefined;
        value?: Buffer | undefined;
        headers?: ReadonlyMap<unknown, unknown> | undefined;
      }): Promise<void> => {
        const { topic, value } = message;
        const stream = streamOfTopic.get(topic);
        if (!stream || !value || value.length === 0) return;
        const tenant = tenantOf(message.headers);
        const record = {
          stream: stream.name,
          ...(tenant === undefined ? {} : { tenant }),
          topic,
          key: message.key?.toString() ?? "",
          headers: policyHeaders(message.headers),
        };
        if (stream.side === "siem") return pairs.siem(record, value, Date.now());
        const row = await decodeRow(stream.name, value);
        const event = eventOf(stream.name, row);
        if (event)
          events = withEvent(events, tenant === undefined ? event : { ...event, tenant }, EVENTS_PER_STREAM);
        if (stream.siem !== undefined) await pairs.raw(record, row, Date.now());
      };
      messages.on("data", (message) => void show(message).catch(() => undefined));

      const header = `pstn-connector demo: Graph simulator ${sim.url} -> Kafka ${brokers} (registry ${registryUrl})`;
      // Each stream's topic once: the tenants share them.
      const topics = [...streamOfTopic]
        .filter(([, { side }]) => side === "raw")
        .map(([topic, { name, siem }]) => ({ stream: name, topic, ...(siem ? { siem } : {}) }));
      const streamOrder = topics.map(({ stream }) => stream);
      /** The privacy section's state now: the policy and the latest pair. */
      const privacyNow = (): PrivacyView | undefined => {
        if (!privacy) return undefined;
        const pair = pairs.latest(streamOrder);
        return pair ? { ...privacy, pair } : privacy;
      };
      const maxRequestsPerMinute = config.graph.maxRequestsPerMinute;
      const tty = process.stdout.isTTY === true;
      let last = {
        at: Date.now(),
        fetched: new Map(app.sources.map((source) => [source, source.stats.fetched])),
      };
      /** Graph requests so far, all streams, over the last minute: the shared budget's use. */
      const requestSamples = [{ at: runningSince, total: 0 }];
      /** The same per tenant, with several: each tenant has a budget of its own. */
      const tenantSamples = new Map(
        app.tenants.map(({ tenant }) => [tenant.tenantId, [{ at: runningSince, total: 0 }]]),
      );
      /** One source's line: its progress, and its stream's counters (its tenant's, with several). */
      const streamView = (source: Source, counters: Counters, at: number): StreamView => {
        const name = source.unit.stream.name;
        const progress = source.stats;
        const stream = multi ? counters.tenants[source.unit.tenantId]?.streams[name] : counters.streams[name];
        const before = last.fetched.get(source) ?? 0;
        return {
          name,
          progress,
          rowsPerSecond: ((progress.fetched - before) * 1000) / Math.max(1, at - last.at),
          graphRequests: stream?.graphRequests ?? 0,
          throttled: stream?.throttled ?? 0,
        };
      };
      const tenantViews = (counters: Counters, at: number): TenantView[] =>
        app.tenants.map(({ tenant, sources }) => ({
          name: tenant.name,
          tenantId: tenant.tenantId,
          streams: sources.map((source) => streamView(source, counters, at)),
          requestsLastMinute: inLastMinute(tenantSamples.get(tenant.tenantId) ?? [], at),
        }));
      let lastPrint = 0;
      const paint = async () => {
        const at = Date.now();
        const counters = await readCounters(app.metrics);
        requestSamples.push({ at, total: counters.graphRequests });
        // The newest sample a minute old stays: the minute's requests are counted from it.
        while ((requestSamples[1]?.at ?? at) <= at - 60_000) requestSamples.shift();
        for (const [id, samples] of tenantSamples) {
          samples.push({ at, total: counters.tenants[id]?.graphRequests ?? 0 });
          while ((samples[1]?.at ?? at) <= at - 60_000) samples.shift();
        }
        const tenants = multi ? tenantViews(counters, at) : undefined;
        const streams: StreamView[] = tenants
          ? streamTotals(tenants)
          : app.sources.map((source) => streamView(source, counters, at));
        last = { at, fetched: new Map(app.sources.map((source) => [source, source.stats.fetched])) };
        const budget = {
          requestsLastMinute: inLastMinute(requestSamples, at),
          maxRequestsPerMinute,
          graphByCode: counters.graphByCode,
          throttled: counters.throttled,
        };
        if (tty) {
          const shownPrivacy = privacyNow();
          const lines = renderView({
            header,
            topics,
            streams,
            budget,
            tokensIssued: counters.tokensIssued,
            unknownProperties: counters.unknownProperties,
            ...(tenants ? { tenants, tenantsFile } : {}),
            events,
            ...(shownPrivacy ? { privacy: shownPrivacy } : {}),
            now: at,
            logFile,
          });
          process.stdout.write(`\x1b[H\x1b[2J${lines.join("\n")}\n`);
        } else if (at - lastPrint >= 5000) {
          lastPrint = at;
          process.stdout.write(
            `${tenants ? renderTenantsProgressLine({ tenants, budget }) : renderProgressLine({ streams, budget })}\n`,
          );
        }
      };
      while (!stop.signal.aborted) {
        await paint();
        await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
      }
      const failed = (await running).find((result) => result.status === "rejected");
      if (failed) throw failed.reason;
      const counters = await readCounters(app.metrics);
      const at = Date.now();
      const tenants = multi ? tenantViews(counters, at) : undefined;
      const summary = renderSummary({
        streams: tenants
          ? streamTotals(tenants)
          : app.sources.map((source) => ({ name: source.unit.stream.name, progress: source.stats })),
        graphByCode: counters.graphByCode,
        logFile,
      });
      process.stdout.write(`${summary}\n`);
      if (tenants) process.stdout.write(`${renderTenantsSummary(tenants, at).join("\n")}\n`);
      // Not a terminal: the raw and SIEM records of one row side by side, as the view shows them.
      const shown = tty ? undefined : privacyNow();
      if (shown) {
        const [first = "", ...rest] = renderPrivacy(shown);
        process.stdout.write(`demo: ${first.trim()}\n${rest.join("\n")}\n`);
      }
      return 0;
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      shutdown.dispose();
    }
  },
};
