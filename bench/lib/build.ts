/**
 * Compiles the benchmark worker (and the src/ it imports) to plain JavaScript, so that each
 * measured process runs as the connector does in production: `node` on compiled code, without
 * tsx's loader (about 36 MB of RSS on its own thread). The output goes to a temporary folder
 * outside the repository (lint and type-check running meanwhile never see it), laid out as a
 * package: package.json (ESM) and links to node_modules/, schemas/ and the Java topic reader's
 * source (test/support/java/, which test/support/java-reader.ts runs from beside itself).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let buildRoot: string | undefined;

/** Transpiles (no type check: `tsc --noEmit` is the project's) and returns the worker's path. */
export async function buildWorker(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "pstn-bench-"));
  buildRoot = root;
  writeFileSync(join(root, "package.json"), JSON.stringify({ type: "module", private: true }));
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"), "dir");
  symlinkSync(join(ROOT, "schemas"), join(root, "schemas"), "dir");
  mkdirSync(join(root, "test/support"), { recursive: true });
  symlinkSync(join(ROOT, "test/support/java"), join(root, "test/support/java"), "dir");
  const project = join(root, "tsconfig.json");
  writeFileSync(
    project,
    JSON.stringify({
      extends: join(ROOT, "tsconfig.json"),
      compilerOptions: { rootDir: ROOT, outDir: root, noCheck: true, sourceMap: false },
      include: [],
      files: [
        join(ROOT, "bench/lib/worker.ts"),
        join(ROOT, "bench/lib/simulator-child.ts"),
        // Loaded by URL (a worker thread), so not reached through imports.
        join(ROOT, "src/pipeline/page-decoder-thread.ts"),
      ],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const child = spawn(process.execPath, [tsc, "-p", project], { stdio: ["ignore", "inherit", "inherit"] });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`compiling the benchmark worker failed (tsc exited with ${code})`);
  return join(root, "bench/lib/worker.js");
}

/** The compiled copy goes once the run is over. */
export function removeBuild(): void {
  if (buildRoot) rmSync(buildRoot, { recursive: true, force: true });
  buildRoot = undefined;
}
