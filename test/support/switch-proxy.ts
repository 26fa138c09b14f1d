import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";

/**
 * An HTTP forwarder in front of a real server that a test can switch off (503 for every request)
 * and on again: an outage of the schema registry without losing the registry's own state.
 */
export class SwitchProxy {
  up = true;
  requestsWhileDown = 0;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<SwitchProxy> {
    const targetUrl = new URL(target);
    let proxy: SwitchProxy | undefined;
    const server = createServer((req, res) => {
      if (!proxy?.up) {
        if (proxy) proxy.requestsWhileDown++;
        res.writeHead(503, { "content-type": "text/plain" }).end("switched off by the test\n");
        return;
      }
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const headers = { ...req.headers };
        delete headers.host;
        request(new URL(req.url ?? "/", targetUrl.origin), {
          method: req.method as "GET",
          headers,
          body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
        }).then(
          async (upstream) => {
            const body = Buffer.from(await upstream.body.arrayBuffer());
            res.writeHead(upstream.statusCode, upstream.headers as Record<string, string>).end(body);
          },
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((resolvePromise) => server.listen(0, "127.0.0.1", resolvePromise));
    const port = (server.address() as AddressInfo).port;
    proxy = new SwitchProxy(server, `http://127.0.0.1:${port}${targetUrl.pathname}`);
    return proxy;
  }

  close(): Promise<void> {
    return new Promise((resolvePromise) => {
      this.server.closeAllConnections();
      this.server.close(() => resolvePromise());
    });
  }
}
