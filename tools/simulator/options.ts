import { ErrorCode, PstnError } from "../../src/errors.js";
import type { HostileOptions } from "./hostile.js";
import { hash } from "./random.js";
import type { StreamName } from "./streams.js";
import type { KafkaTokenOptions } from "./tokens.js";

/** Faults the simulator injects into Graph requests and rows; every probability is in [0, 1]. */
export interface SimulatorFaults {
  /** Probability that a Graph request gets 429. */
  throttleRate?: number;
  /** Retry-After on 429 (and on the 503s that carry one), in seconds; default 1. */
  retryAfterSeconds?: number;
  /** Send Retry-After as an HTTP-date instead of seconds. */
  retryAfterHttpDate?: boolean;
  /** Probability of 503; half of them carry Retry-After, half do not (alternating). */
  unavailableRate?: number;
  /** Probability of 504. */
  gatewayTimeoutRate?: number;
  /**
   * Sliding-window budget per app per tenant (as Graph's limit is); past it: 429 with Retry-After =
   * seconds until a slot frees. Another tenant's requests, same app or not, take none of its slots.
   */
  budget?: { requests: number; perMs: number };
  /**
   * Every N Graph requests (of a tenant), all tokens issued so far (for it) become invalid (401)
   * before their expiry.
   */
  revokeTokensEveryRequests?: number;
  /** Probability that a row carries a property Graph does not document (yet). */
  extraPropertyRate?: number;
  /** Probability that a row is malformed: `id` missing, or `startDateTime` not a date. */
  malformedRowRate?: number;
  /** Probability that a row's charge does not fit decimal(38, 12). */
  oversizedChargeRate?: number;
  /** Latency added to each Graph response, drawn uniformly. */
  pageLatencyMs?: { min: number; max: number };
  /**
   * Probability that a Graph request gets a server error: 500 and 502 alternating, with a
   * Graph-style JSON error body and no Retry-After.
   */
  serverErrorRate?: number;
  /**
   * Probability that a page (200) is cut off part-way: the response ends cleanly (chunked) after
   * only part of its JSON, so the client reads truncated, malformed JSON.
   */
  truncatedBodyRate?: number;
  /**
   * Probability that a page (200) is cut off by the connection: headers (with the full
   * Content-Length) and part of the body are sent, then the socket is destroyed.
   */
  resetMidBodyRate?: number;
  /**
   * Probability that a page (200) stalls for {@link stallMs}: alternately before any header (the
   * client's headers timeout) and after the headers and part of the body (its body timeout).
   */
  stallRate?: number;
  /** How long a stall lasts, in ms; default 30000. */
  stallMs?: number;

  // --- Pacing, poison pages and rows refused at the door ---
  /** Probability that a row's `id` is OVERLONG_ID_LENGTH (5,000) characters long. */
  overlongIdRate?: number;
  /** Probability that a row's `startDateTime` lies 400 days before its real start (the one it is selected by). */
  misplacedStartRate?: number;
  /**
   * Every page of a request whose range overlaps [from, to] is a 200 (JSON content type) whose
   * body is not JSON, for as long as this is set: a window no retry heals.
   */
  notJsonRange?: { from: Date; to: Date };
  /** Latency added to each token response, in ms: a client fetching a token meanwhile is slow. */
  tokenLatencyMs?: number;
}

