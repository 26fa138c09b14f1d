import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, PstnError } from "../../src/errors.js";

/**
 * Starts a long-lived server process in its own process group, detached from ours, with its output
 * appended to a log file. `marker` goes on its command line so that a PID is only ever taken for
 * ours if the process behind it still carries the marker (PIDs get reused).
 */
export function spawnServer(
  command: string,
  args: readonly string[],
  options: { cwd?: string; logFile: string; env?: NodeJS.ProcessEnv },
): number {
  const fd = openSync(options.logFile, "a");
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    child.unref();
    if (child.pid === undefined) {
      throw new PstnError(
        ErrorCode.STACK_START_FAILED,
        `could not start ${command}; read ${options.logFile}`,
      );
    }
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True when `pid` is alive and is the process we started (its command line holds `marker`). */
export function isOurProcess(pid: number, marker: string): boolean {
  if (!isRunning(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(marker);
  } catch {
    return false;
  }
}

/** Alive and not a zombie (an exited child its parent has not reaped yet is not running). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the parenthesised command name, which may itself hold spaces or parens.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(pid: number, marker: string, graceMs = 15_000): Promise<void> {
  if (!isOurProcess(pid, marker)) return;
  signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurProcess(pid, marker)) return;
    await sleep(100);
  }
  signal(pid, "SIGKILL");
  while (isOurProcess(pid, marker)) await sleep(50);
}

export function killProcess(pid: number, marker: string): void {
  if (isOurProcess(pid, marker)) signal(pid, "SIGKILL");
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once("error", () => resolvePromise(false));
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolvePromise(true));
    });
  });
}

export async function requirePortsFree(ports: ReadonlyArray<{ port: number; role: string }>): Promise<void> {
  for (const { port, role } of ports) {
    if (!(await isPortFree(port))) {
      throw new PstnError(
        ErrorCode.STACK_PORT_IN_USE,
        `port ${port} on 127.0.0.1 (${role}) is in use by another process: stop it, or choose other ports with --kafka-port / --registry-port`,
      );
    }
  }
}

export interface ReadinessTarget {
  what: string;
  pid: number;
  marker: string;
  logFile: string;
  /** Resolves true once the server answers; may throw while it is still starting. */
  probe: () => Promise<boolean>;
}

/** Polls until every target answers; a target that dies or stays silent fails with its log file. */
export async function waitUntilReady(targets: readonly ReadinessTarget[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(targets);
  while (pending.size > 0) {
    for (const target of [...pending]) {
      if (!isOurProcess(target.pid, target.marker)) {
        throw new PstnError(
          ErrorCode.STACK_START_FAILED,
          `${target.what} exited during start-up; read ${target.logFile}`,
        );
      }
      const ready = await target.probe().catch(() => false);
      if (ready) pending.delete(target);
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      const first = [...pending][0]!;
      throw new PstnError(
        ErrorCode.STACK_START_TIMEOUT,
        `${first.what} did not become ready within ${Math.round(timeoutMs / 1000)}s; read ${first.logFile}`,
      );
    }
    await sleep(250);
  }
}
