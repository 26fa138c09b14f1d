/**
 * The simulator's HTTPS server on 127.0.0.1: routes to the Entra ID endpoints, the Graph endpoint
 * and the ground-truth endpoints under `/_sim/` (`/_sim/visible?stream=pstn|directRouting|sms`,
 * `&tenant=<id>` for a tenant other than the main one). Each tenant (the main one and the option
 * `tenants`) is a SimulatorContext of its own; a Graph request goes to its token's tenant.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { ErrorCode, PstnError } from "../../src/errors.js";
import { instanceDiscovery, knownTenant, openIdConfiguration, tokenEndpoint, unknownTenant } from "./auth.js";
import {
  generateServerCertificate,
  type RegisteredCertificate,
  registerCertificate,
  type ServerCertificate,
} from "./certificates.js";
import type { SharedContext, SimulatorContext, SimulatorStats } from "./context.js";
import { type LoggedRequest, tokenLatency } from "./faults.js";
import { handleGraph } from "./graph.js";
import { type HostileOptions, validateHostile } from "./hostile.js";
import { sendJson } from "./http.js";
import {
  type ResolvedOptions,
  resolveOptions,
  type SimulatorFaults,
  type SimulatorOptions,
  type TenantSimulation,
  tenantOptions,
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

/**
 * One simulated tenant, for the operator: its ground truth and stats, and what an admin (or
 * Microsoft) can do to it while a client reads it.
 */
export interface SimulatedTenant {
  /** As configured (Entra matches it without regard to case). */
  readonly tenantId: string;
  /** The app registered in it. */
  readonly clientId: string;
  /** The seed its rows are drawn from (derived from the top-level seed and its id unless given). */
  readonly seed: number;
  /** Ground truth of its getPstnCalls rows, as {@link GraphSimulator.visibleRows}. */
  visibleRows(from?: Date, to?: Date, version?: GraphVersion): SimulatedRow[];
  /** All its getPstnCalls rows, as {@link GraphSimulator.allRows}. */
  allRows(from?: Date, to?: Date, version?: GraphVersion): SimulatedRow[];
  /** Ground truth of each of its streams. */
  readonly streams: StreamTruths;
  /** Its own counts: requests attributed to it (by their token), its token requests, its faults. */
  stats(): SimulatorStats;
  /** Every token issued so far for this tenant becomes invalid (401); other tenants' stay valid. */
  revokeTokens(): void;
  /** Replaces this tenant's faults (its budget among them); from then on top-level setFaults leaves it alone. */
  setFaults(faults: SimulatorFaults | undefined): void;
  /**
   * An admin revokes the app's consent (CallRecords.Read.All): from now on Graph answers this
   * tenant's requests 403 Forbidden (Graph's error body, "Missing application roles"), while Entra
   * still issues tokens (without the role). Other tenants are not affected.
   */
  revokeConsent(): void;
  /** The admin grants consent again: the tenant's requests are served again, old tokens included. */
  restoreConsent(): void;
  /**
   * The tenant is deleted: from now on Entra answers for it as for a tenant that does not exist
   * (400 AADSTS90002, metadata included), and Graph answers its existing tokens 401
   * InvalidAuthenticationToken. Its ground truth and stats stay readable. For good, unless a
   * tenant of the same id is added again (addTenant), whose old tokens stay invalid.
   */
  remove(): void;
  readonly consentRevoked: boolean;
  readonly removed: boolean;
}

