/**
 * Callers waiting for a role (an election won, a slot held): each is resolved when `release` is
 * called, or rejected with its signal's reason if that aborts first.
 */
export class Waiters {
  private readonly waiting = new Set<() => void>();

  /** Resolves at once when `ready`, else at the next `release`; rejects if `signal` aborts first. */
  wait(ready: boolean, signal: AbortSignal): Promise<void> {
    if (ready) return Promise.resolve();
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const released = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiting.delete(released);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.add(released);
    });
  }

  /** Resolves every caller waiting now. */
  release(): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const released of waiting) released();
  }
}
