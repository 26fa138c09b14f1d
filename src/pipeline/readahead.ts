import type { Window } from "../windows/planner.js";

export type ReadAheadItem<P> = { kind: "page"; window: Window; page: P } | { kind: "end"; window: Window };

export interface ReadAheadOptions {
  /** How many windows are fetched at once; the Graph pacer still spaces their requests. */
  windows: number;
  /**
   * Pages the windows ahead of the one being consumed may hold in all, fetched and not yet taken:
   * what bounds the memory of reading ahead. The window being consumed holds at most two.
   */
  pagesAhead: number;
  signal: AbortSignal;
}

/** The window being consumed keeps one page ready while the consumer works on the other. */
const HEAD_PAGES = 2;

/**
 * The pages of consecutive windows, yielded in window order (each window's pages in their order,
 * then its end), while up to `options.windows` windows are fetched concurrently. Past the first
 * ones, the next window is taken from `windows` only after the consumer took a window's end, so a
 * WindowSlicer sizes it by what the windows before held. Pages of one window stay sequential (each
 * nextLink comes from the page before), so the windows ahead fetch while the current one waits for
 * its next page; together they hold at most `pagesAhead` pages.
 * A fetch error surfaces when the consumer reaches that window; when the consumer stops, every
 * fetch is aborted.
 */
export async function* readAhead<P>(
  windows: Iterable<Window>,
  fetchPages: (window: Window, signal: AbortSignal) => AsyncIterable<P>,
  options: ReadAheadOptions,
): AsyncGenerator<ReadAheadItem<P>> {
  const stop = new AbortController();
  const signal = AbortSignal.any([options.signal, stop.signal]);
  const shared = new SharedQueues<P>(Math.max(0, options.pagesAhead), signal);
  const fetches: WindowFetch<P>[] = [];
  const upcoming = windows[Symbol.iterator]();
  const startNext = () => {
    const next = upcoming.next();
    if (!next.done) fetches.push(new WindowFetch(next.value, fetchPages, shared));
  };
  try {
    for (let i = 0; i < options.windows; i++) startNext();
    for (let index = 0; index < fetches.length; index++) {
      const fetch = fetches[index]!;
      shared.head = fetch;
      for (;;) {
        const page = await fetch.take();
        if (page === undefined) break;
        yield { kind: "page", window: fetch.window, page };
      }
      yield { kind: "end", window: fetch.window };
      startNext();
    }
  } finally {
    stop.abort();
    await Promise.all(fetches.map((fetch) => fetch.settled));
  }
}

/** What the window fetches share: the count of pages held ahead, and who may go on. */
class SharedQueues<P> {
  private currentHead: WindowFetch<P> | undefined;
  heldAhead = 0;
  private readonly waiting = new Set<() => void>();

  constructor(
    readonly limitAhead: number,
    readonly signal: AbortSignal,
  ) {
    signal.addEventListener("abort", () => this.wakeProducers(), { once: true });
  }

  get head(): WindowFetch<P> | undefined {
    return this.currentHead;
  }

  /** The consumer moved on: the new head's pages no longer count as ahead. */
  set head(fetch: WindowFetch<P>) {
    this.currentHead = fetch;
    this.heldAhead -= fetch.held;
    this.wakeProducers();
  }

  mayFetch(fetch: WindowFetch<P>): boolean {
    if (fetch === this.currentHead) return fetch.held < HEAD_PAGES;
    return this.heldAhead < this.limitAhead;
  }

  async waitTurn(fetch: WindowFetch<P>): Promise<void> {
    while (!this.mayFetch(fetch) && !this.signal.aborted) {
      await new Promise<void>((resolve) => this.waiting.add(resolve));
    }
  }

  wakeProducers(): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const wake of waiting) wake();
  }
}

/** One window's pages, fetched into a queue that the consumer drains. */
class WindowFetch<P> {
  readonly settled: Promise<void>;
  private readonly queue: P[] = [];
  private done = false;
  private error: unknown;
  private wakeConsumer: (() => void) | undefined;

  constructor(
    readonly window: Window,
    fetchPages: (window: Window, signal: AbortSignal) => AsyncIterable<P>,
    private readonly shared: SharedQueues<P>,
  ) {
    this.settled = this.run(fetchPages(window, shared.signal));
  }

  get held(): number {
    return this.queue.length;
  }

  /** The next page, or undefined once the window is done; throws the fetch's error. */
  async take(): Promise<P | undefined> {
    for (;;) {
      const page = this.queue.shift();
      if (page !== undefined) {
        this.shared.wakeProducers();
        return page;
      }
      if (this.error !== undefined) throw this.error;
      if (this.done) return undefined;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
      });
    }
  }

  private async run(pages: AsyncIterable<P>): Promise<void> {
    const { shared } = this;
    try {
      // The for-await asks for the next page only after the body ran: waiting here holds the request.
      for await (const page of pages) {
        this.queue.push(page);
        if (shared.head !== this) shared.heldAhead++;
        this.wake();
        await shared.waitTurn(this);
        if (shared.signal.aborted) {
          this.error = shared.signal.reason ?? new Error("aborted");
          return;
        }
      }
      this.done = true;
    } catch (error) {
      this.error = error;
    } finally {
      this.wake();
    }
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }
}
