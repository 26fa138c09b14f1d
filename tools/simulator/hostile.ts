/**
 * A hostile Graph, for the connector's edge tests: answers that try to steer the bearer token
 * elsewhere, to keep a window paging forever, or to exhaust memory and stack. Every mode is off
 * unless asked for, and meets only the requests it is aimed at, so that pages before it are served
 * as usual and what the connector published from them can be checked afterwards.
 */
import type { ServerResponse } from "node:http";
import { ErrorCode, PstnError } from "../../src/errors.js";
import type { SimulatorContext } from "./context.js";

export interface HostileOptions {
  /**
   * Only requests for a range ending after this instant meet the attack: the windows up to it are
   * served as usual (and so are re-reads that end there). Default: every range.
   */
  after?: Date;
  /** The first this many Graph requests (of each tenant: its own count) are served as usual; default 0. */
  afterRequests?: number;
  /** Every page carries this `@odata.nextLink` (absolute or relative, any scheme), the last page too. */
  nextLink?: string;
  /** Every page links to itself: the same nextLink forever. */
  loop?: boolean;
  /** Every page links to the next `$skip`, past the data too: a window of distinct links without end. */
  endless?: boolean;
  /**
   * Instead of the page: a 200 of `bytes` bytes (default type text/html), streamed as the client
   * reads it, with a Content-Length (default) or chunked.
   */
  oversized?: { bytes: number; contentType?: string; contentLength?: boolean };
  /** Instead of the page: a page of this many rows (ids `hostile-<n>`), streamed. */
  rows?: number;
  /** The page gets a first row, without id, whose one property nests this many arrays deep. */
  depth?: number;
}

const STREAM_CHUNK = 64 * 1024;

function invalid(message: string): PstnError {
  return new PstnError(ErrorCode.CONFIG_INVALID, `simulator: hostile.${message}`);
}

function wholeAtLeast(value: number | undefined, min: number, name: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) {
    throw invalid(`${name} must be a whole number >= ${min}, got ${value}`);
  }
}

export function validateHostile(hostile: HostileOptions | undefined): HostileOptions | undefined {
  if (hostile === undefined) return undefined;
  if (hostile.after !== undefined && Number.isNaN(hostile.after.getTime()))
    throw invalid("after must be a valid Date");
  wholeAtLeast(hostile.afterRequests, 0, "afterRequests");
  wholeAtLeast(hostile.oversized?.bytes, 0, "oversized.bytes");
  wholeAtLeast(hostile.rows, 0, "rows");
  wholeAtLeast(hostile.depth, 1, "depth");
  const links = [hostile.nextLink !== undefined, hostile.loop === true, hostile.endless === true];
  if (links.filter(Boolean).length > 1) throw invalid("nextLink, loop and endless exclude each other");
  const bodies = [hostile.oversized !== undefined, hostile.rows !== undefined, hostile.depth !== undefined];
  if (bodies.filter(Boolean).length > 1) throw invalid("oversized, rows and depth exclude each other");
  return { ...hostile, ...(hostile.oversized ? { oversized: { ...hostile.oversized } } : {}) };
}

/** Whether the request numbered `ctx.stats.graphRequests`, for a range ending at `toMs`, meets the attack. */
export function hostileFor(ctx: SimulatorContext, toMs: number): HostileOptions | undefined {
  const hostile = ctx.hostile;
  if (hostile === undefined) return undefined;
  if (ctx.stats.graphRequests <= (hostile.afterRequests ?? 0)) return undefined;
  if (hostile.after !== undefined && toMs <= hostile.after.getTime()) return undefined;
  ctx.stats.faultsInjected.hostile++;
  return hostile;
}

/** The nextLink a hostile page carries instead of `natural`. */
export function hostileLink(
  hostile: HostileOptions,
  links: { natural: string | undefined; self: string; following: string },
): string | undefined {
  if (hostile.nextLink !== undefined) return hostile.nextLink;
  if (hostile.loop) return links.self;
  if (hostile.endless) return links.following;
  return links.natural;
}

/** A first row, without id, nested `depth` arrays deep. */
export function deepRow(depth: number): string {
  return `{"nested":${"[".repeat(depth)}${"]".repeat(depth)}}`;
}

/** Writes `parts()` as the client takes it (backpressure), counting bytes; stops when the client goes. */
function pump(ctx: SimulatorContext, res: ServerResponse, parts: Iterator<Buffer | string>): void {
  res.on("error", () => undefined);
  const next = (): void => {
    while (!res.destroyed) {
      const part = parts.next();
      if (part.done) {
        res.end();
        return;
      }
      const chunk = typeof part.value === "string" ? Buffer.from(part.value) : part.value;
      ctx.stats.hostileBytesWritten += chunk.length;
      if (!res.write(chunk)) {
        res.once("drain", next);
        return;
      }
    }
  };
  next();
}

function* filler(prefix: string, total: number): Generator<Buffer> {
  const head = Buffer.from(prefix).subarray(0, total);
  yield head;
  const block = Buffer.alloc(STREAM_CHUNK, 0x78);
  for (let left = total - head.length; left > 0; left -= block.length) {
    yield left >= block.length ? block : block.subarray(0, left);
  }
}

/** The oversized 200, streamed: never more than a chunk of it is held. */
export function streamOversized(
  ctx: SimulatorContext,
  res: ServerResponse,
  oversized: NonNullable<HostileOptions["oversized"]>,
  headers: Record<string, string>,
): void {
  const contentType = oversized.contentType ?? "text/html; charset=utf-8";
  res.writeHead(200, {
    ...headers,
    "Content-Type": contentType,
    ...(oversized.contentLength === false
      ? { "Transfer-Encoding": "chunked" }
      : { "Content-Length": String(oversized.bytes) }),
  });
  const prefix = /json/i.test(contentType)
    ? '{"value":[],"padding":"'
    : "<!DOCTYPE html><html><head><title>Sign in</title></head><body>";
  pump(ctx, res, filler(prefix, oversized.bytes));
}

function* manyRows(context: string, count: number, startField: string, start: string): Generator<string> {
  yield `{"@odata.context":${JSON.stringify(context)},"@odata.count":${count},"value":[`;
  const perChunk = 1000;
  for (let from = 0; from < count; from += perChunk) {
    const rows: string[] = [];
    for (let i = from; i < Math.min(count, from + perChunk); i++) {
      rows.push(`{"id":"hostile-${i}",${JSON.stringify(startField)}:${JSON.stringify(start)}}`);
    }
    yield (from === 0 ? "" : ",") + rows.join(",");
  }
  yield "]}";
}

/** A page of `count` rows, streamed chunked. */
export function streamRows(
  ctx: SimulatorContext,
  res: ServerResponse,
  count: number,
  /** `startField`: the property the stream's rows are selected by. */
  page: { context: string; startField: string; start: string; contentType: string },
  headers: Record<string, string>,
): void {
  res.writeHead(200, { ...headers, "Content-Type": page.contentType, "Transfer-Encoding": "chunked" });
  pump(ctx, res, manyRows(page.context, count, page.startField, page.start));
}
