/**
 * Starts the fleet benchmark's Graph simulator (fleet-simulator-child.ts: every tenant of the fleet
 * in one simulator) in a child process and talks to it over IPC.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { SimulatorStats } from "../../tools/simulator/index.js";
import { onCleanup, trackChild } from "./cleanup.js";

export interface FleetTenantSpec {
  tenantId: string;
  /** PSTN calls an hour; Direct Routing and SMS follow at the simulator's default ratios. */
  callsPerHour: number;
}

export interface FleetSimulatorSpec {
  seed: number;
  /** The first is the simulator's main tenant, the others are served beside it. */
  tenants: FleetTenantSpec[];
  /** ISO instant of the first row; no end: rows keep coming as the clock moves. */
  dataStart: string;
  /** Every row becomes visible exactly this long after its start. */
  visibilityDelayMs: number;
  clientSecret: string;
}

/** One (tenant, stream): its visible rows' ids, and when each became visible (ms). */
export interface TruthUnit {
  tenant: string;
  stream: string;
  ids: string[];
  visibleAt: number[];
}

export type FleetChildRequest = { type: "sample" } | { type: "truth" } | { type: "close" };
export type FleetChildResponse =
  | { type: "ready"; url: string; caCertificatePem: string; clientId: string }
  | { type: "sample"; cpuMs: number; stats: SimulatorStats }
  | { type: "truth"; units: TruthUnit[]; atMs: number };

const SELF = fileURLToPath(import.meta.url);
const CHILD = SELF.replace(/fleet-simulator\.(ts|js)$/, "fleet-simulator-child.$1");
const CHILD_EXEC_ARGV = SELF.endsWith(".ts") ? ["--import", "tsx"] : [];

export class FleetSimulator {
  private readonly waiting: { type: string; resolve: (message: FleetChildResponse) => void }[] = [];
  private readonly unregister: () => void;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly caCertificatePem: string,
    readonly clientId: string,
    readonly clientSecret: string,
  ) {
    child.on("message", (message: FleetChildResponse) => {
      const at = this.waiting.findIndex((waiter) => waiter.type === message.type);
      if (at >= 0) this.waiting.splice(at, 1)[0]?.resolve(message);
    });
    this.unregister = onCleanup(() => this.close());
  }

  static async start(options: Omit<FleetSimulatorSpec, "clientSecret">): Promise<FleetSimulator> {
    const spec: FleetSimulatorSpec = { ...options, clientSecret: randomBytes(18).toString("base64url") };
    const child = fork(CHILD, [JSON.stringify(spec)], {
      execArgv: CHILD_EXEC_ARGV,
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      // The truth of a thousand tenants is a large message: structured clone, not JSON text.
      serialization: "advanced",
    });
    trackChild(child);
    let early: ((code: number | null) => void) | undefined;
    const ready = await new Promise<Extract<FleetChildResponse, { type: "ready" }>>((resolve, reject) => {
      early = (code) => reject(new Error(`the fleet simulator exited (${code}) before it was ready`));
      child.once("exit", early);
      child.once("message", (message: FleetChildResponse) => {
        if (message.type === "ready") resolve(message);
      });
    });
    if (early) child.off("exit", early);
    return new FleetSimulator(child, ready.url, ready.caCertificatePem, ready.clientId, spec.clientSecret);
  }

  private ask<T extends FleetChildResponse["type"]>(
    type: T & FleetChildRequest["type"],
  ): Promise<Extract<FleetChildResponse, { type: T }>> {
    return new Promise((resolve) => {
      this.waiting.push({ type, resolve: resolve as (message: FleetChildResponse) => void });
      this.child.send({ type } as FleetChildRequest);
    });
  }

  /** Its CPU time (ms) since it started, and every tenant's Graph stats summed. */
  async sample(): Promise<{ cpuMs: number; stats: SimulatorStats }> {
    const { cpuMs, stats } = await this.ask("sample");
    return { cpuMs, stats };
  }

  /** Every row visible now, per tenant and stream, with its visible-at instant. */
  async truth(): Promise<{ units: TruthUnit[]; atMs: number }> {
    const { units, atMs } = await this.ask("truth");
    return { units, atMs };
  }

  async close(): Promise<void> {
    this.unregister();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "close" } satisfies FleetChildRequest);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
