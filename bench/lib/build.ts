/**
 * Compiles the benchmark worker (and the src/ it imports) to plain JavaScript under
 * results/tmp/build, so that each measured process runs as the connector runs in production:
 * `node` on compiled code, without tsx's loader (about 36 MB of RSS on its own thread).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { TMP_DIR } from "./connector.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BUILD_DIR = `${TMP_DIR}build/`;
const PROJECT = `${TMP_DIR}tsconfig.worker.json`;

/** Transpiles (no type check: `tsc --noEmit` is the project's) and returns the worker's path. */
export async function buildWorker(): Promise<string> {
  mkdirSync(TMP_DIR, { recursive: true });
  writeFileSync(
    PROJECT,
    JSON.stringify({
      extends: `${ROOT}tsconfig.json`,
      compilerOptions: { rootDir: ROOT, outDir: BUILD_DIR, noCheck: true, sourceMap: false },
      include: [],
      files: [`${ROOT}bench/lib/worker.ts`, `${ROOT}bench/lib/simulator-child.ts`],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const child = spawn(process.execPath, [tsc, "-p", PROJECT], { stdio: ["ignore", "inherit", "inherit"] });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`compiling the benchmark worker failed (tsc exited with ${code})`);
  return `${BUILD_DIR}bench/lib/worker.js`;
}

/** The compiled copy goes once the run is over (it would only go stale). */
export function removeBuild(): void {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  rmSync(PROJECT, { force: true });
}
