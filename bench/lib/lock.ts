/**
 * One benchmark run at a time on a machine: two would share its cores and disturb each other's
 * figures. A second run waits for the first (the lock file holds its pid; a dead owner's lock is
 * taken over).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { TMP_DIR } from "./connector.js";

const LOCK = `${TMP_DIR}bench.lock`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock, waiting while another live run holds it; returns its release. */
export async function lockRuns(log: (line: string) => void): Promise<() => void> {
  mkdirSync(TMP_DIR, { recursive: true });
  let told = false;
  for (;;) {
    try {
      const fd = openSync(LOCK, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(LOCK, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number(readFileSync(LOCK, "utf8").trim());
    if (!(owner > 0) || !alive(owner)) {
      rmSync(LOCK, { force: true });
      continue;
    }
    if (!told)
      log(
        `another benchmark run (pid ${owner}) is running: waiting for it (its figures and ours would suffer)`,
      );
    told = true;
    await sleep(5_000);
  }
}
