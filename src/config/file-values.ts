/**
 * What the configuration files (CONNECTOR_TENANTS_FILE, PRIVACY_POLICY_FILE) share: reading a
 * bounded file, YAML (of which JSON is a part) with a line number in its one problem, secrets named
 * by reference instead of written, and unknown keys named with the nearest known one.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import { listWords } from "./fields.js";
import { closestName } from "./similarity.js";

/** Where references are resolved: the environment, and the folder relative file paths start in. */
export interface ReferenceContext {
  env: Readonly<Record<string, string | undefined>>;
  base: string;
}

/** Past this, a file is not configuration (a mistake, or something hostile). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** The file's text, or the one problem that keeps it from being read. */
export function readBoundedFile(path: string, where: string): { text: string } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problem: `${where}: cannot be read (${code ?? (error as Error).message})` };
  }
  if (Buffer.byteLength(text) > MAX_FILE_BYTES)
    return { problem: `${where}: is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB` };
  return { text };
}

/** The document's value, or the one problem that makes it neither YAML nor JSON. */
export function parseYaml(text: string, where: string): { root: unknown } | { problem: string } {
  const document = parseDocument(text, { uniqueKeys: true });
  if (document.errors.length > 0) {
    const first = document.errors[0];
    const line = first?.linePos?.[0]?.line;
    return {
      problem: `${where}${line === undefined ? "" : `, line ${line}`}: is not YAML or JSON (${first?.code ?? "syntax"})`,
    };
  }
  return { root: document.toJS({ maxAliasCount: 100 }) };
}

const REFERENCE_KEYS = ["env", "file"] as const;

/**
 * A secret named by reference: `{ env: NAME }` (its value) or `{ file: PATH }` (its contents, or,
 * with `pathOnly`, the path of a file that exists). Written inline, it is refused unread, and no
 * problem line carries a secret's value.
 */
export function readReference(
  value: unknown,
  context: ReferenceContext,
  report: (message: string) => void,
  options: { pathOnly?: boolean } = {},
): string | undefined {
  const forms = options.pathOnly ? "{ file: PATH }" : "{ env: NAME } or { file: PATH }";
  if (!isRecord(value)) {
    report(`is written in the file; name it by reference instead: ${forms}`);
    return undefined;
  }
  const keys = Object.keys(value);
  const allowed: readonly string[] = options.pathOnly ? ["file"] : REFERENCE_KEYS;
  if (keys.length !== 1 || !allowed.includes(keys[0] as string)) {
    report(`is not a reference; use ${forms}`);
    return undefined;
  }
  if (value.env !== undefined) {
    const name = value.env;
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      report("env: is not an environment variable name");
      return undefined;
    }
    const secret = context.env[name];
    if (secret === undefined || secret.trim() === "") {
      report(`env: ${name} is not set`);
      return undefined;
    }
    return secret.trim();
  }
  if (typeof value.file !== "string" || value.file.trim() === "") {
    report("file: is not a path");
    return undefined;
  }
  const path = resolve(context.base, value.file.trim());
  try {
    const contents = readFileSync(path, "utf8");
    if (options.pathOnly) return path;
    if (contents.trim() === "") {
      report(`file: ${path} is empty`);
      return undefined;
    }
    return contents.trim();
  } catch (error) {
    report(`file: ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    return undefined;
  }
}

/** `<where> <at><key>: unknown key`, with the nearest known key or the list of them. */
export function unknownKey(where: string, at: string, key: string, known: readonly string[]): string {
  return `${where} ${at}${key}: ${unknownKeyMessage(key, known)}`;
}

/** `unknown key`, with the nearest known key or the list of them. */
function unknownKeyMessage(key: string, known: readonly string[]): string {
  const near = closestName(key, known);
  return `unknown key${near === undefined ? `; use ${listWords(known)}` : `; did you mean ${near}?`}`;
}

/** Reports each key of `record` that is not one of `known`, as `.<key>`. */
export function reportUnknownKeys(
  record: Record<string, unknown>,
  known: readonly string[],
  report: (key: string, message: string) => void,
): void {
  for (const key of Object.keys(record))
    if (!known.includes(key)) report(`.${key}`, unknownKeyMessage(key, known));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
