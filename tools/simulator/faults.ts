/**
 * Request faults: throttling (random and by budget), 500/502/503/504, latency, token revocation,
 * transport faults on pages (truncated, reset and stalled bodies), and the record of clients that
 * come back before the Retry-After they were given.
 */
import type { SimulatorContext } from "./context.js";
import { DEFAULT_STALL_MS } from "./options.js";
import { hash, Random } from "./random.js";

/** A client that comes back this much early still counts as on time (timer and clock rounding). */
const RETRY_AFTER_TOLERANCE_MS = 5;
/**
 * A request this soon after the first Retry-After of a wait may have been sent before the client
 * read it (a concurrent request in flight, not a return), so it is not counted. On a busy machine
 * (a test run under coverage) such a request can take a few hundred ms to arrive. A client that
 * keeps coming back is counted from then on: waits told while waiting extend the wait, not this
 * grace; Retry-After is at least a second, so a client that ignores it is still caught.
 */
const IN_FLIGHT_GRACE_MS = 500;

/** When a client may come back, and when its wait began. */
export interface RetryAfterNote {
  until: number;
  sentAt: number;
}

export type FaultResponse =
  | { status: 429; code: "TooManyRequests"; message: string; retryAfterSeconds: number }
  | { status: 503; code: "ServiceUnavailable"; message: string; retryAfterSeconds: number | undefined }
  | { status: 504; code: "GatewayTimeout"; message: string; retryAfterSeconds: undefined }
  | { status: 500; code: "InternalServerError"; message: string; retryAfterSeconds: undefined }
  | { status: 502; code: "BadGateway"; message: string; retryAfterSeconds: undefined };

/** The draws of one request: always the same number, so each request's fate depends only on its number. */
export interface RequestDraws {
  throttle: number;
  unavailable: number;
  gatewayTimeout: number;
  latency: number;
  serverError: number;
  truncated: number;
  reset: number;
  stall: number;
  /** Where a cut-off or stalled body is cut, as a share of its bytes. */
  cut: number;
}

/** What happens to a page (200) on its way to the client. */
export type BodyFault =
  | { kind: "truncated"; cutAt: number }
  | { kind: "reset"; cutAt: number }
  | { kind: "stallHeaders"; stallMs: number }
  | { kind: "stallBody"; cutAt: number; stallMs: number };

const SALT_TRANSPORT = 0x7a45;

/** Draws the faults of request number `ctx.stats.graphRequests`. */
export function drawRequest(ctx: SimulatorContext): RequestDraws {
  const r = ctx.faultRandom;
  // The transport draws come from the request's number, not from the shared sequence, so that
  // the older faults meet the same requests for a seed as before they existed.
  const t = new Random(hash(ctx.options.seed, ctx.stats.graphRequests, SALT_TRANSPORT));
  return {
    throttle: r.next(),
    unavailable: r.next(),
    gatewayTimeout: r.next(),
    latency: r.next(),
    serverError: t.next(),
    truncated: t.next(),
    reset: t.next(),
    stall: t.next(),
    cut: t.next(),
  };
}

/** Counts a violation if `client` is back before the Retry-After it was given has passed. */
export function noteArrival(ctx: SimulatorContext, client: string, now: number): void {
  const note = ctx.retryAfterUntil.get(client);
  if (note === undefined) return;
  if (now + RETRY_AFTER_TOLERANCE_MS >= note.until) {
    ctx.retryAfterUntil.delete(client);
    return;
  }
  if (now - note.sentAt > IN_FLIGHT_GRACE_MS) ctx.stats.retryAfterViolations++;
}

/**
 * Every N Graph requests of a tenant, all tokens issued so far for it are revoked (before this
 * request is checked); other tenants' tokens stay valid.
 */
export function maybeRevokeTokens(ctx: SimulatorContext): void {
  const every = ctx.faults.revokeTokensEveryRequests;
  if (every !== undefined && ctx.stats.graphRequests % every === 0) ctx.tokens.revokeTenant(ctx.key);
}

/** The budget's answer for `app` in the tenant of `ctx` (Graph's limit: per app per tenant) at `now`: undefined to go on (the request takes a slot), or a 429. */
export function checkBudget(ctx: SimulatorContext, app: string, now: number): FaultResponse | undefined {
  const budget = ctx.faults.budget;
  if (budget === undefined) return undefined;
  let window = ctx.budgetWindows.get(app);
  if (window === undefined) {
    window = [];
    ctx.budgetWindows.set(app, window);
  }
  let expired = 0;
  while (expired < window.length && (window[expired] as number) <= now - budget.perMs) expired++;
  if (expired > 0) window.splice(0, expired);
  if (window.length >= budget.requests) {
    const freeAt = (window[window.length - budget.requests] as number) + budget.perMs;
    return {
      status: 429,
      code: "TooManyRequests",
      message: `Too many requests: the application is over ${budget.requests} requests per ${budget.perMs} ms.`,
      retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now) / 1000)),
    };
  }
  window.push(now);
  return undefined;
}

