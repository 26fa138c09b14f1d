import { setTimeout as sleep } from "node:timers/promises";

/**
 * A token bucket that spaces Graph requests so the app stays under its budget instead of reacting
 * to 429s. With capacity C and rate r a minute, any 60 s window admits at most C + r requests.
 * Also holds the "not before" instant the last Retry-After set: every request waits for it.
 */
export class RequestPacer {
  private tokens: number;
  private last: number;
  private notBefore = 0;
  private readonly perMs: number;

  constructor(
    readonly requestsPerMinute: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
    this.perMs = requestsPerMinute / 60_000;
  }

  /** Graph said: come back no earlier than `ms` from now. Applies to every request of the app. */
  holdFor(ms: number): void {
    this.notBefore = Math.max(this.notBefore, this.now() + ms);
  }

  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = this.now();
      const hold = this.notBefore - now;
      if (hold > 0) {
        await sleep(hold, undefined, { signal });
        continue;
      }
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.ceil((1 - this.tokens) / this.perMs), undefined, { signal });
    }
  }
}