export interface GraphSimulator {
  /** `https://127.0.0.1:<port>`: both the authority host and the Graph endpoint. */
  readonly url: string;
  /** The port it listens on (the one in `url` unless a public URL was given). */
  readonly port: number;
  /** The server's self-signed certificate: trust it explicitly or through NODE_EXTRA_CA_CERTS. */
  readonly caCertificatePem: string;
  /** The main tenant (option `tenantId`): what the top-level ground truth and stats are about. */
  readonly tenantId: string;
  /** The main tenant's app. */
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
  /**
   * The main tenant's stats (with one tenant, every request's): the Graph requests attributed to
   * it (by their token; those without a token it can be told by, too) and the token requests for
   * it (and for tenants Entra does not know). {@link totalStats} sums every tenant's.
   */
  stats(): SimulatorStats;
  /** Every tenant's stats summed (removed tenants' included). */
  totalStats(): SimulatorStats;
  /** Every Graph request so far, with the option recordRequests (else empty), of every tenant. */
  requestLog(): LoggedRequest[];
  /**
   * Every token issued so far, of every tenant, becomes invalid (Graph answers 401
   * InvalidAuthenticationToken).
   */
  revokeTokens(): void;
  /**
   * Replaces the faults (none when undefined) from the next request on (a response already
   * stalled finishes its stall); e.g. `{ serverErrorRate: 1 }` starts a 5xx storm, `{}` ends it.
   * Applies to the main tenant and to every tenant that has no faults of its own (entry or
   * SimulatedTenant.setFaults).
   */
  setFaults(faults: SimulatorOptions["faults"]): void;
  /** The ids of the tenants served (removed ones left out), the main tenant's first. */
  tenants(): string[];
  /**
   * The tenant `tenantId` (any case; the main one too, removed ones too); throws a RangeError for
   * an id never served.
   */
  tenant(tenantId: string): SimulatedTenant;
  /**
   * A tenant onboarded while running (as an entry of the option `tenants`); replaces a removed
   * tenant of the same id, whose tokens stay invalid. Throws for a tenant served already.
   */
  addTenant(tenant: TenantSimulation): SimulatedTenant;
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

function emptyStats(): SimulatorStats {
  return {
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
  };
}

/** The sum of every tenant's stats. */
function totalStats(shared: SharedContext): SimulatorStats {
  const total = emptyStats();
  for (const { stats } of shared.tenants.values()) {
    for (const key of [
      "graphRequests",
      "tokenRequests",
      "tokensIssued",
      "throttled",
      "retryAfterViolations",
      "rowsServed",
      "pagesFromCache",
      "hostileBytesWritten",
    ] as const) {
      total[key] += stats[key];
    }
    for (const [status, count] of Object.entries(stats.byStatus)) {
      total.byStatus[status] = (total.byStatus[status] ?? 0) + count;
    }
    for (const kind of Object.keys(total.faultsInjected) as (keyof SimulatorStats["faultsInjected"])[]) {
      total.faultsInjected[kind] += stats.faultsInjected[kind];
    }
  }
  return total;
}

/** The ground-truth endpoints: `/_sim/visible` and `/_sim/stats`, of the main tenant or `?tenant=`. */
function groundTruth(shared: SharedContext, res: ServerResponse, url: URL): void {
  const tenant = url.searchParams.get("tenant");
  const ctx = tenant === null ? shared.main : shared.tenants.get(tenant.toLowerCase());
  if (ctx === undefined) {
    sendJson(res, 404, { error: { code: "ResourceNotFound", message: `No tenant '${tenant}'.` } });
    return;
  }
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

async function route(shared: SharedContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", shared.url);
  const path = url.pathname;
  if (/^\/(v1\.0|beta)\//i.test(path)) {
    handleGraph(shared, req, res);
    return;
  }
  if (path === "/_sim/visible" || path === "/_sim/stats") {
    groundTruth(shared, res, url);
    return;
  }
  if (/^\/[^/]+\/discovery\/instance$/.test(path)) {
    instanceDiscovery(shared.main, res, url);
    return;
  }
  const tenantPath =
    /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|\.well-known\/openid-configuration|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys)$/.exec(
      path,
    );
  if (tenantPath) {
    const tenant = decodeURIComponent(tenantPath[1] as string);
    const endpoint = tenantPath[2] as string;
    const ctx = knownTenant(shared, tenant);
    if (endpoint === "oauth2/v2.0/token") {
      if (req.method !== "POST") {
        sendJson(res, 405, { error: "invalid_request", error_description: "The token endpoint takes POST." });
        return;
      }
      await tokenLatency(ctx ?? shared.main);
      await tokenEndpoint(ctx ?? shared.main, req, res, tenant);
    } else if (ctx === undefined) {
      unknownTenant(shared.main, res, tenant);
    } else if (endpoint === "discovery/v2.0/keys") {
      sendJson(res, 200, { keys: ctx.kafkaTokens ? [ctx.kafkaTokens.jwk()] : [] });
    } else {
      openIdConfiguration(ctx, res);
    }
    return;
  }
  sendJson(res, 404, { error: { code: "ResourceNotFound", message: `No resource at '${path}'.` } });
}

/**
 * A tenant's state: its own options, rows, faults, budget and stats; the shared parts (URL, tokens,
 * timers, log, hostile modes) through `shared`. Its rows are drawn only when read.
 */
function createTenant(
  shared: SharedContext,
  options: SimulatorOptions,
  inheritsFaults: boolean,
  certificates: Map<string, RegisteredCertificate>,
): SimulatorContext {
  const resolved = resolveOptions(options);
  const faults = validateFaults(options.faults);
  const pem = resolved.clientCertificatePem;
  let certificate: RegisteredCertificate | undefined;
  if (pem !== undefined) {
    certificate = certificates.get(pem) ?? registerCertificate(pem);
    certificates.set(pem, certificate);
  }
  return {
    shared,
    options: resolved,
    key: resolved.tenantId.toLowerCase(),
    get url() {
      return shared.url;
    },
    faults,
    inheritsFaults,
    get hostile() {
      return shared.hostile;
    },
    stores: createStores(resolved, rowFaults(faults)),
    tokens: shared.tokens,
    kafkaTokens: shared.kafkaTokens,
    certificate,
    faultRandom: new Random(hash(resolved.seed, 0xfa17)),
    stats: emptyStats(),
    retryAfterUntil: new Map(),
    budgetWindows: new Map(),
    unavailableCount: 0,
    serverErrorCount: 0,
    stallCount: 0,
    pageCache: new Map(),
    timers: shared.timers,
    requestLog: shared.requestLog,
    consentRevoked: false,
    removed: false,
  };
}

function setTenantFaults(ctx: SimulatorContext, faults: SimulatorFaults | undefined): void {
  ctx.faults = validateFaults(faults);
  for (const name of STREAM_NAMES) ctx.stores[name].setRowFaults(rowFaults(ctx.faults));
}

function streamTruths(ctx: SimulatorContext): StreamTruths {
  return {
    pstn: truth(ctx, "pstn"),
    directRouting: truth(ctx, "directRouting"),
    sms: truth(ctx, "sms"),
  };
}

/** The operator's handle on a tenant. */
function tenantHandle(ctx: SimulatorContext): SimulatedTenant {
  const streams = streamTruths(ctx);
  return {
    tenantId: ctx.options.tenantId,
    clientId: ctx.options.clientId,
    seed: ctx.options.seed,
    visibleRows: (from, to, version) => streams.pstn.visibleRows(from, to, version),
    allRows: (from, to, version) => streams.pstn.allRows(from, to, version),
    streams,
    stats: () => snapshot(ctx.stats),
    revokeTokens: () => ctx.tokens.revokeTenant(ctx.key),
    setFaults: (faults) => {
      setTenantFaults(ctx, faults);
      ctx.inheritsFaults = false;
    },
    revokeConsent: () => {
      ctx.consentRevoked = true;
    },
    restoreConsent: () => {
      ctx.consentRevoked = false;
    },
    remove: () => {
      ctx.removed = true;
      ctx.tokens.revokeTenant(ctx.key);
    },
    get consentRevoked() {
      return ctx.consentRevoked;
    },
    get removed() {
      return ctx.removed;
    },
  };
}

/** Adds the tenant `entry` beside the main one; a removed tenant of the same id is replaced. */
function addTenant(
  shared: SharedContext,
  options: SimulatorOptions,
  entry: TenantSimulation,
  certificates: Map<string, RegisteredCertificate>,
): SimulatorContext {
  const { options: merged, ownFaults } = tenantOptions(options, entry);
  const key = entry.tenantId.toLowerCase();
  const existing = shared.tenants.get(key);
  if (existing !== undefined && !existing.removed) {
    throw new PstnError(ErrorCode.CONFIG_INVALID, `simulator: tenant '${entry.tenantId}' is served already`);
  }
  const ctx = createTenant(shared, merged, !ownFaults, certificates);
  shared.tenants.delete(key);
  shared.tenants.set(key, ctx);
  return ctx;
}

export async function startGraphSimulator(options: SimulatorOptions): Promise<GraphSimulator> {
  const resolved = resolveOptions(options);
  validateFaults(options.faults);
  const shared: SharedContext = {
    options: resolved,
    url: "",
    hostile: validateHostile(options.hostile),
    tokens: new TokenStore(resolved.now),
    kafkaTokens: resolved.kafkaTokens ? new KafkaTokenIssuer(resolved.kafkaTokens, resolved.now) : undefined,
    timers: new Set(),
    requestLog: [],
    tenants: new Map(),
    main: undefined as unknown as SimulatorContext,
  };
  const certificates = new Map<string, RegisteredCertificate>();
  const ctx = createTenant(shared, { ...options, tenants: undefined }, true, certificates);
  shared.main = ctx;
  shared.tenants.set(ctx.key, ctx);
  for (const entry of options.tenants ?? []) addTenant(shared, options, entry, certificates);
  const tls = await serverCertificate(options);

  const server = createServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, (req, res) => {
    route(shared, req, res).catch((error: unknown) => {
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
  shared.url =
    options.publicUrl?.replace(/\/+$/, "") ?? `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const main = tenantHandle(ctx);
  // The top-level faults as last set: what a tenant added later without faults of its own gets.
  let topFaults = options.faults;
  let closed: Promise<void> | undefined;
  return {
    url: shared.url,
    port: (server.address() as AddressInfo).port,
    caCertificatePem: tls.certificatePem,
    tenantId: resolved.tenantId,
    clientId: resolved.clientId,
    visibleRows: main.visibleRows,
    allRows: main.allRows,
    streams: main.streams,
    stats: main.stats,
    totalStats: () => totalStats(shared),
    requestLog: () => shared.requestLog.map((entry) => ({ ...entry })),
    revokeTokens: () => shared.tokens.revokeAll(),
    setFaults: (next) => {
      const faults = validateFaults(next);
      topFaults = faults;
      setTenantFaults(ctx, faults);
      for (const tenant of shared.tenants.values())
        if (tenant.inheritsFaults) setTenantFaults(tenant, faults);
    },
    setHostile: (next) => {
      shared.hostile = validateHostile(next);
    },
    tenants: () => [...shared.tenants.values()].filter((t) => !t.removed).map((t) => t.options.tenantId),
    tenant: (tenantId) => {
      const tenant = shared.tenants.get(tenantId.toLowerCase());
      if (tenant === undefined) throw new RangeError(`simulator: no tenant '${tenantId}'`);
      return tenant === ctx ? main : tenantHandle(tenant);
    },
    addTenant: (entry) =>
      tenantHandle(addTenant(shared, { ...options, faults: topFaults }, entry, certificates)),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        for (const timer of shared.timers) clearTimeout(timer);
        shared.timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closed;
    },
  };
}
