/**
 * Where values come from: a config file (JSON or dotenv), the environment, and overrides from
 * command-line flags, in rising precedence; and which names in them are not ours.
 */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { z } from "zod";
import { listWords } from "./fields.js";
import { closestName, relatedNames } from "./similarity.js";
import {
  FOREIGN_VARIABLE_PATTERN,
  FOREIGN_VARIABLES,
  OTHER_CLIENTS_NAMES,
  OWN_PREFIXES,
  VARIABLE_NAMES,
} from "./variables.js";

export type Origin =
  | { kind: "environment" }
  | { kind: "file"; path: string; line?: number }
  | { kind: "override" };

export interface Setting {
  value: string;
  origin: Origin;
}

interface ConfigFile {
  /** Every key of the file, known or not, with its value as text. */
  entries: Map<string, Setting>;
  problems: string[];
  /** The file could not be read or parsed as a whole: nothing else can be judged. */
  unusable: boolean;
}

/** Reads a config file: `.json` holds an object of variable names to values, anything else is dotenv. */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a directory"
            : code;
    return {
      entries: new Map(),
      problems: [`config file ${path}: cannot be read (${reason ?? "unknown error"})`],
      unusable: true,
    };
  }
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  return extname(path).toLowerCase() === ".json" ? parseJsonFile(path, text) : parseDotenvFile(path, text);
}

const JSON_OBJECT = z.record(z.string(), z.unknown());
const JSON_VALUE = z.union([z.string(), z.number().finite(), z.boolean()]);

function parseJsonFile(path: string, text: string): ConfigFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // The parser's own message quotes the text around the error, which may be a secret: give the place only.
    return {
      entries: new Map(),
      problems: [`config file ${path}: is not valid JSON${jsonErrorPlace(text, error)}`],
      unusable: true,
    };
  }
  const object = JSON_OBJECT.safeParse(parsed);
  if (!object.success || Array.isArray(parsed)) {
    return {
      entries: new Map(),
      problems: [`config file ${path}: must hold one JSON object of variable names to values`],
      unusable: true,
    };
  }
  const entries = new Map<string, Setting>();
  const problems: string[] = [];
  for (const [key, value] of Object.entries(object.data)) {
    const checked = JSON_VALUE.safeParse(value);
    if (checked.success) entries.set(key, { value: String(checked.data), origin: { kind: "file", path } });
    else
      problems.push(
        `${key}: in config file ${path} must be a string, number or boolean, not ${describeJson(value)}`,
      );
  }
  return { entries, problems, unusable: false };
}

function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

function jsonErrorPlace(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn !== null) return ` (line ${lineColumn[1]}, column ${lineColumn[2]})`;
  const position = /position (\d+)/.exec(message);
  if (position === null) return "";
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return ` (line ${line}, column ${column})`;
}

const DOTENV_LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/;

/**
 * dotenv: `KEY=VALUE` lines, blank lines and `#` comments, an optional `export `, values optionally in
 * single quotes (literal) or double quotes (with \n, \t, \" and \\ escapes); an unquoted value ends at
 * ` #`. Problems name the line, never its content: it may hold a secret.
 */
function parseDotenvFile(path: string, text: string): ConfigFile {
  const entries = new Map<string, Setting>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const match = DOTENV_LINE.exec(trimmed);
    const key = match?.[1];
    if (match === null || key === undefined) {
      problems.push(`config file ${path}, line ${line}: expected KEY=VALUE`);
      return;
    }
    const value = dotenvValue(match[2] ?? "");
    if (value === undefined) {
      problems.push(
        `${key}: in config file ${path}, line ${line}, a quoted value is not closed or is followed by more text`,
      );
      return;
    }
    const previous = entries.get(key);
    if (previous !== undefined && previous.origin.kind === "file") {
      problems.push(`${key}: set twice in config file ${path} (lines ${previous.origin.line} and ${line})`);
      return;
    }
    entries.set(key, { value, origin: { kind: "file", path, line } });
  });
  return { entries, problems, unusable: false };
}

function dotenvValue(text: string): string | undefined {
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    let value = "";
    for (let i = 1; i < text.length; i++) {
      const char = text[i];
      if (char === quote) {
        const rest = text.slice(i + 1).trim();
        return rest === "" || rest.startsWith("#") ? value : undefined;
      }
      if (char === "\\" && quote === '"' && i + 1 < text.length) {
        const next = text[++i] ?? "";
        value += next === "n" ? "\n" : next === "r" ? "\r" : next === "t" ? "\t" : next;
      } else {
        value += char;
      }
    }
    return undefined;
  }
  const comment = /\s#/.exec(text);
  return (comment === null ? text : text.slice(0, comment.index)).trim();
}

/**
 * Unknown names. In a config file or among overrides every name must be ours. The environment is
 * shared with everything else on the host, so there only names with this connector's own prefixes
 * (`KAFKA_` and `SCHEMA_REGISTRY_` among them) and near-misspellings of its variables are flagged;
 * Kubernetes service links and other software's well-known names ({@link FOREIGN_VARIABLES}) are not.
 */
export function unknownProblems(
  settings: ReadonlyMap<string, Setting>,
  where: "environment" | "file" | "override",
): string[] {
  const problems: string[] = [];
  for (const [name, setting] of settings) {
    if (VARIABLE_NAMES.has(name)) continue;
    const place =
      setting.origin.kind === "file"
        ? ` in config file ${setting.origin.path}${setting.origin.line === undefined ? "" : `, line ${setting.origin.line}`}`
        : where === "override"
          ? " given on the command line"
          : "";
    const upper = name.toUpperCase();
    if (VARIABLE_NAMES.has(upper)) {
      problems.push(`${name}: unknown variable${place}; did you mean ${upper}? (names are upper case)`);
      continue;
    }
    const near = closestName(upper, VARIABLE_NAMES);
    const prefix = OWN_PREFIXES.find((own) => upper.startsWith(own));
    if (where === "environment") {
      if (near === undefined && prefix === undefined) continue;
      if (isKubernetesServiceLink(name, setting.value)) continue;
      if (near === undefined && (FOREIGN_VARIABLES.has(name) || FOREIGN_VARIABLE_PATTERN.test(name)))
        continue;
    }
    const other = Object.hasOwn(OTHER_CLIENTS_NAMES, upper) ? OTHER_CLIENTS_NAMES[upper] : undefined;
    const suggestions =
      near !== undefined
        ? [near]
        : other !== undefined
          ? [other]
          : prefix === undefined
            ? []
            : relatedNames(upper, VARIABLE_NAMES, prefix);
    let hint = "";
    if (suggestions.length > 0) hint = `; did you mean ${listWords(suggestions)}?`;
    else if (prefix !== undefined) {
      const family = [...VARIABLE_NAMES].filter((known) => known.startsWith(prefix));
      hint = `; the ${prefix} variables are ${family.join(", ")}`;
    }
    problems.push(`${name}: unknown variable${place}${hint}`);
  }
  return problems;
}

/**
 * Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_9464_TCP` … for every Service in the
 * namespace; a Service named `metrics` or `graph` must not make the connector refuse to start.
 */
function isKubernetesServiceLink(name: string, value: string): boolean {
  return (
    /_SERVICE_(HOST|PORT)(_[A-Z0-9_]+)?$/.test(name) ||
    /_PORT_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?$/.test(name) ||
    (/_PORT$/.test(name) && /^(tcp|udp|sctp):\/\//.test(value))
  );
}
