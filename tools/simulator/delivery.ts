/**
 * How a Graph reply reaches the client: at once or after a delay, whole or cut off by a transport
 * fault (a body that ends early, a connection destroyed mid-body, a stall before or inside it).
 */
import type { ServerResponse } from "node:http";
import type { SimulatorContext } from "./context.js";
import type { BodyFault } from "./faults.js";

export interface Outgoing {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  contentType: string;
  /** Rows in the body, counted as served once it has been sent whole. */
  rows: number;
  /** Called as the status line and headers are written. */
  onHead?: () => void;
}

/**
 * Runs `fn` after `ms` unless the response closes first (the client gave up, or the simulator
 * closed): the timer never outlives its response.
 */
export function later(ctx: SimulatorContext, res: ServerResponse, ms: number, fn: () => void): void {
  if (res.destroyed) return;
  const cancel = (): void => {
    clearTimeout(timer);
    ctx.timers.delete(timer);
  };
  const timer = setTimeout(() => {
    ctx.timers.delete(timer);
    res.off("close", cancel);
    fn();
  }, ms);
  ctx.timers.add(timer);
  res.once("close", cancel);
}

function head(res: ServerResponse, out: Outgoing, length: number | undefined): void {
  out.onHead?.();
  res.writeHead(out.status, {
    "Content-Type": out.contentType,
    ...(length === undefined ? { "Transfer-Encoding": "chunked" } : { "Content-Length": String(length) }),
    "Cache-Control": "no-store, no-cache",
    ...out.headers,
  });
}

function finish(ctx: SimulatorContext, res: ServerResponse, out: Outgoing, from: number): void {
  if (res.destroyed) return;
  res.end(from === 0 ? out.body : out.body.subarray(from));
  ctx.stats.rowsServed += out.rows;
}

/** Sends `out`, as `fault` (if any) has it. */
export function deliver(ctx: SimulatorContext, res: ServerResponse, out: Outgoing, fault?: BodyFault): void {
  if (res.destroyed || res.headersSent) return;
  switch (fault?.kind) {
    case undefined:
      head(res, out, out.body.length);
      finish(ctx, res, out, 0);
      return;
    case "truncated":
      // Chunked, so the response ends cleanly: the client reads a complete, malformed body.
      head(res, out, undefined);
      res.end(out.body.subarray(0, fault.cutAt));
      return;
    case "reset":
      // The full Content-Length, part of the body, then the connection goes away.
      head(res, out, out.body.length);
      res.write(out.body.subarray(0, fault.cutAt), () => res.destroy());
      return;
    case "stallHeaders":
      later(ctx, res, fault.stallMs, () => deliver(ctx, res, out));
      return;
    case "stallBody":
      head(res, out, out.body.length);
      res.write(out.body.subarray(0, fault.cutAt));
      later(ctx, res, fault.stallMs, () => finish(ctx, res, out, fault.cutAt));
      return;
  }
}
