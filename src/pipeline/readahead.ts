import type { CallLogPage } from "../graph/body.js";
import type { Window } from "../windows/planner.js";

export type ReadAheadItem =
  | { kind: "page"; window: Window; page: CallLogPage }
  | { kind: "end"; window: Window };

export interface ReadAheadOptions {
  /** How many windows are fetched at once; the Graph pacer still spaces their requests. */
  windows: number;
  /** Pages a window may hold before its fetch waits for the consumer. */
  pagesPerWindow: number;
  signal: AbortSignal;
}

/**
 * The pages of consecutive windows, yielded in window order (each window's pages in their order,
 * then its end), while up to `options.windows` windows are fetched concurrently. Pages of one
 * window stay sequential (each nextLink comes from the page before). A fetch error surfaces when
 * the consumer reaches that window; when the consumer stops, every fetch is aborted.
 */
export async function* readAhead(
  windows: readonly Window[],
  fetchPages: (window: Window, signal: AbortSignal) => AsyncIterable<CallLogPage>,
  options: ReadAheadOptions,
): AsyncGenerator<ReadAheadItem> {
  const stop = new AbortController();
  const signal = AbortSignal.any([options.signal, stop.signal]);
  const fetches: WindowFetch[] = [];
  let next = 0;
  const startNext = () => {
    const window = windows[next++];
    if (window) fetches.push(new WindowFetch(window, fetchPages, options.pagesPerWindow, signal));
  };
  try {
    for (let i = 0; i < options.windows; i++) startNext();
    for (let index = 0; index < windows.length; index++) {
      const fetch = fetches[index]!;
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

/** One window's pages, fetched into a small queue that the consumer drains. */
class WindowFetch {
  readonly settled: Promise<void>;
  private readonly queue: CallLogPage[] = [];
  private done = false;
  private error: unknown;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(
    readonly window: Window,
    fetchPages: (window: Window, signal: AbortSignal) => AsyncIterable<CallLogPage>,
    private readonly capacity: number,
    private readonly signal: AbortSignal,
  ) {
    signal.addEventListener("abort", () => this.wakeProducer?.(), { once: true });
    this.settled = this.run(fetchPages(window, signal));
  }

  /** The next page, or undefined once the window is done; throws the fetch's error. */
  async take(): Promise<CallLogPage | undefined> {
    for (;;) {
      const page = this.queue.shift();
      if (page !== undefined) {
        this.wakeProducer?.();
        return page;
      }
      if (this.error !== undefined) throw this.error;
      if (this.done) return undefined;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
      });
    }
  }

  private async run(pages: AsyncIterable<CallLogPage>): Promise<void> {
    try {
      for await (const page of pages) {
        this.queue.push(page);
        this.wake();
        while (this.queue.length >= this.capacity && !this.signal.aborted) {
          await new Promise<void>((resolve) => {
            this.wakeProducer = resolve;
          });
        }
        if (this.signal.aborted) {
          this.error = this.signal.reason ?? new Error("aborted");
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