/** The random fault this request meets, if any. */
export function randomFault(ctx: SimulatorContext, draws: RequestDraws): FaultResponse | undefined {
  const f = ctx.faults;
  if (draws.throttle < (f.throttleRate ?? 0)) {
    return {
      status: 429,
      code: "TooManyRequests",
      message: "Too many requests.",
      retryAfterSeconds: f.retryAfterSeconds ?? 1,
    };
  }
  if (draws.unavailable < (f.unavailableRate ?? 0)) {
    const withRetryAfter = ctx.unavailableCount++ % 2 === 0;
    return {
      status: 503,
      code: "ServiceUnavailable",
      message: "The service is temporarily unavailable. Please try again later.",
      retryAfterSeconds: withRetryAfter ? (f.retryAfterSeconds ?? 1) : undefined,
    };
  }
  if (draws.gatewayTimeout < (f.gatewayTimeoutRate ?? 0)) {
    return {
      status: 504,
      code: "GatewayTimeout",
      message: "The gateway timed out.",
      retryAfterSeconds: undefined,
    };
  }
  if (draws.serverError < (f.serverErrorRate ?? 0)) {
    ctx.stats.faultsInjected.serverError++;
    return ctx.serverErrorCount++ % 2 === 0
      ? {
          status: 500,
          code: "InternalServerError",
          message: "An internal server error occurred while processing the request.",
          retryAfterSeconds: undefined,
        }
      : {
          status: 502,
          code: "BadGateway",
          message: "The upstream service returned an invalid response.",
          retryAfterSeconds: undefined,
        };
  }
  return undefined;
}

/** A byte offset strictly inside a body of `length` bytes (0 for an empty body). */
function cutAt(length: number, draw: number): number {
  if (length < 2) return 0;
  return Math.min(length - 1, Math.max(1, Math.floor(length * (0.25 + draw * 0.5))));
}

/** The transport fault a page of `length` bytes meets, if any (counted). */
export function bodyFault(ctx: SimulatorContext, draws: RequestDraws, length: number): BodyFault | undefined {
  const f = ctx.faults;
  const counts = ctx.stats.faultsInjected;
  if (draws.truncated < (f.truncatedBodyRate ?? 0)) {
    counts.truncated++;
    return { kind: "truncated", cutAt: cutAt(length, draws.cut) };
  }
  if (draws.reset < (f.resetMidBodyRate ?? 0)) {
    counts.reset++;
    return { kind: "reset", cutAt: cutAt(length, draws.cut) };
  }
  if (draws.stall < (f.stallRate ?? 0)) {
    counts.stall++;
    const stallMs = f.stallMs ?? DEFAULT_STALL_MS;
    return ctx.stallCount++ % 2 === 0
      ? { kind: "stallHeaders", stallMs }
      : { kind: "stallBody", cutAt: cutAt(length, draws.cut), stallMs };
  }
  return undefined;
}

/**
 * The Retry-After header for `seconds` (as seconds, or as an HTTP-date on the simulator's clock),
 * recording when `client` may come back.
 */
export function retryAfterHeader(
  ctx: SimulatorContext,
  client: string,
  seconds: number,
  now: number,
): string {
  const httpDate = ctx.faults.retryAfterHttpDate === true;
  const until = httpDate ? Math.ceil((now + seconds * 1000) / 1000) * 1000 : now + seconds * 1000;
  const note = ctx.retryAfterUntil.get(client);
  if (note !== undefined && note.until > now) note.until = Math.max(note.until, until);
  else ctx.retryAfterUntil.set(client, { until, sentAt: now });
  return httpDate ? new Date(until).toUTCString() : String(seconds);
}

/** The latency to add to this response, in ms. */
export function latencyMs(ctx: SimulatorContext, draws: RequestDraws): number {
  const range = ctx.faults.pageLatencyMs;
  if (range === undefined || range.max <= 0) return 0;
  return Math.round(range.min + draws.latency * (range.max - range.min));
}

// --- Pacing: the request log and poison pages ---

/** One Graph request as the simulator saw it (option recordRequests). Instants on its clock. */
export interface LoggedRequest {
  /** The request's client-request-id header, or the id the simulator gave it. */
  clientRequestId: string;
  /** The tenant it was attributed to (its bearer token's; the main tenant's without one). */
  tenantId: string;
  arrivedAt: number;
  status: number;
  /** The Retry-After header sent, if any. */
  retryAfter?: string;
  /** When the answer's headers were written (undefined until then, or if it never was). */
  sentAt?: number;
  /** With a Retry-After: the instant the client may come back, counted from `sentAt`. */
  notBefore?: number;
}

/** The body of a poison page: a 200 with a JSON content type whose body is not JSON. */
export const NOT_JSON_BODY = "<html><body><h1>Service Unavailable</h1></body></html>";

/** Whether a request for [fromMs, toMs] meets the option notJsonRange. */
export function isNotJsonRange(ctx: SimulatorContext, fromMs: number, toMs: number): boolean {
  const range = ctx.faults.notJsonRange;
  return range !== undefined && fromMs <= range.to.getTime() && toMs >= range.from.getTime();
}

/** The instant a Retry-After sent at `sentAt` lets the client come back. */
export function retryAfterInstant(header: string, sentAt: number): number {
  return /^\d+$/.test(header) ? sentAt + Number(header) * 1000 : Date.parse(header);
}

/** Waits the option tokenLatencyMs (a timer the simulator's close clears: the wait then never ends). */
export function tokenLatency(ctx: SimulatorContext): Promise<void> {
  const ms = ctx.faults.tokenLatencyMs ?? 0;
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ctx.timers.delete(timer);
      resolve();
    }, ms);
    ctx.timers.add(timer);
  });
}
