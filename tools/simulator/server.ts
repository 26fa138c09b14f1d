/**
 * The simulator's HTTPS server on 127.0.0.1: routes to the Entra ID endpoints, the Graph endpoint
 * and the ground-truth endpoints under `/_sim/` (`/_sim/visible?stream=pstn|directRouting|sms`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import {
  instanceDiscovery,
  isKnownTenant,
  openIdConfiguration,
  tokenEndpoint,
  unknownTenant,
} from "./auth.js";
import { generateServerCertificate, registerCertificate, type ServerCertificate } from "./certificates.js";
import type { SimulatorContext, SimulatorStats } from "./context.js";
import { type LoggedRequest, tokenLatency } from "./faults.js";
import { handleGraph } from "./graph.js";
import { type HostileOptions, validateHostile } from "./hostile.js";
import { sendJson } from "./http.js";
import {
  type ResolvedOptions,
  resolveOptions,
  type SimulatorFaults,
  type SimulatorOptions,
  validateFaults,
} from "./options.js";
import { hash, Random } from "./random.js";
import type { RowFaultRates } from "./row-faults.js";
import type { SimulatedRow } from "./rows.js";
import { type RowKind, RowStore } from "./store.js";
import {
  type GraphVersion,
  STREAM_NAMES,
  STREAMS,
  type StreamName,
  type StreamRows,
  type StreamStores,
} from "./streams.js";
import { type Instant, parseInstant } from "./time.js";
import { KafkaTokenIssuer, TokenStore } from "./tokens.js";

export type { GraphVersion } from "./streams.js";

/** Ground truth of one stream, exactly as its function serves its rows. */
export interface StreamTruth<R> {
  /**
   * Every row visible now that started within [from, to] (each bound optional; `to` excluded where
   * the function excludes it: getDirectRoutingCalls), as served, sorted by start then id. Beta's
   * shape by default; with "v1.0" as v1.0 serves them (none for getSmsLog, which v1.0 lacks).
   */
  visibleRows(from?: Date, to?: Date, version?: GraphVersion): R[];
  /**
   * Every row that will ever exist within [from, to], visible yet or not. Needs an end: `to` or
   * the option `dataEnd`.
   */
  allRows(from?: Date, to?: Date, version?: GraphVersion): R[];
}

/** The ground truth of each stream, its rows typed. */
export type StreamTruths = { readonly [N in StreamName]: StreamTruth<StreamRows[N]> };

export interface GraphSimulator {
  /** `https://127.0.0.1:<port>`: both the authority host and the Graph endpoint. */
  readonly url: string;
  /** The port it listens on (the one in `url` unless a public URL was given). */
  readonly port: number;
  /** The server's self-signed certificate: trust it explicitly or through NODE_EXTRA_CA_CERTS. */
  readonly caCertificatePem: string;
  readonly tenantId: string;
  readonly clientId: string;
  /**
   * Ground truth: every row visible now that started within [from, to] (inclusive, each bound
   * optional), exactly as served, sorted by start then id. Beta's shape by default; with "v1.0"
   * without `administrativeUnitInfos`, as v1.0 serves them.
   */
  visibleRows(from?: Date, to?: Date, version?: GraphVersion): SimulatedRow[];
  /**
   * Every row that will ever exist within [from, to], visible yet or not (for tests that wait until
   * all are visible). Needs an end: `to` or the option `dataEnd`.
   */
  allRows(from?: Date, to?: Date, version?: GraphVersion): SimulatedRow[];
  /**
   * The same for each stream: `streams.pstn` (what `visibleRows`/`allRows` give),
   * `streams.directRouting`, `streams.sms`.
   */
  readonly streams: StreamTruths;
  stats(): SimulatorStats;
  /** Every Graph request so far, with the option recordRequests (else empty). */
  requestLog(): LoggedRequest[];
  /** Every token issued so far becomes invalid (Graph answers 401 InvalidAuthenticationToken). */
  revokeTokens(): void;
  /**
   * Replaces the faults (none when undefined) from the next request on (a response already
   * stalled finishes its stall); e.g. `{ serverErrorRate: 1 }` starts a 5xx storm, `{}` ends it.
   */
  setFaults(faults: SimulatorOptions["faults"]): void;
  /** Replaces the hostile modes (none when undefined) from the next request on. */
  setHostile(hostile: HostileOptions | undefined): void;
  close(): Promise<void>;
}

let defaultCertificate: Promise<ServerCertificate> | undefined;

/** One certificate per process for simulators that bring none: trusted once, it serves them all. */
function serverCertificate(options: SimulatorOptions): Promise<ServerCertificate> {
  if (options.serverCertificate) return Promise.resolve(options.serverCertificate);
  const publicHost = options.publicUrl ? new URL(options.publicUrl).hostname : undefined;
  if (publicHost && publicHost !== "127.0.0.1" && publicHost !== "localhost") {
    return generateServerCertificate(publicHost);
  }
  defaultCertificate ??= generateServerCertificate().catch((error: unknown) => {
    defaultCertificate = undefined;
    throw error;
  });
  return defaultCertificate;
}

