/** Runs a benchmark in its own process (worker.ts, compiled) and returns what it measured. */
import { fork } from "node:child_process";
import { onCleanup, trackChild } from "./cleanup.js";
import { type Endpoints, TMP_DIR } from "./connector.js";
import type { BenchResult } from "./figures.js";

export interface WorkerTask {
  benchmark: "cpu" | "graph" | "memory" | "requests";
  /** Rows, or pages for the Graph-bound benchmark. */
  size: number;
  endpoints: Endpoints;
  kcat: string | undefined;
  /** The connector's maxBatchRows; its default when undefined. */
  maxBatchRows?: number;
  /** The CPU-bound benchmark writes a CPU profile of the pipeline. */
  profile?: boolean;
  /** How many rounds of pipeline and client ceilings the CPU-bound benchmark runs. */
  rounds?: number;
  /** Node and V8 flags for the measured process (e.g. --max-semi-space-size=4): none by default. */
  nodeFlags?: string[];
  /** Environment added for the measured process (the image's, for the memory benchmark). */
  env?: Record<string, string>;
}

export type WorkerMessage = { type: "result"; result: BenchResult } | { type: "error"; error: string };

export async function runInWorker(workerPath: string, task: WorkerTask): Promise<BenchResult> {
  const child = fork(workerPath, [JSON.stringify(task)], {
    env: { ...process.env, ...task.env, PSTN_BENCH_TMP: TMP_DIR },
    execArgv: task.nodeFlags ?? [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  trackChild(child);
  // On Ctrl-C the worker gets the signal too and cleans up (apps, topics, simulator); give it time.
  const unregister = onCleanup(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  });
  try {
    let answer: WorkerMessage | undefined;
    child.on("message", (message: WorkerMessage) => {
      answer = message;
    });
    const [code, signal] = (await new Promise((resolve) =>
      child.once("exit", (...args) => resolve(args)),
    )) as [number | null, NodeJS.Signals | null];
    if (!answer) throw new Error(`the ${task.benchmark} worker exited (${signal ?? code}) without a result`);
    if (answer.type === "error") throw new Error(answer.error);
    return answer.result;
  } finally {
    unregister();
  }
}