/** Default of {@link SimulatorFaults.stallMs}. */
export const DEFAULT_STALL_MS = 30_000;
/** The longest timer Node keeps (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

export interface SimulatorOptions {
  /** Default 1; the same seed and options give the same rows. */
  seed?: number;
  /** Default {@link DEFAULT_TENANT_ID}. */
  tenantId?: string;
  /** Default {@link DEFAULT_CLIENT_ID}. */
  clientId?: string;
  /** Secret accepted for the client_secret grant, if set. */
  clientSecret?: string;
  /** PEM of the client's certificate; if set, client_assertion JWTs signed by its key are accepted. */
  clientCertificatePem?: string;
  /** Application permissions granted to the app; default ["CallRecords.Read.All"]. */
  grantedPermissions?: string[];
  /** Default 0 (a free port). */
  port?: number;
  /** Address to listen on; default 127.0.0.1 (tests and the demo). A container needs 0.0.0.0. */
  host?: string;
  /**
   * The base URL clients reach the simulator at, when it is not https://127.0.0.1:<port> (a
   * container network: https://simulator:8443). Used in OIDC metadata and nextLinks, and put in
   * the generated certificate.
   */
  publicUrl?: string;
  /** The server's TLS certificate and key (PEM); default a fresh self-signed one for 127.0.0.1. */
  serverCertificate?: { certificatePem: string; privateKeyPem: string };
  /** First possible call start. */
  dataStart: Date;
  /** No call starts after this; default none: rows keep coming as the clock moves. */
  dataEnd?: Date;
  /** Average rate of calls (PSTN: getPstnCalls). */
  callsPerHour: number;
  /**
   * Average rate of Direct Routing calls (getDirectRoutingCalls); default
   * {@link DEFAULT_DIRECT_ROUTING_RATIO} of `callsPerHour`.
   */
  directRoutingCallsPerHour?: number;
  /** Average rate of SMS (getSmsLog, beta); default {@link DEFAULT_SMS_RATIO} of `callsPerHour`. */
  smsPerHour?: number;
  /**
   * From `since` on, calls come at this rate instead: a short live phase busier than a long history.
   * Direct Routing calls and SMS then come faster by the same factor.
   */
  live?: { since: Date; callsPerHour: number };
  /** A row becomes visible at start + delay, the delay drawn per row; default {0, 0}. */
  visibilityDelayMs?: { min: number; max: number };
  /** Rows per page; default 1000. */
  pageSize?: number;
  /** Clock in ms; default Date.now. */
  now?: () => number;
  /** Default 3600. */
  tokenLifetimeSeconds?: number;
  /**
   * A hostile or broken authority: the token_endpoint its OpenID metadata names instead of its
   * own (another host, port or scheme), e.g. http://127.0.0.1:<port>/steal.
   */
  metadataTokenEndpoint?: string;
  /**
   * For benchmarks: keep each page's body once rendered and serve it again, while the data can no
   * longer change (no live phase, every row visible). Its rendering then stays out of the figures
   * of the runs after the first.
   */
  cachePages?: boolean;
  faults?: SimulatorFaults;
  /**
   * Also issue signed JWTs for Kafka's OAUTHBEARER (the scope `<audience>/.default`), and serve
   * their key at the tenant's `jwks_uri`.
   */
  kafkaTokens?: KafkaTokenOptions;
  /**
   * A hostile Graph (links elsewhere or in a loop, answers too large, too long or too deep), kept
   * apart from the faults a real Graph shows; off by default.
   */
  hostile?: HostileOptions;

  /**
   * More tenants, served beside the main one (`tenantId`) by the same Entra ID and Graph: each its
   * own rows, budget, faults and stats, its tokens and requests told apart by tenant. Each knob an
   * entry leaves out is the top-level option of the same name (its seed: derived from the
   * top-level seed and its id), so `{ tenantId }` alone is a tenant like the main one with rows of
   * its own, and one app (clientId and secret) serves them all, like a multi-tenant app. Rows are
   * drawn lazily, per hour when read, so many tenants that are seldom read stay cheap.
   */
  tenants?: TenantSimulation[];

  // --- Pacing ---
  /**
   * Keep a log of every Graph request (arrival, status, and for a Retry-After the instant the
   * answer was sent and when the client may come back): GraphSimulator.requestLog(). For tests.
   */
  recordRequests?: boolean;
}

/**
 * A tenant served beside the main one (option `tenants`). Every knob left out is the top-level
 * option of the same name, except `seed`: derived from the top-level seed and the tenant id.
 */
export interface TenantSimulation {
  /** The tenant's id, as clients name it in the authority (a GUID or a domain); case-insensitive. */
  tenantId: string;
  /** The app registered in this tenant; default: the top-level one (a multi-tenant app). */
  clientId?: string;
  /** Its secret; default the top-level `clientSecret`. */
  clientSecret?: string;
  /** PEM of its certificate; default the top-level `clientCertificatePem`. */
  clientCertificatePem?: string;
  /** What the tenant's admin consented to; default the top-level `grantedPermissions`. */
  grantedPermissions?: string[];
  /** Default: derived from the top-level seed and `tenantId`, so each tenant has rows of its own. */
  seed?: number;
  callsPerHour?: number;
  directRoutingCallsPerHour?: number;
  smsPerHour?: number;
  dataStart?: Date;
  dataEnd?: Date;
  live?: { since: Date; callsPerHour: number };
  visibilityDelayMs?: { min: number; max: number };
  /** This tenant's faults (the budget among them: per app in this tenant); default the top-level ones. */
  faults?: SimulatorFaults;
}

/** The per-tenant knobs of {@link TenantSimulation}, in the order they are copied. */
const TENANT_KNOBS = [
  "clientId",
  "clientSecret",
  "clientCertificatePem",
  "grantedPermissions",
  "seed",
  "callsPerHour",
  "directRoutingCallsPerHour",
  "smsPerHour",
  "dataStart",
  "dataEnd",
  "live",
  "visibilityDelayMs",
  "faults",
] as const satisfies readonly (keyof TenantSimulation & keyof SimulatorOptions)[];

