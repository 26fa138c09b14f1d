import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, PstnError } from "../../src/errors.js";

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; ENOENT (command not found) resolves with code null. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") resolvePromise({ code: null, stdout, stderr });
      else reject(error);
    });
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Parses the major version out of `java -version` output ("1.8.0_392" is 8, "17.0.15" is 17). */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] ? Number(match[2]) : first;
}

export interface JavaRuntime {
  executable: string;
  major: number;
}

const JVM_ROOT = "/usr/lib/jvm";

/**
 * Finds a Java runtime of at least `minMajor`: JAVA_HOME first, then `java` on PATH, then the
 * newest JDK under /usr/lib/jvm (where Debian and Temurin packages install side by side).
 */
export async function requireJava(
  minMajor: number,
  needs: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<JavaRuntime> {
  const candidates: string[] = [];
  if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, "bin", "java"));
  candidates.push("java");
  if (existsSync(JVM_ROOT)) {
    const homes = readdirSync(JVM_ROOT)
      .map((name) => join(JVM_ROOT, name, "bin", "java"))
      .filter((java) => existsSync(java));
    candidates.push(...homes);
  }
  const found: JavaRuntime[] = [];
  for (const executable of new Set(candidates)) {
    const result = await runCommand(executable, ["-version"], { env });
    if (result.code !== 0) continue;
    const major = parseJavaMajor(result.stderr + result.stdout);
    if (major !== undefined) found.push({ executable, major });
  }
  // The user's choice (JAVA_HOME, then PATH) wins when it is new enough; otherwise the newest JDK.
  const chosen = found.filter((runtime) => !runtime.executable.startsWith(JVM_ROOT));
  const installed = found.filter((runtime) => runtime.executable.startsWith(JVM_ROOT));
  installed.sort((a, b) => b.major - a.major);
  const runtime = [...chosen, ...installed].find((r) => r.major >= minMajor);
  if (runtime) return runtime;
  const seen =
    found.length === 0
      ? "no Java at all"
      : `only ${found.map((r) => `${r.executable} (${r.major})`).join(", ")}`;
  throw new PstnError(
    ErrorCode.STACK_JAVA_MISSING,
    `${needs} needs Java ${minMajor}+, found ${seen}: install a JDK ${minMajor}+ or set JAVA_HOME to one`,
  );
}

export async function requireMaven(env: NodeJS.ProcessEnv): Promise<string> {
  const result = await runCommand("mvn", ["--version"], { env });
  if (result.code !== 0) {
    throw new PstnError(
      ErrorCode.STACK_MAVEN_MISSING,
      "Maven (mvn) not found on PATH: it resolves Kafka and the registry once; install it (apt-get install maven)",
    );
  }
  return "mvn";
}
