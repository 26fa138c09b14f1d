import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Readiness } from "./health.js";
import type { Metrics } from "./index.js";

export interface MetricsServer {
  port: number;
  /** The address it listens on, e.g. `::`, `0.0.0.0` or `127.0.0.1`. */
  address: string;
  close(): Promise<void>;
}

/**
 * Bounds that keep the server small whoever connects: a scraper sends one short request and reads a
 * few KiB, so anything slower or larger is cut off instead of holding a socket.
 */
export interface MetricsServerLimits {
  /** Time to receive the request head (and the whole request); Node answers 408 and closes. */
  requestTimeoutMs: number;
  /** How often Node checks those timeouts: a trickling client is closed within this after them. */
  checkIntervalMs: number;
  /** Idle time of a kept-alive connection between requests. */
  keepAliveTimeoutMs: number;
  /** Time for a response to be written out to a reader that does not read. */
  responseTimeoutMs: number;
  /** Connections open at once; past it, new ones are closed at once. */
  maxConnections: number;
  maxHeaderBytes: number;
  maxHeadersCount: number;
}

/**
 * The cap is far above what Prometheus, the probes and an operator's curl open together, and the
 * timeouts free every slot of a slow or silent client within about 11 s.
 */
export const DEFAULT_METRICS_LIMITS: MetricsServerLimits = {
  requestTimeoutMs: 10_000,
  checkIntervalMs: 500,
  keepAliveTimeoutMs: 5_000,
  responseTimeoutMs: 10_000,
  maxConnections: 512,
  maxHeaderBytes: 8 * 1024,
  maxHeadersCount: 64,
};

/**
 * `/metrics` (Prometheus text), `/healthz` (the process lives), `/readyz` (dependencies answer),
 * `/status` (each unit: its state here, watermark, last failure) where `health` describes them.
 * Without `host` it listens on all interfaces (`::` with IPv4 too, or `0.0.0.0` where IPv6 is off).
 */
export async function startMetricsServer(
  metrics: Metrics,
  health: Readiness,
  port: number,
  host?: string,
  limits: Partial<MetricsServerLimits> = {},
): Promise<MetricsServer> {
  const bounds = { ...DEFAULT_METRICS_LIMITS, ...limits };
  const server: Server = createServer(
    {
      requestTimeout: bounds.requestTimeoutMs,
      headersTimeout: bounds.requestTimeoutMs,
      connectionsCheckingInterval: bounds.checkIntervalMs,
      keepAliveTimeout: bounds.keepAliveTimeoutMs,
      maxHeaderSize: bounds.maxHeaderBytes,
    },
    (request, response) => {
      headDeadline.disarm(request.socket);
      // A response the client does not take in time is abandoned with its socket.
      const timer = setTimeout(() => response.destroy(), bounds.responseTimeoutMs);
      timer.unref();
      response.once("close", () => {
        clearTimeout(timer);
        headDeadline.arm(request.socket);
      });
      answer(metrics, health, request, response);
    },
  );
  server.maxConnections = bounds.maxConnections;
  server.maxHeadersCount = bounds.maxHeadersCount;
  // Node enforces its own request timeouts only when the client sends again (a byte every minute
  // holds a socket for minutes) and not at all before the first byte: each connection has its own
  // deadline for a complete request head, from its opening and again after each response.
  const headDeadline = new Deadlines(bounds.requestTimeoutMs);
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    headDeadline.arm(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      headDeadline.disarm(socket);
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    const ready = () => {
      server.off("error", reject);
      resolvePromise();
    };
    if (host === undefined) server.listen(port, ready);
    else server.listen(port, host, ready);
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    address: address.address,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** One timer per socket: it destroys the socket unless disarmed in time. */
class Deadlines {
  private readonly timers = new Map<Socket, NodeJS.Timeout>();

  constructor(private readonly ms: number) {}

  arm(socket: Socket): void {
    this.disarm(socket);
    if (socket.destroyed) return;
    const timer = setTimeout(() => {
      this.timers.delete(socket);
      socket.destroy();
    }, this.ms);
    timer.unref();
    this.timers.set(socket, timer);
  }

  disarm(socket: Socket): void {
    const timer = this.timers.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.timers.delete(socket);
  }
}

function answer(
  metrics: Metrics,
  health: Readiness,
  request: IncomingMessage,
  response: ServerResponse,
): void {
  const path = (request.url ?? "/").split("?")[0];
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  if (path === "/metrics") {
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (error: Error) => response.writeHead(500, { "content-type": "text/plain" }).end(error.message),
    );
  } else if (path === "/healthz") {
    response.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  } else if (path === "/status" && health.status) {
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify(health.status(), null, 2));
  } else if (path === "/readyz") {
    const ready = health.ready();
    response
      .writeHead(ready ? 200 : 503, { "content-type": "application/json" })
      .end(JSON.stringify({ status: ready ? "ready" : "not ready", dependencies: health.snapshot() }));
  } else {
    response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  }
}
