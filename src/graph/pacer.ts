import { setTimeout as sleep } from "node:timers/promises";

/**
 * The longest single timer: Node fires a longer one after 1 ms instead (with a
 * TimeoutOverflowWarning), so longer waits are slept in chunks of at most this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Default cap of one Retry-After (GRAPH_MAX_RETRY_AFTER). */
export const DEFAULT_MAX_HOLD_MS = 10 * 60_000;

/**
 * Sleeps `ms` in chunks Node's timers keep, rejecting with the signal's reason once it aborts.
 * `chunk` sleeps one chunk; tests pass their own to see the chunks.
 */
export async function sleepChunked(
  ms: number,
  signal?: AbortSignal,
  chunk: (ms: number, signal?: AbortSignal) => Promise<unknown> = (delay, s) =>
    sleep(delay, undefined, { signal: s }),
): Promise<void> {
  signal?.throwIfAborted();
  let left = Math.ceil(ms);
  while (left > 0) {
    const step = Math.min(left, MAX_TIMER_MS);
    await chunk(step, signal);
    left -= step;
  }
}

export interface HoldResult {
  /** The hold applied, in ms from now. */
  heldMs: number;
  /** Whether Graph asked for longer than the cap. */
  clamped: boolean;
}

export interface PacerOptions {
  /** Retry-After longer than this is waited as this (GRAPH_MAX_RETRY_AFTER). */
  maxHoldMs?: number;
}

/**
 * A token bucket that spaces Graph requests so the app stays under its budget instead of reacting
 * to 429s. With capacity C and rate r a minute, any 60 s window admits at most C + r requests.
 * Also holds the "not before" instant the last Retry-After set: every request waits for it.
 *
 * `admit` is synchronous so that the caller can send in the same turn of the event loop: nothing
 * (a 429 read meanwhile, another request) runs between the decision and the send.
 */
export class RequestPacer {
  readonly maxHoldMs: number;
  private tokens: number;
  private last: number;
  private notBefore = 0;
  private readonly perMs: number;

  constructor(
    readonly requestsPerMinute: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
    options: PacerOptions = {},
  ) {
    this.tokens = burst;
    this.last = now();
    this.perMs = requestsPerMinute / 60_000;
    this.maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
  }

  /**
   * Graph said: come back no earlier than `ms` from now. Applies to every request of the app.
   * A wait over the cap is held as the cap: a hostile or broken answer cannot park the connector.
   */
  holdFor(ms: number): HoldResult {
    const clamped = !(ms <= this.maxHoldMs);
    const heldMs = clamped ? this.maxHoldMs : Math.max(0, ms);
    this.notBefore = Math.max(this.notBefore, this.now() + heldMs);
    return { heldMs, clamped };
  }

  /** 0 when a request may go now (it takes a slot), else the ms to wait before asking again. */
  admit(): number {
    const wait = this.waitMs();
    if (wait > 0) return wait;
    this.tokens -= 1;
    return 0;
  }

  /** Ms until a request could go, without taking a slot (0: now). */
  waitMs(): number {
    const now = this.now();
    const hold = this.notBefore - now;
    if (hold > 0) return hold;
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    this.last = now;
    if (this.tokens >= 1) return 0;
    return Math.ceil((1 - this.tokens) / this.perMs);
  }

  /** Waits until a request could go (without taking its slot). */
  async ready(signal?: AbortSignal): Promise<void> {
    for (let wait = this.waitMs(); wait > 0; wait = this.waitMs()) await sleepChunked(wait, signal);
  }

  /** Waits for a slot and takes it. */
  async take(signal?: AbortSignal): Promise<void> {
    for (let wait = this.admit(); wait > 0; wait = this.admit()) await sleepChunked(wait, signal);
  }
}