/** A tenant's default seed: the top-level seed mixed with its id (lower case), never the main's by chance. */
export function tenantSeed(seed: number, tenantId: string): number {
  let h = hash(seed >>> 0, 0x7e2a);
  for (const char of tenantId.toLowerCase()) h = hash(h, char.codePointAt(0) as number);
  return h;
}

/** A tenant id Entra could name in a path: no slash, no whitespace, nothing to escape. */
const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/**
 * The options a tenant is simulated with: the top-level ones, its own knobs over them, its seed
 * derived when not given. `faults` says whether it has faults of its own.
 */
export function tenantOptions(
  options: SimulatorOptions,
  tenant: TenantSimulation,
): { options: SimulatorOptions; ownFaults: boolean } {
  if (typeof tenant?.tenantId !== "string" || !TENANT_ID.test(tenant.tenantId)) {
    throw invalid(
      `tenants: tenantId must be a GUID or a domain (letters, digits, '.', '-', '_'), got ${JSON.stringify(tenant?.tenantId)}`,
    );
  }
  const merged: SimulatorOptions = { ...options, tenantId: tenant.tenantId, tenants: undefined };
  for (const knob of TENANT_KNOBS) {
    if (tenant[knob] !== undefined) (merged as unknown as Record<string, unknown>)[knob] = tenant[knob];
  }
  if (tenant.seed === undefined) merged.seed = tenantSeed(options.seed ?? 1, tenant.tenantId);
  return { options: merged, ownFaults: tenant.faults !== undefined };
}

export const DEFAULT_TENANT_ID = "6f1e3c55-2b7a-4d8e-9c41-0a5b7d2e8f13";
export const DEFAULT_CLIENT_ID = "3c9d1a7e-58b2-4f06-a1e4-7b2c9d0e6f45";
export const CALL_RECORDS_PERMISSION = "CallRecords.Read.All";
/** Direct Routing calls per PSTN call, unless `directRoutingCallsPerHour` is given. */
export const DEFAULT_DIRECT_ROUTING_RATIO = 0.25;
/** SMS per PSTN call, unless `smsPerHour` is given. */
export const DEFAULT_SMS_RATIO = 0.1;

/** The options with defaults applied, validated. */
export interface ResolvedOptions {
  seed: number;
  tenantId: string;
  clientId: string;
  clientSecret: string | undefined;
  clientCertificatePem: string | undefined;
  grantedPermissions: readonly string[];
  port: number;
  serverCertificate: { certificatePem: string; privateKeyPem: string } | undefined;
  dataStartMs: number;
  dataEndMs: number;
  callsPerHour: number;
  /** Average rows per hour of each stream (pstn: `callsPerHour`). */
  streamRates: Readonly<Record<StreamName, number>>;
  live?: { sinceMs: number; callsPerHour: number };
  visibilityDelayMs: { min: number; max: number };
  pageSize: number;
  now: () => number;
  tokenLifetimeSeconds: number;
  cachePages: boolean;
  kafkaTokens: KafkaTokenOptions | undefined;
  metadataTokenEndpoint: string | undefined;
  recordRequests: boolean;
}

function invalid(message: string): PstnError {
  return new PstnError(ErrorCode.CONFIG_INVALID, `simulator: ${message}`);
}

function checkRange(name: string, range: { min: number; max: number } | undefined): void {
  if (range === undefined) return;
  if (
    !(Number.isFinite(range.min) && Number.isFinite(range.max) && range.min >= 0 && range.max >= range.min)
  ) {
    throw invalid(`${name} must be {min, max} with 0 <= min <= max`);
  }
}

