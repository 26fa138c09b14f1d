/**
 * A scripted fake Graph for the client tests: a real node:http server on 127.0.0.1, port 0. Each
 * request takes the next step of the script; every request is recorded with its arrival time (the
 * server's Date.now), path and authorization header.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  at: number;
  url: string;
  authorization: string | undefined;
  accept: string | undefined;
}

export type Step = (
  req: IncomingMessage,
  res: ServerResponse,
  later: (ms: number, fn: () => void) => void,
) => void;

export interface FakeGraph {
  base: string;
  seen: Seen[];
  /** Steps not yet used. */
  remaining(): number;
  close(): Promise<void>;
}

export async function startFakeGraph(script: Step[]): Promise<FakeGraph> {
  const steps = [...script];
  const seen: Seen[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };
  const server: Server = createServer((req, res) => {
    seen.push({
      at: Date.now(),
      url: req.url ?? "",
      authorization: req.headers.authorization,
      accept: req.headers.accept,
    });
    const step = steps.shift();
    if (!step) {
      res.writeHead(599, { "content-type": "text/plain" }).end("fake graph: request beyond the script");
      return;
    }
    step(req, res, later);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    seen,
    remaining: () => steps.length,
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A complete JSON (or raw text) answer. */
export function reply(status: number, body: unknown = {}, headers: Record<string, string> = {}): Step {
  return (_req, res) => {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  };
}

/** A Graph page. */
export function page(rows: unknown[], extra: Record<string, unknown> = {}): Step {
  return reply(200, { "@odata.count": rows.length, value: rows, ...extra });
}

/** A Graph error body with the given status and headers (computed when the request arrives). */
export function graphError(
  status: number,
  code: string,
  headers: () => Record<string, string> = () => ({}),
): Step {
  return (req, res, later) =>
    reply(status, { error: { code, message: `fake ${code}` } }, headers())(req, res, later);
}

/** Closes the connection without any answer. */
export function reset(): Step {
  return (req) => {
    req.socket.destroy();
  };
}

/** Sends the status line, headers and part of the body, then destroys the socket. */
export function cutMidBody(): Step {
  return (_req, res, later) => {
    const text = JSON.stringify({ value: [{ id: "never-complete" }] });
    res.writeHead(200, { "content-type": "application/json", "content-length": String(text.length + 500) });
    res.write(text.slice(0, 10));
    later(20, () => res.socket?.destroy());
  };
}

/** Answers `step` only after `ms`: a headers timeout for a client that waits less. */
export function delayed(ms: number, step: Step): Step {
  return (req, res, later) =>
    later(ms, () => {
      if (!res.destroyed && !req.socket.destroyed) step(req, res, later);
    });
}

/** Sends headers and half the body, then stalls past the client's body timeout. */
export function slowBody(stallMs: number): Step {
  return (_req, res, later) => {
    const text = JSON.stringify({ value: [{ id: "slow" }] });
    res.writeHead(200, { "content-type": "application/json", "content-length": String(text.length) });
    res.write(text.slice(0, 5));
    later(stallMs, () => {
      if (!res.destroyed) res.end(text.slice(5));
    });
  };
}
