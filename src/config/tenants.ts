/**
 * CONNECTOR_TENANTS_FILE: the tenants one deployment serves, in YAML or JSON, validated like the
 * environment (one line per problem, naming the entry and the key). A credential is named by a
 * reference (an environment variable or a file, such as a mounted Kubernetes Secret), never
 * written in the file; the references are resolved here, and no secret reaches a problem line.
 */
import { resolve } from "node:path";
import { STREAMS, type StreamName } from "../streams/index.js";
import { guid, listWords, quote, start, tenant } from "./fields.js";
import {
  isRecord,
  parseYaml,
  type ReferenceContext,
  readBoundedFile,
  readReference,
  reportUnknownKeys,
  unknownKey,
} from "./file-values.js";
import { closestName } from "./similarity.js";
import type { StartSpec } from "./types.js";

/** One tenant of the file, its references resolved. */
export interface TenantConfig {
  /** The tenant's GUID or domain, lower case. */
  tenantId: string;
  /** How operators name it in logs and status; the id when not given. */
  name: string;
  streams: StreamName[];
  start: StartSpec;
  /** The app that reads the tenant: the shared one (AZURE_CLIENT_ID) unless the entry names its own. */
  credentials: TenantCredentials;
}

export interface TenantCredentials {
  clientId: string;
  clientSecret?: string;
  /** A PEM file holding the certificate and its private key. */
  clientCertificatePath?: string;
}

/** What a tenant takes when its entry leaves it out. */
export interface TenantDefaults {
  streams: StreamName[];
  start: StartSpec;
  /** The shared app: AZURE_CLIENT_ID with its secret or certificate. */
  credentials: TenantCredentials;
}

/** The keys an entry may have, and those of its credentials and of a reference. */
const TENANT_KEYS = ["id", "name", "streams", "start", "credentials"] as const;
const CREDENTIAL_KEYS = ["clientId", "clientSecret", "clientCertificate"] as const;
const MAX_NAME_LENGTH = 256;

/** The tenants of the file, or the problems that make it unusable (never both). */
export type TenantsResult =
  | { tenants: TenantConfig[]; problems?: undefined }
  | { tenants?: undefined; problems: string[] };

/**
 * Reads the tenants file. `env` resolves `{ env: NAME }` references; `{ file: PATH }` ones are read
 * from disk (relative to the tenants file's folder).
 */
export function loadTenantsFile(
  path: string,
  defaults: TenantDefaults,
  env: Readonly<Record<string, string | undefined>>,
): TenantsResult {
  const where = `CONNECTOR_TENANTS_FILE (${path})`;
  const read = readBoundedFile(path, where);
  if ("problem" in read) return { problems: [read.problem] };
  const text = read.text;
  return parseTenants(text, defaults, { env, where, base: resolve(path, "..") });
}

interface ParseContext extends ReferenceContext {
  /** How problem lines name the file. */
  where: string;
}

/** Parses the text of a tenants file (YAML, of which JSON is a part). */
export function parseTenants(text: string, defaults: TenantDefaults, context: ParseContext): TenantsResult {
  const problems: string[] = [];
  const parsed = parseYaml(text, context.where);
  if ("problem" in parsed) return { problems: [parsed.problem] };
  const root = parsed.root;
  const list = isRecord(root) ? root.tenants : undefined;
  if (!isRecord(root) || !Array.isArray(list)) {
    return { problems: [`${context.where}: needs a list "tenants:" of entries, each with an id`] };
  }
  for (const key of Object.keys(root))
    if (key !== "tenants") problems.push(unknownKey(context.where, "", key, ["tenants"]));
  const tenants: TenantConfig[] = [];
  const seen = new Map<string, number>();
  list.forEach((entry, index) => {
    const at = `tenants[${index}]`;
    const line = (message: string) => `${context.where} ${at}${message}`;
    if (!isRecord(entry)) {
      problems.push(line(": is not an entry (id, name, streams, start, credentials)"));
      return;
    }
    const before = problems.length;
    for (const key of Object.keys(entry))
      if (!(TENANT_KEYS as readonly string[]).includes(key))
        problems.push(unknownKey(context.where, `${at}.`, key, TENANT_KEYS));
    const id = readText(
      entry.id,
      tenant,
      (message) => problems.push(line(`.id: ${message}`)),
      "required (the tenant GUID or domain)",
    );
    if (id !== undefined) {
      const first = seen.get(id);
      if (first !== undefined)
        problems.push(line(`.id: ${quote(id)} is also tenants[${first}]; list each tenant once`));
      else seen.set(id, index);
    }
    let name = id ?? "";
    if (entry.name !== undefined) {
      if (typeof entry.name !== "string" || entry.name.trim() === "" || entry.name.length > MAX_NAME_LENGTH)
        problems.push(line(`.name: is not a name (text of 1 to ${MAX_NAME_LENGTH} characters)`));
      else name = entry.name.trim();
    }
    const streams =
      entry.streams === undefined
        ? defaults.streams
        : readStreams(entry.streams, (m) => problems.push(line(`.streams: ${m}`)));
    const startSpec =
      entry.start === undefined
        ? defaults.start
        : readText(entry.start instanceof Date ? entry.start.toISOString() : entry.start, start, (m) =>
            problems.push(line(`.start: ${m}`)),
          );
    const credentials =
      entry.credentials === undefined
        ? defaults.credentials
        : readCredentials(entry.credentials, context, (key, m) =>
            problems.push(line(`.credentials${key}: ${m}`)),
          );
    if (
      problems.length > before ||
      id === undefined ||
      streams === undefined ||
      startSpec === undefined ||
      credentials === undefined
    )
      return;
    tenants.push({ tenantId: id, name, streams, start: startSpec, credentials });
  });
  if (list.length === 0 && problems.length === 0) problems.push(`${context.where}: lists no tenant`);
  return problems.length > 0 ? { problems } : { tenants };
}

