/**
 * Request faults: throttling (random and by budget), 503/504, latency, token revocation, and the
 * record of clients that come back before the Retry-After they were given.
 */
import type { SimulatorContext } from "./context.js";

/** A client that comes back this much early still counts as on time (timer and clock rounding). */
const RETRY_AFTER_TOLERANCE_MS = 5;
/**
 * A request this soon after the first Retry-After of a wait may have been sent before the client
 * read it (a concurrent request in flight, not a return), so it is not counted. A client that keeps
 * coming back is counted from then on: waits told while waiting extend the wait, not this grace.
 */
const IN_FLIGHT_GRACE_MS = 100;

/** When a client may come back, and when its wait began. */
export interface RetryAfterNote {
  until: number;
  sentAt: number;
}

export type FaultResponse =
  | { status: 429; code: "TooManyRequests"; message: string; retryAfterSeconds: number }
  | { status: 503; code: "ServiceUnavailable"; message: string; retryAfterSeconds: number | undefined }
  | { status: 504; code: "GatewayTimeout"; message: string; retryAfterSeconds: undefined };

/** The draws of one request: always the same number, so each request's fate depends only on its number. */
export interface RequestDraws {
  throttle: number;
  unavailable: number;
  gatewayTimeout: number;
  latency: number;
}

export function drawRequest(ctx: SimulatorContext): RequestDraws {
  const r = ctx.faultRandom;
  return { throttle: r.next(), unavailable: r.next(), gatewayTimeout: r.next(), latency: r.next() };
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

/** Every N Graph requests all tokens issued so far are revoked (before this request is checked). */
export function maybeRevokeTokens(ctx: SimulatorContext): void {
  const every = ctx.faults.revokeTokensEveryRequests;
  if (every !== undefined && ctx.stats.graphRequests % every === 0) ctx.tokens.revokeAll();
}

/** The budget's answer for `app` at `now`: undefined to go on (the request takes a slot), or a 429. */
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
