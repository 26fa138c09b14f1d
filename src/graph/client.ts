import pRetry from "p-retry";
import { type Dispatcher, request, errors as undiciErrors } from "undici";
import type { TokenSource } from "../auth/token-provider.js";
import { ErrorCode, GRAPH_REFUSED_CODES, isPstnError, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import type { StreamMetrics } from "../metrics/index.js";
import { type CallLogPage, parseCallLogPage } from "./body.js";
import { checkPageHead, LargeBodyTurns, readCapped, readExcerpt } from "./bounded-body.js";
import { LinkPolicy, WindowLinks } from "./links.js";
import { type RequestPacer, sleepChunked } from "./pacer.js";
import { parseRetryAfter } from "./retry-after.js";
import { callLogUrl } from "./url.js";

export interface GraphClientOptions {
  endpoint: string;
  apiVersion: string;
  tokens: TokenSource;
  dispatcher: Dispatcher;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxRetries: number;
  pacer: RequestPacer;
  /** GRAPH_MAX_PAGE_BYTES: a larger answer is refused, unread or as soon as its bytes pass it. */
  maxPageBytes: number;
  /** GRAPH_MAX_PAGES_PER_WINDOW: a window linking to more pages is refused as endless. */
  maxPagesPerWindow: number;
  metrics?: StreamMetrics;
  /** Whose turn among the pacer's waiters this client's requests take (the stream's name). */
  lane?: string;
  /** Where refused answers, and Retry-Afters longer than the pacer's cap, are reported. */
  logger?: Logger;
  /** For the 403 message: whose permission is missing. */
  clientId?: string;
  tenantId?: string;
  /** Backoff for failures without Retry-After; defaults suit Graph, tests shrink them. */
  backoff?: { minMs: number; maxMs: number };
  now?: () => number;
}

const BODY_EXCERPT = 300;
const UTF8 = new TextDecoder();

function parseBody(body: Uint8Array): CallLogPage {
  return parseCallLogPage(UTF8.decode(body));
}

/** Reads Graph's call-log functions page by page, retrying only what is worth retrying. */
export class GraphClient {
  private readonly options: GraphClientOptions;
  private readonly now: () => number;
  private readonly links: LinkPolicy;
  private readonly largeBodies: LargeBodyTurns;

  constructor(options: GraphClientOptions, largeBodies = new LargeBodyTurns()) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.links = new LinkPolicy(options.endpoint, options.apiVersion);
    this.largeBodies = largeBodies;
  }

  /** The Graph API version this client reads (GRAPH_API_VERSION). */
  get apiVersion(): string {
    return this.options.apiVersion;
  }

  /**
   * This client for one stream: its API version, its turn at the pacer, its metrics. It shares the
   * tokens, the pacer and the turns of large bodies: Graph's budget is per tenant across versions
   * and functions, and so is memory.
   */
  forStream(stream: {
    lane: string;
    apiVersion: string;
    metrics?: StreamMetrics;
    logger?: Logger;
  }): GraphClient {
    return new GraphClient({ ...this.options, ...stream }, this.largeBodies);
  }

  functionUrl(fn: string, from: Date, to: Date): string {
    return callLogUrl(this.options.endpoint, this.options.apiVersion, fn, from, to);
  }

  /** Every page of a window, parsed here, following `@odata.nextLink` within the pinned scope. */
  pages(fn: string, from: Date, to: Date, signal?: AbortSignal): AsyncGenerator<CallLogPage> {
    return this.decodedPages(fn, from, to, parseBody, signal);
  }

  /**
   * Every page of a window, each 200 body handed to `decode` (which may hand it to another thread).
   * A body `decode` rejects as not a page (a retriable error) is fetched again like any failure.
   * Each nextLink is checked before its page is yielded: a link out of GRAPH_ENDPOINT's scope, one
   * already followed in this window, or one past GRAPH_MAX_PAGES_PER_WINDOW ends the window with a
   * final error, and the page that carried it is not yielded (the connector releases it with the
   * failed session's pages).
   */
  async *decodedPages<P extends { nextLink: string | undefined }>(
    fn: string,
    from: Date,
    to: Date,
    decode: (body: Uint8Array) => P | Promise<P>,
    signal?: AbortSignal,
  ): AsyncGenerator<P> {
    const links = new WindowLinks(this.links, this.options.maxPagesPerWindow);
    let url: string | undefined = links.first(this.functionUrl(fn, from, to));
    while (url !== undefined) {
      const page: P = await this.getDecodedPage(url, decode, signal);
      const link = page.nextLink;
      try {
        url = link === undefined ? undefined : links.follow(link);
      } catch (error) {
        throw this.refused(error);
      }
      yield page;
    }
  }

  /** One page, parsed here; see getDecodedPage. */
  getPage(url: string, signal?: AbortSignal): Promise<CallLogPage> {
    return this.getDecodedPage(url, parseBody, signal);
  }

  /** One page, with retries: 429/503/504 after Retry-After, other 5xx and network errors with backoff. */
  async getDecodedPage<P>(
    url: string,
    decode: (body: Uint8Array) => P | Promise<P>,
    signal?: AbortSignal,
  ): Promise<P> {
    const { maxRetries, metrics } = this.options;
    const backoff = this.options.backoff ?? { minMs: 1000, maxMs: 60_000 };
    const started = this.now();
    let attempts = 0;
    try {
      return await pRetry(
        async () => {
          attempts++;
          return await this.attempt(url, decode, signal);
        },
        {
          retries: maxRetries,
          minTimeout: backoff.minMs,
          maxTimeout: backoff.maxMs,
          factor: 2,
          randomize: true,
          signal,
          shouldRetry: ({ error }) => error instanceof PstnError && error.retriable,
          onFailedAttempt: ({ error }) => {
            if (!(error instanceof PstnError) || !error.retriable) return;
            // The Retry-After hold was set when the response arrived (fetchPage), not here.
            metrics?.graphRetries.inc({ reason: error.code });
          },
        },
      );
    } catch (error) {
      this.refused(error);
      if (error instanceof PstnError && error.retriable) {
        const seconds = ((this.now() - started) / 1000).toFixed(1);
        throw new PstnError(
          ErrorCode.GRAPH_RETRIES_EXHAUSTED,
          `Graph request failed after ${attempts} attempts over ${seconds} s: ${error.message}`,
          { cause: error, statusCode: error.statusCode },
        );
      }
      throw error;
    }
  }

  /** One try, plus the single immediate retry a token rejected before its expiry deserves. */
  private async attempt<P>(
    url: string,
    decode: (body: Uint8Array) => P | Promise<P>,
    signal?: AbortSignal,
  ): Promise<P> {
    // The token sent, kept out of the error so that no log ever carries it.
    const sent: { token?: string } = {};
    try {
      return await this.fetchPage(url, decode, signal, sent);
    } catch (error) {
      if (!(error instanceof PstnError) || error.code !== ErrorCode.GRAPH_UNAUTHORIZED) throw error;
      if (sent.token !== undefined) this.options.tokens.invalidate(sent.token);
      // Through the gate again: the pacer and any Retry-After hold apply to this retry too.
      return await this.fetchPage(url, decode, signal, sent);
    }
  }

  /**
   * Sends one request through the gate: takes a slot of the pacer in the stream's turn, gets a
   * token (which may mean a token request), then waits out any Retry-After hold and sends in the
   * same synchronous step as the last look at it. A hold set while the token was being fetched
   * (another request's 429) is therefore seen before this one goes.
   */
  private async send(
    url: string,
    signal: AbortSignal | undefined,
  ): Promise<{ token: string; response: Promise<Dispatcher.ResponseData> }> {
    const { pacer, tokens } = this.options;
    await pacer.take(signal, this.options.lane);
    const token = await tokens.getToken();
    for (let held = pacer.heldMs(); held > 0; held = pacer.heldMs()) await sleepChunked(held, signal);
    signal?.throwIfAborted();
    const response = request(url, {
      method: "GET",
      dispatcher: this.options.dispatcher,
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      headersTimeout: this.options.headersTimeoutMs,
      bodyTimeout: this.options.bodyTimeoutMs,
      signal,
    });
    return { token, response };
  }

  /**
   * Holds every request of the app for the Retry-After of `status`, at once: before this body is
   * read, so that no other request passes the gate meanwhile. Returns the hold applied.
   */
  private holdForRetryAfter(status: number, headers: Dispatcher.ResponseData["headers"]): number | undefined {
    if (status !== 429 && status !== 503 && status !== 504) return undefined;
    const asked = parseRetryAfter(headers["retry-after"], this.now());
    if (asked === undefined) return undefined;
    const { heldMs, clamped } = this.options.pacer.holdFor(asked);
    if (clamped) {
      this.options.logger?.warn(
        { status, retryAfterMs: asked, heldMs },
        "Graph's Retry-After is longer than GRAPH_MAX_RETRY_AFTER; waiting the maximum instead",
      );
    }
    return heldMs;
  }

  private async fetchPage<P>(
    url: string,
    decode: (body: Uint8Array) => P | Promise<P>,
    signal: AbortSignal | undefined,
    sent: { token?: string },
  ): Promise<P> {
    const { metrics } = this.options;
    const { token, response: pending } = await this.send(url, signal);
    sent.token = token;
    const startedAt = performance.now();
    let response: Dispatcher.ResponseData;
    try {
      response = await pending;
    } catch (error) {
      metrics?.graphRequests.inc({ code: "network" });
      throw networkError(error, signal);
    }
    const retryAfterMs = this.holdForRetryAfter(response.statusCode, response.headers);
    const status = response.statusCode;
    metrics?.graphRequests.inc({ code: String(status) });
    const { maxPageBytes } = this.options;
    let body: Uint8Array | undefined;
    let excerpt = "";
    try {
      if (status === 200) {
        checkPageHead(response.headers, response.body, maxPageBytes);
        body = await readCapped(response.body, maxPageBytes, this.largeBodies, signal);
      } else {
        excerpt = await readExcerpt(response.body);
      }
    } catch (error) {
      if (error instanceof PstnError) throw error;
      throw networkError(error, signal);
    } finally {
      metrics?.graphRequestDuration.observe((performance.now() - startedAt) / 1000);
    }
    if (body !== undefined) return await decode(body);
    throw this.httpError(status, retryAfterMs, excerpt);
  }

  /** Counts and reports an answer refused as hostile or broken; returns the error to throw. */
  private refused(error: unknown): unknown {
    if (isPstnError(error) && GRAPH_REFUSED_CODES.has(error.code)) {
      this.options.metrics?.graphResponsesRefused.inc({ code: error.code });
      this.options.logger?.warn({ code: error.code }, error.message);
    }
    return error;
  }

  private httpError(status: number, retryAfterMs: number | undefined, text: string): PstnError {
    const graphMessage = graphErrorMessage(text);
    const detail = `HTTP ${status}${graphMessage ? `: ${graphMessage}` : ""}`;
    switch (true) {
      case status === 429:
        this.options.metrics?.graphThrottled.inc();
        return new PstnError(ErrorCode.GRAPH_THROTTLED, `Graph throttled the request (${detail})`, {
          retriable: true,
          retryAfterMs,
          statusCode: status,
        });
      case status === 503 || status === 504:
        return new PstnError(ErrorCode.GRAPH_UNAVAILABLE, `Graph is unavailable (${detail})`, {
          retriable: true,
          retryAfterMs,
          statusCode: status,
        });
      case status === 500 || status === 502:
        return new PstnError(ErrorCode.GRAPH_HTTP, `Graph failed (${detail})`, {
          retriable: true,
          statusCode: status,
        });
      case status === 401:
        return new PstnError(ErrorCode.GRAPH_UNAUTHORIZED, `Graph rejected the access token (${detail})`, {
          statusCode: status,
        });
      case status === 403: {
        const app = this.options.clientId ? `app ${this.options.clientId}` : "the app";
        const tenant = this.options.tenantId ? ` in tenant ${this.options.tenantId}` : "";
        return new PstnError(
          ErrorCode.GRAPH_FORBIDDEN,
          `Graph refused the call log (${detail}): ${app} needs the application permission CallRecords.Read.All with admin consent${tenant}`,
          { statusCode: status, final: true },
        );
      }
      case status === 400:
        // Our request is wrong (a range over 90 days, a malformed instant): retrying cannot help.
        return new PstnError(
          ErrorCode.GRAPH_BAD_REQUEST,
          `Graph refused the request as malformed (${detail})`,
          { statusCode: status, final: true },
        );
      default:
        return new PstnError(ErrorCode.GRAPH_HTTP, `Graph answered ${detail}`, { statusCode: status });
    }
  }
}

function graphErrorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: string; message?: string } | string;
      error_description?: string;
    };
    if (typeof body.error === "object" && body.error) {
      return [body.error.code, body.error.message].filter(Boolean).join(": ").slice(0, BODY_EXCERPT);
    }
  } catch {
    // not JSON: fall through to the raw excerpt
  }
  return text.slice(0, BODY_EXCERPT).replace(/\s+/g, " ").trim();
}

const RETRIABLE_NETWORK = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

function networkError(error: unknown, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return new PstnError(ErrorCode.ABORTED, "stopped", { cause: error });
  const code = (error as { code?: string }).code ?? "";
  const message = (error as Error).message ?? String(error);
  const retriable = RETRIABLE_NETWORK.has(code) || error instanceof undiciErrors.UndiciError;
  return new PstnError(ErrorCode.GRAPH_NETWORK, `Graph request failed: ${code ? `${code} ` : ""}${message}`, {
    cause: error,
    retriable,
  });
}