type Field<T> = {
  safeParse(
    value: string,
  ): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } };
};

/** A text value through one of the variables' fields: its value, or each of its problems reported. */
function readText<T>(
  value: unknown,
  field: Field<T>,
  report: (message: string) => void,
  required?: string,
): T | undefined {
  if (value === undefined || value === null || value === "") {
    if (required !== undefined) report(required);
    return undefined;
  }
  if (typeof value !== "string" && typeof value !== "number") {
    report("is not a text value");
    return undefined;
  }
  const text = String(value).trim();
  const parsed = field.safeParse(text);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) report(`${quote(text)} ${issue.message}`);
  return undefined;
}

function readStreams(value: unknown, report: (message: string) => void): StreamName[] | undefined {
  const names = typeof value === "string" ? value.split(",").map((name) => name.trim()) : value;
  if (!Array.isArray(names) || names.length === 0) {
    report(`is not a list of streams; use ${listWords(Object.keys(STREAMS), "and")}`);
    return undefined;
  }
  const streams: StreamName[] = [];
  let bad = false;
  for (const name of names) {
    const found = (Object.keys(STREAMS) as StreamName[]).find(
      (stream) => typeof name === "string" && stream.toLowerCase() === name.toLowerCase(),
    );
    if (found === undefined) {
      const near =
        typeof name === "string" ? closestName(name.toLowerCase(), Object.keys(STREAMS)) : undefined;
      report(
        `${quote(String(name))} is not a stream; use ${listWords(Object.keys(STREAMS), "and")}${near === undefined ? "" : `; did you mean ${near}?`}`,
      );
      bad = true;
    } else if (streams.includes(found)) {
      report(`names ${found} twice`);
      bad = true;
    } else streams.push(found);
  }
  return bad ? undefined : streams;
}

const CLIENT_ID = guid("an application (client) id");

function readCredentials(
  value: unknown,
  context: ParseContext,
  report: (key: string, message: string) => void,
): TenantCredentials | undefined {
  if (!isRecord(value)) {
    report("", "is not a map of clientId and clientSecret or clientCertificate");
    return undefined;
  }
  let bad = false;
  const fail = (key: string, message: string) => {
    report(key, message);
    bad = true;
  };
  reportUnknownKeys(value, CREDENTIAL_KEYS, fail);
  const clientId = readText(
    value.clientId,
    CLIENT_ID,
    (m) => fail(".clientId", m),
    "required with credentials of the tenant's own app (a GUID)",
  );
  const secret =
    value.clientSecret === undefined
      ? undefined
      : readReference(value.clientSecret, context, (m) => fail(".clientSecret", m));
  const certificate =
    value.clientCertificate === undefined
      ? undefined
      : readReference(value.clientCertificate, context, (m) => fail(".clientCertificate", m), {
          pathOnly: true,
        });
  if (value.clientSecret === undefined && value.clientCertificate === undefined)
    fail("", "needs clientSecret or clientCertificate, by reference ({ env: NAME } or { file: PATH })");
  if (value.clientSecret !== undefined && value.clientCertificate !== undefined)
    fail("", "has both clientSecret and clientCertificate; keep one");
  if (bad || clientId === undefined) return undefined;
  return {
    clientId,
    ...(secret === undefined ? {} : { clientSecret: secret }),
    ...(certificate === undefined ? {} : { clientCertificatePath: certificate }),
  };
}