function rowFaults(faults: SimulatorFaults): RowFaultRates {
  return {
    extraPropertyRate: faults.extraPropertyRate ?? 0,
    malformedRowRate: faults.malformedRowRate ?? 0,
    oversizedChargeRate: faults.oversizedChargeRate ?? 0,
    overlongIdRate: faults.overlongIdRate ?? 0,
    misplacedStartRate: faults.misplacedStartRate ?? 0,
  };
}

function bound(date: Date | undefined, fallback: number): Instant {
  const ms = date === undefined ? fallback : date.getTime();
  if (Number.isNaN(ms)) throw new RangeError("not a valid Date");
  return { ms, sub: 0 };
}

/** The live phase of a stream: faster by the factor PSTN's live phase is. */
function streamLive(options: ResolvedOptions, rate: number): ResolvedOptions["live"] {
  const live = options.live;
  if (live === undefined) return undefined;
  const factor = options.callsPerHour > 0 ? live.callsPerHour / options.callsPerHour : 1;
  return { sinceMs: live.sinceMs, callsPerHour: rate * factor };
}

function streamStore<N extends StreamName>(
  name: N,
  options: ResolvedOptions,
  faults: RowFaultRates,
): RowStore<StreamRows[N]> {
  const stream = STREAMS[name];
  const rate = options.streamRates[name];
  return new RowStore(
    {
      seed: options.seed,
      callsPerHour: rate,
      // PSTN's live phase as given (its rate is not rescaled, so its rows stay exactly what they were).
      live: name === "pstn" ? options.live : streamLive(options, rate),
      toInclusive: stream.toInclusive,
      dataStartMs: options.dataStartMs,
      dataEndMs: options.dataEndMs,
      visibilityDelayMs: options.visibilityDelayMs,
    },
    stream.kind as RowKind<StreamRows[N]>,
    faults,
  );
}

function createStores(options: ResolvedOptions, faults: RowFaultRates): StreamStores {
  return {
    pstn: streamStore("pstn", options, faults),
    directRouting: streamStore("directRouting", options, faults),
    sms: streamStore("sms", options, faults),
  };
}

function isStreamName(name: string): name is StreamName {
  return (STREAM_NAMES as string[]).includes(name);
}

/** The ground truth of stream `name` (a version that lacks its function serves no rows). */
function truth<N extends StreamName>(ctx: SimulatorContext, name: N): StreamTruth<StreamRows[N]> {
  const { options } = ctx;
  const store = ctx.stores[name] as RowStore<StreamRows[N]>;
  const served = (version: GraphVersion) => STREAMS[name].versions.includes(version);
  return {
    visibleRows: (from, to, version = "beta") =>
      served(version)
        ? store.rows(
            bound(from, options.dataStartMs),
            bound(to, Number.POSITIVE_INFINITY),
            options.now(),
            version === "beta",
          )
        : [],
    allRows: (from, to, version = "beta") =>
      served(version)
        ? store.rows(
            bound(from, options.dataStartMs),
            bound(to, options.dataEndMs),
            undefined,
            version === "beta",
            // Open to the end of the data: a row at the very end belongs, whatever the window's rule.
            to === undefined ? true : undefined,
          )
        : [],
  };
}

function snapshot(stats: SimulatorStats): SimulatorStats {
  return { ...stats, byStatus: { ...stats.byStatus }, faultsInjected: { ...stats.faultsInjected } };
}

function groundTruth(ctx: SimulatorContext, res: ServerResponse, url: URL): void {
  if (url.pathname === "/_sim/stats") {
    sendJson(res, 200, snapshot(ctx.stats));
    return;
  }
  const fromText = url.searchParams.get("from");
  const toText = url.searchParams.get("to");
  const from = fromText ? parseInstant(fromText) : { ms: ctx.options.dataStartMs, sub: 0 };
  const to = toText ? parseInstant(toText) : { ms: Number.POSITIVE_INFINITY, sub: 0 };
  if (!from || !to) {
    sendJson(res, 400, { error: { code: "BadRequest", message: "from and to must be ISO-8601 instants" } });
    return;
  }
  const name = url.searchParams.get("stream") ?? "pstn";
  if (!isStreamName(name)) {
    sendJson(res, 400, {
      error: { code: "BadRequest", message: `stream must be one of ${STREAM_NAMES.join(", ")}` },
    });
    return;
  }
  const version: GraphVersion = url.searchParams.get("version") === "v1.0" ? "v1.0" : "beta";
  const rows = STREAMS[name].versions.includes(version)
    ? ctx.stores[name].rows(from, to, ctx.options.now(), version === "beta")
    : [];
  sendJson(res, 200, rows);
}

