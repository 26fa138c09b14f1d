/**
 * The value schema, read once from `<package root>/schemas/pstnCallLogRow.avsc`. The package root is
 * found by walking up from this module (src/avro under tsx, dist/src/avro when shipped) to the first
 * folder holding a package.json next to the schema, so the same code works from both places.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SCHEMA_FILE = join("schemas", "pstnCallLogRow.avsc");

function findSchemaFile(from: string): string {
  let dir = from;
  for (;;) {
    const candidate = join(dir, SCHEMA_FILE);
    if (existsSync(join(dir, "package.json")) && existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`${SCHEMA_FILE} not found in any folder above ${from}: the package is incomplete`);
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

/** Absolute path of the schema file. */
export const PSTN_ROW_SCHEMA_PATH: string = findSchemaFile(dirname(fileURLToPath(import.meta.url)));

/** The schema file's text, as registered with the schema registry. */
export const PSTN_ROW_SCHEMA_TEXT: string = readFileSync(PSTN_ROW_SCHEMA_PATH, "utf8");

/** The parsed schema (deeply frozen: shared by every codec). */
export const PSTN_ROW_SCHEMA: object = deepFreeze(JSON.parse(PSTN_ROW_SCHEMA_TEXT) as object);
