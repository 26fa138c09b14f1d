import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import type { CliProcess } from "./cli.js";

/**
 * Reads a metric from a connector's /metrics; undefined when unreachable or absent. `selector` is a
 * name, or a name with labels that the series must carry (`pstn_connector_active{stream="sms"}`).
 * Several series (one per stream) combine as a sum for counters (`_total`) and as the minimum
 * otherwise: every stream active, every stream's watermark past an instant.
 */
export async function scrapeMetric(port: number, selector: string): Promise<number | undefined> {
  try {
    const response = await request(`http://127.0.0.1:${port}/metrics`, {
      headersTimeout: 1000,
      bodyTimeout: 1000,
    });
    return sampleOf(await response.body.text(), selector);
  } catch {
    return undefined;
  }
}

/** The value of `selector` in a Prometheus text (see scrapeMetric). */
export function sampleOf(text: string, selector: string): number | undefined {
  const [, name, wanted = ""] = /^([^{]+)(?:\{(.*)\})?$/.exec(selector) ?? [];
  const required = wanted.split(",").filter(Boolean);
  const values: number[] = [];
  for (const line of text.split("\n")) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample === null || sample[1] !== name) continue;
    const labels = (sample[2] ?? "").split(",");
    if (required.every((label) => labels.includes(label))) values.push(Number(sample[3]));
  }
  if (values.length === 0) return undefined;
  return name?.endsWith("_total") ? values.reduce((sum, v) => sum + v, 0) : Math.min(...values);
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
