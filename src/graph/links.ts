/**
 * Which links the bearer token may follow. A nextLink comes from the answer, so it is untrusted: it
 * is resolved against GRAPH_ENDPOINT and followed only when it stays on the endpoint's scheme, host
 * and port, under the configured version's `/communications/callRecords/`. Within a window each
 * link is followed once, and the pages of a window are capped, so that a Graph that keeps answering
 * with more pages cannot hold a window forever.
 */
import { createHash } from "node:crypto";
import { ErrorCode, PstnError } from "../errors.js";

/** Longer than any link Graph writes (a function call and a `$skip` or `$skiptoken`). */
export const MAX_LINK_LENGTH = 16_384;
/** How much of a refused link an error message or log line shows. */
const SHOWN_LINK_LENGTH = 200;

/** The pinned origin and path prefix, derived from the configured endpoint and version. */
export class LinkPolicy {
  readonly protocol: string;
  readonly host: string;
  /** `/<version>/communications/callRecords/`, below the endpoint's own path. */
  readonly pathPrefix: string;
  private readonly base: URL;
  private readonly lowerPrefix: string;

  constructor(endpoint: string, apiVersion: string) {
    this.base = new URL(`${endpoint.replace(/\/+$/, "")}/${apiVersion}/communications/callRecords/`);
    this.protocol = this.base.protocol;
    this.host = this.base.host;
    this.pathPrefix = this.base.pathname;
    // Graph's paths are case-insensitive; the origin, compared exactly, is what keeps the token home.
    this.lowerPrefix = this.pathPrefix.toLowerCase();
  }

  /** Where links are allowed to point, for messages. */
  get scope(): string {
    return `${this.protocol}//${this.host}${this.pathPrefix}`;
  }

  /** The link as an absolute URL (without fragment) inside the pinned scope, or a final PSTN_GRAPH_LINK_REFUSED. */
  resolve(link: string): string {
    const reason = this.problem(link);
    if (typeof reason === "string") {
      throw new PstnError(
        ErrorCode.GRAPH_LINK_REFUSED,
        `Graph's nextLink ${showLink(link)} is refused: it ${reason}; only links under ${this.scope} are followed, and the access token is sent nowhere else`,
      );
    }
    return reason.href;
  }

  private problem(link: string): URL | string {
    if (link.length > MAX_LINK_LENGTH) return `is longer than ${MAX_LINK_LENGTH} characters`;
    let url: URL;
    try {
      url = new URL(link, this.base);
    } catch {
      return "is not a URL";
    }
    if (url.username !== "" || url.password !== "") return "carries a user name or password";
    if (url.protocol !== this.protocol) return `uses ${url.protocol} instead of ${this.protocol}`;
    if (url.host !== this.host) return `points at ${url.host || "no host"} instead of ${this.host}`;
    if (!url.pathname.toLowerCase().startsWith(this.lowerPrefix)) return `leaves ${this.pathPrefix}`;
    url.hash = "";
    return url;
  }
}

/** One window's links: each followed once, at most `maxPages` pages in all. */
export class WindowLinks {
  private readonly seen = new Set<string>();

  constructor(
    private readonly policy: LinkPolicy,
    private readonly maxPages: number,
  ) {}

  /** The window's first URL (built by the client itself), recorded so that a link back to it is a loop. */
  first(url: string): string {
    // As the WHATWG parser writes it, so that a link back to it compares equal.
    this.seen.add(digest(new URL(url).href));
    return url;
  }

  /** The URL to fetch for `link`, the nextLink of the page just read; throws a final refusal. */
  follow(link: string): string {
    const url = this.policy.resolve(link);
    const key = digest(url);
    if (this.seen.has(key)) {
      throw new PstnError(
        ErrorCode.GRAPH_LINK_LOOP,
        `Graph's nextLink ${showLink(url)} was already followed in this window (page ${this.seen.size}): the window's pages loop, so the window is not read further`,
      );
    }
    if (this.seen.size >= this.maxPages) {
      throw new PstnError(
        ErrorCode.GRAPH_TOO_MANY_PAGES,
        `Graph answered ${this.seen.size} pages for one window and links to more; GRAPH_MAX_PAGES_PER_WINDOW is ${this.maxPages}, so the window is not read further (a shorter WINDOW_SLICE gives fewer pages per window)`,
      );
    }
    this.seen.add(key);
    return url;
  }
}

/** Links are kept as digests: a window of many long links then holds a few bytes per page. */
function digest(url: string): string {
  return createHash("sha256").update(url).digest("base64");
}

/** A link as a message shows it: user info hidden, quoted, at most 200 characters. */
export function showLink(link: string): string {
  const hidden = link.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1[user info hidden]@");
  const shown = hidden.length > SHOWN_LINK_LENGTH ? `${hidden.slice(0, SHOWN_LINK_LENGTH)}…` : hidden;
  return JSON.stringify(shown);
}
