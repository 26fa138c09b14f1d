/**
 * What must not outlive the benchmark (child processes, clients, the stack it started): registered
 * here, run in reverse order on the way out, also on Ctrl-C and SIGTERM.
 */
type Task = () => unknown;

const tasks: Task[] = [];
const children = new Set<{ kill(signal?: NodeJS.Signals): boolean }>();
let stopping = false;

/** Registers a cleanup; the returned function unregisters it (call it once the thing is closed). */
export function onCleanup(task: Task): () => void {
  tasks.push(task);
  return () => {
    const at = tasks.indexOf(task);
    if (at >= 0) tasks.splice(at, 1);
  };
}

/** A child process killed on exit whatever happens, even if the event loop never runs again. */
export function trackChild(child: {
  kill(signal?: NodeJS.Signals): boolean;
  once(e: "exit", f: () => void): unknown;
}) {
  children.add(child);
  child.once("exit", () => children.delete(child));
}

/** True once Ctrl-C or SIGTERM arrived: start nothing new, write nothing. */
export function isStopping(): boolean {
  return stopping;
}

export async function runCleanups(): Promise<void> {
  while (tasks.length > 0) {
    const task = tasks.pop() as Task;
    try {
      await task();
    } catch (error) {
      process.stderr.write(`bench: cleanup failed: ${(error as Error).message}\n`);
    }
  }
  for (const child of children) child.kill("SIGKILL");
}

/**
 * Ctrl-C (or SIGTERM) stops the run: cleanups, then exit 130. A second Ctrl-C exits at once; a
 * SIGTERM while stopping (the parent's, after the Ctrl-C both got) lets the cleanups finish.
 */
export function installSignalHandlers(): void {
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === "SIGINT") process.exit(130);
      return;
    }
    stopping = true;
    process.stderr.write(`bench: ${signal}: stopping what it started\n`);
    void runCleanups().finally(() => process.exit(130));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("exit", () => {
    for (const child of children) child.kill("SIGKILL");
  });
}
