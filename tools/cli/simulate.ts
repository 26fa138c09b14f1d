import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { type Command, parseCommandArgs, parseIntegerOption } from "../../src/cli/command.js";
import { shutdownSignal } from "../../src/cli/runtime.js";
import { parseDuration } from "../../src/config/index.js";
import { ErrorCode, PstnError } from "../../src/errors.js";
import { startGraphSimulator } from "../simulator/index.js";
import { stackCacheDir } from "../stack/paths.js";

const help = `Usage: pstn-connector simulate [options]

Runs the Graph simulator alone: an HTTPS server on 127.0.0.1 playing Entra ID (OIDC metadata and
the token endpoint, client secret or certificate) and Graph's getPstnCalls (v1.0 and beta), with
deterministic rows, late rows, $skip paging, the 90-day 400, throttling, 503s and token revocation.
Prints the connector's settings for it on stdout (source them), then serves until Ctrl-C.

Data:
  --port <port>                 listen port (default 8443; 0 picks a free one)
  --host <address>              listen address (default 127.0.0.1; 0.0.0.0 in a container)
  --public-url <url>            the URL clients use, if not https://127.0.0.1:<port>
                                (e.g. https://simulator:8443 in docker-compose)
  --seed <n>                    rows are a pure function of the seed (default 1)
  --history <duration>          how far back calls exist, e.g. 100d (default 30d)
  --calls-per-hour <n>          call rate of the history (default 120)
  --live-calls-per-hour <n>     call rate from start-up on (default: the history's)
  --late <duration>             rows become visible up to this long after they start (default 0s)
  --page-size <n>               rows per page (default 1000)
  --tenants <n>                 serve n tenants (default 1): the main one and tenant-2.example.com
                                ... tenant-<n>.example.com, each its own rows and budget, all
                                sharing the app's credentials (a multi-tenant app)
Credentials:
  --client-secret <text>        the app's secret (default: a random one, printed)
  --client-certificate <file>   also accept assertions signed by this PEM certificate's key
Faults:
  --throttle-rate <p>           probability of 429 (default 0)
  --retry-after <seconds>       Retry-After on 429 and some 503s (default 1)
  --retry-after-date            send Retry-After as an HTTP-date
  --unavailable-rate <p>        probability of 503 (default 0)
  --budget <n>                  requests a minute before 429s (Graph: about 200; default none)
  --revoke-every <n>            every n requests, revoke all tokens early (default never)
  --extra-property-rate <p>     rows carrying a property Graph does not document yet (default 0)
  --malformed-rate <p>          malformed rows (default 0)
  --oversized-charge-rate <p>   charges too large for decimal(38,12) (default 0)
  --latency <min-max>           page latency in ms, e.g. 300-800 (default 0)
  --ca-out <file>               where to write the server's CA certificate
                                (default <cache>/simulator-ca.pem)
  -h, --help                    this help
`;

