/**
 * Row schemas, each read once from `<package root>/schemas/<file>`. The package root is found by
 * walking up from this module (src/avro under tsx, dist/src/avro when shipped) to the first folder
 * holding a package.json next to the schemas, so the same code works from both places.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findSchemaFile(from: string, file: string): string {
  const relative = join("schemas", file);
  let dir = from;
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(join(dir, "package.json")) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`${relative} not found in any folder above ${from}: the package is incomplete`);
    }
    dir = parent;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

export interface RowSchema {
  /** Absolute path of the schema file. */
  path: string;
  /** The file's text, as registered with the schema registry. */
  text: string;
  /** The parsed schema (deeply frozen: shared by every codec). */
  schema: object;
}

const loaded = new Map<string, RowSchema>();

/** The row schema in `schemas/<file>`, read once per process. */
export function rowSchema(file: string): RowSchema {
  let found = loaded.get(file);
  if (found === undefined) {
    const path = findSchemaFile(dirname(fileURLToPath(import.meta.url)), file);
    const text = readFileSync(path, "utf8");
    found = { path, text, schema: deepFreeze(JSON.parse(text) as object) };
    loaded.set(file, found);
  }
  return found;
}

const pstn = rowSchema("pstnCallLogRow.avsc");
export const PSTN_ROW_SCHEMA_PATH: string = pstn.path;
export const PSTN_ROW_SCHEMA_TEXT: string = pstn.text;
export const PSTN_ROW_SCHEMA: object = pstn.schema;
