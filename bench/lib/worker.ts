/**
 * One benchmark in a fresh process, so that its CPU time and memory are the connector's alone:
 * compiled by build.ts, started by workers.ts with its task as JSON in argv[2], answers over IPC.
 */
import { installSignalHandlers, runCleanups } from "./cleanup.js";
import { cpuBound } from "./cpu-bound.js";
import type { BenchResult } from "./figures.js";
import { graphBound } from "./graph-bound.js";
import { memory } from "./memory.js";
import { requestsPerRow } from "./requests.js";
import type { WorkerMessage, WorkerTask } from "./workers.js";

const task = JSON.parse(process.argv[2] ?? "{}") as WorkerTask;
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const runners: Record<WorkerTask["benchmark"], () => Promise<BenchResult>> = {
  cpu: () => cpuBound({ ...task, rows: task.size, log }),
  graph: () => graphBound({ ...task, pages: task.size, log }),
  memory: () => memory({ ...task, rows: task.size, log }),
  requests: () => requestsPerRow({ ...task, denseDays: task.size, log }),
};

installSignalHandlers();
let message: WorkerMessage;
try {
  message = { type: "result", result: await runners[task.benchmark]() };
} catch (error) {
  message = { type: "error", error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
} finally {
  await runCleanups();
}
await new Promise<void>((resolve) => process.send?.(message, undefined, undefined, () => resolve()));
process.disconnect?.();
