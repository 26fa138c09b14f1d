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

interface Waiter {
  resolve: () => void;
}

/** The waiters of one lane, and the turn it was last served in (0: never). */
interface Lane {
  waiters: Waiter[];
  served: number;
}

/**
 * A token bucket that spaces Graph requests so the app stays under its budget instead of reacting
 * to 429s. With capacity C and rate r a minute, any 60 s window admits at most C + r requests.
 * Also holds the "not before" instant the last Retry-After set: every request waits for it.
 *
 * Waiters take slots in turn by lane (a stream), first come first served within a lane: the next
 * slot goes to the waiting lane served longest ago. A stream with many requests queued (a backfill)
 * gets no more slots than one with a single request (live polling) while both wait, so the budget
 * is shared fairly and none is starved. Lanes are few (the streams), and each is kept for its turn.
 */
export class RequestPacer {
  readonly maxHoldMs: number;
  private tokens: number;
  private last: number;
  private notBefore = 0;
  private readonly perMs: number;
  private readonly lanes = new Map<string, Lane>();
  private turns = 0;
  private timer: NodeJS.Timeout | undefined;

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

  /** Ms until the Retry-After hold ends (0: none). */
  heldMs(): number {
    return Math.max(0, this.notBefore - this.now());
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

  /** Waits for a slot, in turn with the other lanes' waiters, and takes it. */
  take(signal?: AbortSignal, lane = ""): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const waiters = this.lanes.get(lane)?.waiters ?? [];
        const at = waiters.indexOf(waiter);
        if (at >= 0) waiters.splice(at, 1);
        reject(signal?.reason);
        this.serve();
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const known = this.lanes.get(lane);
      if (known) known.waiters.push(waiter);
      else this.lanes.set(lane, { waiters: [waiter], served: 0 });
      this.serve();
    });
  }

  /** Hands the slots available now to waiters, lane by lane; sets a timer for the next slot. */
  private serve(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (let lane = this.nextLane(); lane !== undefined; lane = this.nextLane()) {
      const wait = this.admit();
      if (wait > 0) {
        this.timer = setTimeout(
          () => {
            this.timer = undefined;
            this.serve();
          },
          Math.min(wait, MAX_TIMER_MS),
        );
        return;
      }
      lane.served = ++this.turns;
      (lane.waiters.shift() as Waiter).resolve();
    }
  }

  /** The lane with waiters that was served longest ago (the first such lane on a tie). */
  private nextLane(): Lane | undefined {
    let next: Lane | undefined;
    for (const lane of this.lanes.values()) {
      if (lane.waiters.length > 0 && (next === undefined || lane.served < next.served)) next = lane;
    }
    return next;
  }
}
