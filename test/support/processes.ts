import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import type { CliProcess } from "./cli.js";

/** Reads one sample (without labels) from a connector's /metrics; undefined when unreachable. */
export async function scrapeMetric(port: number, name: string): Promise<number | undefined> {
  try {
    const response = await request(`http://127.0.0.1:${port}/metrics`, {
      headersTimeout: 1000,
      bodyTimeout: 1000,
    });
    const text = await response.body.text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(" ")[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls a metric of a child connector until `predicate` holds; fails early if the child exits. */
export async function waitForMetric(
  port: number,
  name: string,
  predicate: (value: number) => boolean,
  timeoutMs: number,
  child?: CliProcess,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child?.done.then(() => {
    exited = true;
  });
  for (;;) {
    const value = await scrapeMetric(port, name);
    if (value !== undefined && predicate(value)) return value;
    if (exited)
      throw new Error(`the connector exited while waiting for ${name}: ${child?.stderr.slice(-1500)}`);
    if (Date.now() > deadline)
      throw new Error(`${name} did not reach the expected value in ${timeoutMs} ms (last ${value})`);
    await sleep(200);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePromise(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Writes the simulator's CA where a child process can trust it through NODE_EXTRA_CA_CERTS. */
export async function writeCaFile(pem: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "pstn-ca-")), "simulator-ca.pem");
  await writeFile(file, pem);
  return file;
}
