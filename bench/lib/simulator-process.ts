/** Starts the Graph simulator in a child process (simulator-child.ts) and talks to it over IPC. */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { SimulatorStats } from "../../tools/simulator/index.js";
import { onCleanup, trackChild } from "./cleanup.js";

export interface SimulatorSpec {
  seed: number;
  dataStart: string;
  dataEnd: string;
  callsPerHour: number;
  pageSize: number;
  clientSecret: string;
  pageLatencyMs?: { min: number; max: number };
  budget?: { requests: number; perMs: number };
  cachePages?: boolean;
}

export type ChildRequest = { type: "sample" } | { type: "close" };
export type ChildResponse =
  | { type: "ready"; url: string; caCertificatePem: string; tenantId: string; clientId: string }
  | { type: "sample"; cpuMs: number; stats: SimulatorStats };

export interface SimulatorSample {
  /** CPU time (user + system) of the simulator's process since it started. */
  cpuMs: number;
  stats: SimulatorStats;
}

const SELF = fileURLToPath(import.meta.url);
/** Compiled (build.ts) when this module is: the simulator then runs on plain node too. */
const CHILD = SELF.replace(/simulator-process\.(ts|js)$/, "simulator-child.$1");
const CHILD_EXEC_ARGV = SELF.endsWith(".ts") ? ["--import", "tsx"] : [];

export class SimulatorProcess {
  private readonly waiting: ((sample: SimulatorSample) => void)[] = [];
  private readonly unregister: () => void;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly caCertificatePem: string,
    readonly tenantId: string,
    readonly clientId: string,
    readonly clientSecret: string,
  ) {
    child.on("message", (message: ChildResponse) => {
      if (message.type === "sample") this.waiting.shift()?.(message);
    });
    this.unregister = onCleanup(() => this.close());
  }

  static async start(options: Omit<SimulatorSpec, "clientSecret">): Promise<SimulatorProcess> {
    const spec: SimulatorSpec = { ...options, clientSecret: randomBytes(18).toString("base64url") };
    const child = fork(CHILD, [JSON.stringify(spec)], {
      execArgv: CHILD_EXEC_ARGV,
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    trackChild(child);
    let early: ((code: number | null) => void) | undefined;
    const ready = await new Promise<Extract<ChildResponse, { type: "ready" }>>((resolve, reject) => {
      early = (code) => reject(new Error(`the simulator process exited (${code}) before it was ready`));
      child.once("exit", early);
      child.once("message", (message: ChildResponse) => {
        if (message.type === "ready") resolve(message);
      });
    });
    if (early) child.off("exit", early);
    return new SimulatorProcess(
      child,
      ready.url,
      ready.caCertificatePem,
      ready.tenantId,
      ready.clientId,
      spec.clientSecret,
    );
  }

  sample(): Promise<SimulatorSample> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send({ type: "sample" } satisfies ChildRequest);
    });
  }

  async close(): Promise<void> {
    this.unregister();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "close" } satisfies ChildRequest);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