async function route(ctx: SimulatorContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", ctx.url);
  const path = url.pathname;
  if (/^\/(v1\.0|beta)\//i.test(path)) {
    handleGraph(ctx, req, res);
    return;
  }
  if (path === "/_sim/visible" || path === "/_sim/stats") {
    groundTruth(ctx, res, url);
    return;
  }
  if (/^\/[^/]+\/discovery\/instance$/.test(path)) {
    instanceDiscovery(ctx, res);
    return;
  }
  const tenantPath =
    /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|\.well-known\/openid-configuration|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys)$/.exec(
      path,
    );
  if (tenantPath) {
    const tenant = decodeURIComponent(tenantPath[1] as string);
    const endpoint = tenantPath[2] as string;
    if (endpoint === "oauth2/v2.0/token") {
      if (req.method !== "POST") {
        sendJson(res, 405, { error: "invalid_request", error_description: "The token endpoint takes POST." });
        return;
      }
      await tokenLatency(ctx);
      await tokenEndpoint(ctx, req, res, tenant);
    } else if (!isKnownTenant(ctx, tenant)) {
      unknownTenant(ctx, res, tenant);
    } else if (endpoint === "discovery/v2.0/keys") {
      sendJson(res, 200, { keys: ctx.kafkaTokens ? [ctx.kafkaTokens.jwk()] : [] });
    } else {
      openIdConfiguration(ctx, res, tenant);
    }
    return;
  }
  sendJson(res, 404, { error: { code: "ResourceNotFound", message: `No resource at '${path}'.` } });
}

export async function startGraphSimulator(options: SimulatorOptions): Promise<GraphSimulator> {
  const resolved = resolveOptions(options);
  const faults = validateFaults(options.faults);
  const tls = await serverCertificate(options);
  const tokens = new TokenStore(resolved.now);
  const ctx: SimulatorContext = {
    options: resolved,
    url: "",
    faults,
    hostile: validateHostile(options.hostile),
    stores: createStores(resolved, rowFaults(faults)),
    tokens,
    kafkaTokens: resolved.kafkaTokens ? new KafkaTokenIssuer(resolved.kafkaTokens, resolved.now) : undefined,
    certificate: resolved.clientCertificatePem
      ? registerCertificate(resolved.clientCertificatePem)
      : undefined,
    faultRandom: new Random(hash(resolved.seed, 0xfa17)),
    pageCache: new Map(),
    stats: {
      graphRequests: 0,
      byStatus: {},
      tokenRequests: 0,
      tokensIssued: 0,
      throttled: 0,
      retryAfterViolations: 0,
      rowsServed: 0,
      pagesFromCache: 0,
      hostileBytesWritten: 0,
      faultsInjected: { serverError: 0, truncated: 0, reset: 0, stall: 0, hostile: 0 },
    },
    retryAfterUntil: new Map(),
    budgetWindows: new Map(),
    unavailableCount: 0,
    serverErrorCount: 0,
    stallCount: 0,
    timers: new Set(),
    requestLog: [],
  };

  const server = createServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, (req, res) => {
    route(ctx, req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      sendJson(res, 500, { error: { code: "InternalServerError", message: `simulator: ${message}` } });
    });
  });
  server.on("tlsClientError", () => undefined);
  // Every connection, handshaking or not, so that close() ends stalled responses at once.
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(resolved.port, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  ctx.url =
    options.publicUrl?.replace(/\/+$/, "") ?? `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const streams: StreamTruths = {
    pstn: truth(ctx, "pstn"),
    directRouting: truth(ctx, "directRouting"),
    sms: truth(ctx, "sms"),
  };
  const pstn = streams.pstn;
  let closed: Promise<void> | undefined;
  return {
    url: ctx.url,
    port: (server.address() as AddressInfo).port,
    caCertificatePem: tls.certificatePem,
    tenantId: resolved.tenantId,
    clientId: resolved.clientId,
    visibleRows: (from, to, version) => pstn.visibleRows(from, to, version),
    allRows: (from, to, version) => pstn.allRows(from, to, version),
    streams,
    stats: () => snapshot(ctx.stats),
    requestLog: () => ctx.requestLog.map((entry) => ({ ...entry })),
    revokeTokens: () => tokens.revokeAll(),
    setFaults: (next) => {
      ctx.faults = validateFaults(next);
      for (const name of STREAM_NAMES) ctx.stores[name].setRowFaults(rowFaults(ctx.faults));
    },
    setHostile: (next) => {
      ctx.hostile = validateHostile(next);
    },
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const timer of ctx.timers) clearTimeout(timer);
        ctx.timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closed;
    },
  };
}
