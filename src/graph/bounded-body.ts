/**
 * Reading Graph's answers within bounds: a page only when its type says JSON and only up to a byte
 * cap, counted as the bytes arrive (a Content-Length may be absent or lie), and of an error answer
 * only the excerpt its message needs. Answers larger than any real page are read one at a time, so
 * that windows fetched together hold at most one cap's worth between them, not one each.
 */
import type { Dispatcher } from "undici";
import { ErrorCode, PstnError } from "../errors.js";

type Body = Dispatcher.ResponseData["body"];
type Headers = Dispatcher.ResponseData["headers"];

/** What an error message quotes of an error answer; the rest is never read. */
export const ERROR_EXCERPT_BYTES = 64 * 1024;
/** Read without waiting for the large-answer turn: four times a page of 1,000 rows. */
export const SMALL_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Turns, one at a time, for reading an answer past SMALL_BODY_BYTES. The holder never waits for
 * anything but its own bytes, so turns always come; a reader waiting for one reads nothing, and its
 * connection's flow control holds the sender back.
 */
export class LargeBodyTurns {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves with the function that ends the turn; rejects when `signal` aborts first. */
  async take(signal?: AbortSignal): Promise<() => void> {
    let end!: () => void;
    const mine = new Promise<void>((resolve) => {
      end = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => mine);
    try {
      await untilAborted(previous, signal);
    } catch (error) {
      // Given up: the turn passes on as soon as it comes.
      void previous.then(end);
      throw error;
    }
    return end;
  }
}

function untilAborted(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return wait;
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    void wait.then(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    });
  });
}

/** `application/json` or a `+json` type, parameters (odata.metadata, charset) allowed. */
export function isJsonContentType(value: string | string[] | undefined): boolean {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return false;
  const type = (text.split(";", 1)[0] ?? "").trim().toLowerCase();
  return type === "application/json" || /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(type);
}

/**
 * Refuses a 200 that is not JSON or that declares more than `maxBytes`, before reading any of it.
 * The body is destroyed: its connection is closed rather than drained.
 */
export function checkPageHead(headers: Headers, body: Body, maxBytes: number): void {
  const type = headers["content-type"];
  if (!isJsonContentType(type)) {
    discard(body);
    const shown = JSON.stringify(String(Array.isArray(type) ? type[0] : (type ?? "")).slice(0, 100));
    throw new PstnError(
      ErrorCode.GRAPH_BAD_CONTENT_TYPE,
      `Graph answered 200 with content type ${shown}, not JSON: not a call-log page, refused unread`,
    );
  }
  const declared = Number(headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(body);
    throw tooLarge(`declares ${declared} bytes`, maxBytes);
  }
}

/**
 * The whole body, or a final PSTN_GRAPH_BODY_TOO_LARGE as soon as more than `maxBytes` arrived.
 * Past SMALL_BODY_BYTES it reads on only in its turn of `turns`.
 */
export async function readCapped(
  body: Body,
  maxBytes: number,
  turns?: LargeBodyTurns,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  let endTurn: (() => void) | undefined;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) {
        discard(body);
        throw tooLarge(`sent more than ${maxBytes} bytes`, maxBytes);
      }
      chunks.push(chunk);
      if (turns !== undefined && endTurn === undefined && total > SMALL_BODY_BYTES) {
        endTurn = await turns.take(signal);
      }
    }
  } finally {
    endTurn?.();
  }
  // One buffer of its own, so that it can move to the decoder thread without a copy.
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** At most `maxBytes` of the body as text; a longer body is cut off and its connection closed. */
export async function readExcerpt(body: Body, maxBytes = ERROR_EXCERPT_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    if (total >= maxBytes) {
      discard(body);
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8");
}

/** Closes the body's connection instead of reading on; the abort it reports is expected. */
function discard(body: Body): void {
  body.on("error", () => undefined);
  body.destroy();
}

function tooLarge(what: string, maxBytes: number): PstnError {
  return new PstnError(
    ErrorCode.GRAPH_BODY_TOO_LARGE,
    `Graph's answer ${what}, over GRAPH_MAX_PAGE_BYTES (${maxBytes}); a page of 1,000 rows is about 1 MB, so it is refused`,
  );
}