export const simulateCommand: Command = {
  name: "simulate",
  summary: "run the Graph simulator alone (token endpoint + call-log functions)",
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      port: { type: "string" },
      host: { type: "string" },
      "public-url": { type: "string" },
      seed: { type: "string" },
      history: { type: "string" },
      "calls-per-hour": { type: "string" },
      "live-calls-per-hour": { type: "string" },
      late: { type: "string" },
      "page-size": { type: "string" },
      tenants: { type: "string" },
      "client-secret": { type: "string" },
      "client-certificate": { type: "string" },
      "throttle-rate": { type: "string" },
      "retry-after": { type: "string" },
      "retry-after-date": { type: "boolean" },
      "unavailable-rate": { type: "string" },
      budget: { type: "string" },
      "revoke-every": { type: "string" },
      "extra-property-rate": { type: "string" },
      "malformed-rate": { type: "string" },
      "oversized-charge-rate": { type: "string" },
      latency: { type: "string" },
      "ca-out": { type: "string" },
    });
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    if (positionals.length > 0)
      throw new PstnError(ErrorCode.USAGE, `unexpected argument: ${positionals.join(" ")}`);
    const now = Date.now();
    const historyMs = durationOption("history", values.history) ?? 30 * 86_400_000;
    const lateMs = durationOption("late", values.late) ?? 0;
    const callsPerHour = parseIntegerOption("calls-per-hour", values["calls-per-hour"], 0, 10_000_000) ?? 120;
    const liveCallsPerHour = parseIntegerOption(
      "live-calls-per-hour",
      values["live-calls-per-hour"],
      0,
      10_000_000,
    );
    const budget = parseIntegerOption("budget", values.budget, 1, 1_000_000);
    const tenantCount = parseIntegerOption("tenants", values.tenants, 1, 100_000) ?? 1;
    const secret = values["client-secret"] ?? randomBytes(18).toString("base64url");
    const certificate = values["client-certificate"]
      ? await readFile(resolve(values["client-certificate"]), "utf8")
      : undefined;
    const sim = await startGraphSimulator({
      seed: parseIntegerOption("seed", values.seed, 0, 2 ** 32 - 1) ?? 1,
      port: parseIntegerOption("port", values.port, 0, 65_535) ?? 8443,
      host: values.host,
      publicUrl: values["public-url"],
      clientSecret: secret,
      clientCertificatePem: certificate,
      dataStart: new Date(now - historyMs),
      callsPerHour,
      ...(liveCallsPerHour === undefined
        ? {}
        : { live: { since: new Date(now), callsPerHour: liveCallsPerHour } }),
      visibilityDelayMs: { min: 0, max: lateMs },
      pageSize: parseIntegerOption("page-size", values["page-size"], 1, 100_000) ?? 1000,
      tenants: Array.from({ length: tenantCount - 1 }, (_, i) => ({
        tenantId: `tenant-${i + 2}.example.com`,
      })),
      faults: {
        throttleRate: rateOption("throttle-rate", values["throttle-rate"]),
        retryAfterSeconds: parseIntegerOption("retry-after", values["retry-after"], 0, 3600) ?? 1,
        retryAfterHttpDate: values["retry-after-date"] ?? false,
        unavailableRate: rateOption("unavailable-rate", values["unavailable-rate"]),
        ...(budget ? { budget: { requests: budget, perMs: 60_000 } } : {}),
        revokeTokensEveryRequests: parseIntegerOption(
          "revoke-every",
          values["revoke-every"],
          1,
          1_000_000_000,
        ),
        extraPropertyRate: rateOption("extra-property-rate", values["extra-property-rate"]),
        malformedRowRate: rateOption("malformed-rate", values["malformed-rate"]),
        oversizedChargeRate: rateOption("oversized-charge-rate", values["oversized-charge-rate"]),
        ...(values.latency ? { pageLatencyMs: latencyOption(values.latency) } : {}),
      },
    });
    const caFile = resolve(values["ca-out"] ?? `${stackCacheDir()}/simulator-ca.pem`);
    await mkdir(dirname(caFile), { recursive: true });
    await writeFile(caFile, sim.caCertificatePem);
    process.stdout.write(
      [
        `AZURE_TENANT_ID=${sim.tenantId}`,
        `AZURE_CLIENT_ID=${sim.clientId}`,
        `AZURE_CLIENT_SECRET=${secret}`,
        `AZURE_AUTHORITY_HOST=${sim.url}`,
        `GRAPH_ENDPOINT=${sim.url}`,
        `NODE_EXTRA_CA_CERTS=${caFile}`,
        "",
      ].join("\n"),
    );
    if (tenantCount > 1) {
      const extra = sim.tenants().slice(1);
      const shown =
        extra.length > 3 ? `${extra.slice(0, 2).join(", ")} ... ${extra.at(-1)}` : extra.join(", ");
      process.stderr.write(
        `simulate: ${tenantCount} tenants: ${sim.tenantId} (AZURE_TENANT_ID) and ${shown}, same app and secret; ground truth per tenant: ?tenant=<id>\n`,
      );
    }
    process.stderr.write(
      `simulate: serving ${sim.url} (ground truth: ${sim.url}/_sim/visible, ${sim.url}/_sim/stats); Ctrl-C stops\n`,
    );
    const shutdown = shutdownSignal();
    await new Promise<void>((resolvePromise) =>
      shutdown.signal.addEventListener("abort", () => resolvePromise(), { once: true }),
    );
    shutdown.dispose();
    await sim.close();
    process.stderr.write(`simulate: stopped; ${JSON.stringify(sim.totalStats())}\n`);
    return 0;
  },
};

function durationOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new PstnError(ErrorCode.USAGE, `--${name}: "${value}" is not a duration; use e.g. 30d, 2h or PT5M`);
  return ms;
}

function rateOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const rate = Number(value);
  if (!(value.trim() !== "" && rate >= 0 && rate <= 1)) {
    throw new PstnError(ErrorCode.USAGE, `--${name}: "${value}" is not a probability from 0 to 1`);
  }
  return rate;
}

function latencyOption(value: string): { min: number; max: number } {
  const match = /^(\d+)(?:-(\d+))?$/.exec(value.trim());
  if (!match) throw new PstnError(ErrorCode.USAGE, `--latency: "${value}" is not <ms> or <min>-<max> ms`);
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  if (max < min) throw new PstnError(ErrorCode.USAGE, `--latency: ${max} is below ${min}`);
  return { min, max };
}