export function validateFaults(faults: SimulatorFaults | undefined): SimulatorFaults {
  const f = faults ?? {};
  for (const key of [
    "throttleRate",
    "unavailableRate",
    "gatewayTimeoutRate",
    "extraPropertyRate",
    "malformedRowRate",
    "oversizedChargeRate",
    "serverErrorRate",
    "truncatedBodyRate",
    "resetMidBodyRate",
    "stallRate",
    "overlongIdRate",
    "misplacedStartRate",
  ] as const) {
    const value = f[key];
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw invalid(`faults.${key} must be a probability in [0, 1], got ${value}`);
    }
  }
  if (
    f.retryAfterSeconds !== undefined &&
    !(Number.isInteger(f.retryAfterSeconds) && f.retryAfterSeconds >= 0)
  ) {
    throw invalid(`faults.retryAfterSeconds must be a whole number >= 0, got ${f.retryAfterSeconds}`);
  }
  if (f.budget !== undefined && !(f.budget.requests >= 1 && f.budget.perMs >= 1)) {
    throw invalid("faults.budget needs requests >= 1 and perMs >= 1");
  }
  if (
    f.revokeTokensEveryRequests !== undefined &&
    !(Number.isInteger(f.revokeTokensEveryRequests) && f.revokeTokensEveryRequests >= 1)
  ) {
    throw invalid("faults.revokeTokensEveryRequests must be a whole number >= 1");
  }
  if (
    f.stallMs !== undefined &&
    !(Number.isInteger(f.stallMs) && f.stallMs >= 0 && f.stallMs <= MAX_TIMER_MS)
  ) {
    throw invalid(`faults.stallMs must be a whole number of ms in [0, ${MAX_TIMER_MS}], got ${f.stallMs}`);
  }
  checkRange("faults.pageLatencyMs", f.pageLatencyMs);
  if (
    f.tokenLatencyMs !== undefined &&
    !(Number.isInteger(f.tokenLatencyMs) && f.tokenLatencyMs >= 0 && f.tokenLatencyMs <= MAX_TIMER_MS)
  ) {
    throw invalid(`faults.tokenLatencyMs must be a whole number of ms in [0, ${MAX_TIMER_MS}]`);
  }
  if (f.notJsonRange !== undefined && !(f.notJsonRange.from.getTime() <= f.notJsonRange.to.getTime())) {
    throw invalid("faults.notJsonRange needs valid Dates with from <= to");
  }
  return { ...f };
}

export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const dataStartMs = options.dataStart?.getTime();
  if (dataStartMs === undefined || !Number.isFinite(dataStartMs))
    throw invalid("dataStart must be a valid Date");
  const dataEndMs = options.dataEnd === undefined ? Number.POSITIVE_INFINITY : options.dataEnd.getTime();
  if (Number.isNaN(dataEndMs) || dataEndMs < dataStartMs)
    throw invalid("dataEnd must be a Date after dataStart");
  if (!(Number.isFinite(options.callsPerHour) && options.callsPerHour >= 0)) {
    throw invalid(`callsPerHour must be a number >= 0, got ${options.callsPerHour}`);
  }
  for (const key of ["directRoutingCallsPerHour", "smsPerHour"] as const) {
    const rate = options[key];
    if (rate !== undefined && !(Number.isFinite(rate) && rate >= 0)) {
      throw invalid(`${key} must be a number >= 0, got ${rate}`);
    }
  }
  if (options.live && !(Number.isFinite(options.live.callsPerHour) && options.live.callsPerHour >= 0)) {
    throw invalid(`live.callsPerHour must be a number >= 0, got ${options.live.callsPerHour}`);
  }
  const pageSize = options.pageSize ?? 1000;
  if (!(Number.isInteger(pageSize) && pageSize >= 1)) throw invalid(`pageSize must be a whole number >= 1`);
  const port = options.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) throw invalid(`port must be 0..65535`);
  const tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
  if (!(tokenLifetimeSeconds > 0)) throw invalid("tokenLifetimeSeconds must be > 0");
  checkRange("visibilityDelayMs", options.visibilityDelayMs);
  return {
    seed: (options.seed ?? 1) >>> 0,
    tenantId: options.tenantId ?? DEFAULT_TENANT_ID,
    clientId: options.clientId ?? DEFAULT_CLIENT_ID,
    clientSecret: options.clientSecret,
    clientCertificatePem: options.clientCertificatePem,
    grantedPermissions: options.grantedPermissions ?? [CALL_RECORDS_PERMISSION],
    port,
    serverCertificate: options.serverCertificate,
    dataStartMs,
    dataEndMs,
    callsPerHour: options.callsPerHour,
    streamRates: {
      pstn: options.callsPerHour,
      directRouting: options.directRoutingCallsPerHour ?? options.callsPerHour * DEFAULT_DIRECT_ROUTING_RATIO,
      sms: options.smsPerHour ?? options.callsPerHour * DEFAULT_SMS_RATIO,
    },
    live: options.live && { sinceMs: options.live.since.getTime(), callsPerHour: options.live.callsPerHour },
    visibilityDelayMs: options.visibilityDelayMs ?? { min: 0, max: 0 },
    pageSize,
    now: options.now ?? Date.now,
    tokenLifetimeSeconds,
    cachePages: options.cachePages ?? false,
    kafkaTokens: options.kafkaTokens,
    metadataTokenEndpoint: options.metadataTokenEndpoint,
    recordRequests: options.recordRequests ?? false,
  };
}
