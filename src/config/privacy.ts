/**
 * PRIVACY_POLICY_FILE: which topics each stream writes and what each of them may see of a row, in
 * YAML or JSON, validated like the environment (one line per problem, naming the key). Hashing keys
 * are named by reference (`{ env: NAME }` or `{ file: PATH }`, a mounted Secret), never written in
 * the file, and no problem line carries a key's bytes.
 */
import { resolve } from "node:path";
import { recordPlan, rowSchema } from "../avro/index.js";
import { FIELD_ACTIONS, type FieldAction, type OutputPolicy } from "../privacy/policy.js";
import { STREAMS, type StreamName } from "../streams/index.js";
import { listWords, quote, topic as topicField } from "./fields.js";
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
import type { StreamTopics } from "./types.js";

/** One topic a stream writes, with what its policy does to each row. */
export interface PrivacyOutput {
  topic: string;
  policy: OutputPolicy;
  /** The id of the key its tokens carry, when it hashes a field. */
  keyId?: string;
}

export interface PrivacyConfig {
  /** The file, resolved. */
  file: string;
  /** The policy's version, in every record's `pstn.policy.version` header. */
  version: string;
  /** Each stream's outputs, in the order written; every stream read has an entry. */
  outputs: Partial<Record<StreamName, PrivacyOutput[]>>;
}

export type PrivacyResult =
  | { privacy: PrivacyConfig; problems?: undefined }
  | { privacy?: undefined; problems: string[] };

/** The shortest key taken: HMAC-SHA256's own block of security, 256 bits. */
export const MIN_KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$/;
const ROOT_KEYS = ["version", "keys", "streams"] as const;
const STREAM_KEYS = ["outputs"] as const;
const OUTPUT_KEYS = ["topic", "default", "hashKey", "fields"] as const;
const OPTION_KEYS: Record<FieldAction["action"], readonly string[]> = {
  keep: ["action"],
  drop: ["action"],
  hash: ["action", "keepCountryCode"],
  mask: ["action", "keep"],
  "truncate-ip": ["action", "ipv4Prefix", "ipv6Prefix"],
};
const DEFAULTS = ["keep", "drop"] as const;

/**
 * Reads the policy file for the streams read (`streams`), whose topics are `topics`. `env` resolves
 * `{ env: NAME }` references; `{ file: PATH }` ones are read relative to the policy file's folder.
 */
export function loadPrivacyPolicy(
  path: string,
  streams: readonly StreamName[],
  topics: Readonly<Record<StreamName, StreamTopics>>,
  env: Readonly<Record<string, string | undefined>>,
): PrivacyResult {
  const where = `PRIVACY_POLICY_FILE (${path})`;
  const read = readBoundedFile(path, where);
  if ("problem" in read) return { problems: [read.problem] };
  const parsed = parseYaml(read.text, where);
  if ("problem" in parsed) return { problems: [parsed.problem] };
  return parsePolicy(parsed.root, { where, streams, topics, env, base: resolve(path, ".."), file: path });
}

interface PolicyContext extends ReferenceContext {
  where: string;
  file: string;
  streams: readonly StreamName[];
  topics: Readonly<Record<StreamName, StreamTopics>>;
}

function parsePolicy(root: unknown, context: PolicyContext): PrivacyResult {
  const { where } = context;
  if (!isRecord(root)) return { problems: [`${where}: needs "version:", "streams:" and, to hash, "keys:"`] };
  const problems: string[] = [];
  const report = (at: string, message: string) => problems.push(`${where} ${at}: ${message}`);
  for (const key of Object.keys(root))
    if (!(ROOT_KEYS as readonly string[]).includes(key)) problems.push(unknownKey(where, "", key, ROOT_KEYS));
  const version = typeof root.version === "number" ? String(root.version) : root.version;
  if (version === undefined) report("version", "required: names the policy in every record's headers");
  else if (typeof version !== "string" || !VERSION.test(version))
    report("version", "is not a version (1 to 64 letters, digits, '.', '_', ':', '+' or '-')");
  const keys = readKeys(root.keys, context, report);
  const outputs: PrivacyConfig["outputs"] = {};
  if (!isRecord(root.streams)) report("streams", "required: a map of each stream read to its outputs");
  else {
    for (const [name, entry] of Object.entries(root.streams)) {
      if (!Object.hasOwn(STREAMS, name)) {
        const near = closestName(name, Object.keys(STREAMS));
        report(
          `streams.${name}`,
          `is not a stream; use ${listWords(Object.keys(STREAMS), "and")}${near === undefined ? "" : `; did you mean ${near}?`}`,
        );
        continue;
      }
      const stream = name as StreamName;
      const list = readStream(stream, entry, keys, context, report);
      if (list !== undefined) outputs[stream] = list;
    }
    for (const stream of context.streams)
      if (!Object.hasOwn(root.streams, stream))
        report(
          `streams.${stream}`,
          "missing: the stream is read, and the policy says what each stream's outputs carry (for rows as Graph sends them, an output with default: keep)",
        );
  }
  problems.push(...sharedTopics(outputs, context));
  if (problems.length > 0) return { problems };
  return { privacy: { file: context.file, version: version as string, outputs } };
}

/** The keys by id, as bytes; a key that cannot be used is reported under its id, never shown. */
function readKeys(
  value: unknown,
  context: PolicyContext,
  report: (at: string, message: string) => void,
): Map<string, Uint8Array | undefined> {
  const keys = new Map<string, Uint8Array | undefined>();
  if (value === undefined) return keys;
  if (!isRecord(value)) {
    report("keys", "is not a map of key ids to references ({ env: NAME } or { file: PATH })");
    return keys;
  }
  for (const [id, reference] of Object.entries(value)) {
    const at = `keys.${id}`;
    if (!KEY_ID.test(id)) {
      report(at, "is not a key id (1 to 32 letters, digits, '.', '_' or '-', first a letter or digit)");
      keys.set(id, undefined);
      continue;
    }
    const text = readReference(reference, context, (message) => report(at, message));
    keys.set(id, text === undefined ? undefined : decodeKey(text, (message) => report(at, message)));
  }
  return keys;
}

/** A key's text (base64, as `openssl rand -base64 32` prints it) → its bytes. */
function decodeKey(text: string, report: (message: string) => void): Uint8Array | undefined {
  const compact = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) {
    report("is not base64 (make one with: openssl rand -base64 32)");
    return undefined;
  }
  const bytes = Buffer.from(compact, "base64");
  if (bytes.length < MIN_KEY_BYTES) {
    report(
      `is ${bytes.length} bytes; a hashing key needs at least ${MIN_KEY_BYTES} (make one with: openssl rand -base64 32)`,
    );
    return undefined;
  }
  return new Uint8Array(bytes);
}

function readStream(
  stream: StreamName,
  entry: unknown,
  keys: ReadonlyMap<string, Uint8Array | undefined>,
  context: PolicyContext,
  report: (at: string, message: string) => void,
): PrivacyOutput[] | undefined {
  const at = `streams.${stream}`;
  if (!isRecord(entry) || !Array.isArray(entry.outputs) || entry.outputs.length === 0) {
    report(at, 'needs "outputs:", a list of at least one topic with its policy');
    return undefined;
  }
  for (const key of Object.keys(entry))
    if (!(STREAM_KEYS as readonly string[]).includes(key))
      report(`${at}.${key}`, `unknown key; use ${listWords(STREAM_KEYS)}`);
  const outputs: PrivacyOutput[] = [];
  entry.outputs.forEach((output: unknown, index: number) => {
    const read = readOutput(stream, output, keys, context, (key, message) =>
      report(`${at}.outputs[${index}]${key}`, message),
    );
    if (read !== undefined) outputs.push(read);
  });
  return outputs.length === entry.outputs.length ? outputs : undefined;
}

function readOutput(
  stream: StreamName,
  value: unknown,
  keys: ReadonlyMap<string, Uint8Array | undefined>,
  context: PolicyContext,
  report: (key: string, message: string) => void,
): PrivacyOutput | undefined {
  if (!isRecord(value)) {
    report("", `is not an output (${listWords(OUTPUT_KEYS)})`);
    return undefined;
  }
  let bad = false;
  const fail = (key: string, message: string) => {
    report(key, message);
    bad = true;
  };
  reportUnknownKeys(value, OUTPUT_KEYS, fail);
  let topic = context.topics[stream].data;
  if (value.topic !== undefined) {
    const checked = typeof value.topic === "string" ? topicField.safeParse(value.topic.trim()) : undefined;
    if (checked?.success) topic = checked.data;
    else fail(".topic", checked?.error.issues[0]?.message ?? "is not a topic name");
  }
  const fallback = value.default ?? "keep";
  if (!(DEFAULTS as readonly unknown[]).includes(fallback))
    fail(
      ".default",
      `${quote(String(fallback))} is not a default; use keep or drop (a field the policy leaves out follows it)`,
    );
  const plan = recordPlan(rowSchema(STREAMS[stream].schemaFile).schema);
  const definition = STREAMS[stream];
  const rules = new Map<string, FieldAction>();
  if (value.fields !== undefined && !isRecord(value.fields))
    fail(".fields", "is not a map of field names to actions");
  for (const [name, rule] of Object.entries(isRecord(value.fields) ? value.fields : {})) {
    const field = plan.fieldsByName.get(name);
    if (field === undefined) {
      const near = closestName(name, [...plan.fieldsByName.keys()]);
      fail(
        `.fields.${name}`,
        `is not a field of ${stream} rows${near === undefined ? "" : `; did you mean ${near}?`}`,
      );
      continue;
    }
    const action = readAction(rule, (key, message) => fail(`.fields.${name}${key}`, message));
    if (action === undefined) continue;
    const refusal =
      action.action === "keep"
        ? undefined
        : name === definition.keyField || name === definition.startField
          ? `${action.action}: ${name} is the row's ${name === definition.keyField ? "key (the Kafka key and the dedupe id)" : "start (the window and dedupe hour)"}; it is written as Graph sent it`
          : action.action === "drop"
            ? field.nullable
              ? undefined
              : `drop: ${name} may not be null`
            : field.value.kind === "string"
              ? undefined
              : `${action.action}: applies to text, and ${name} is ${field.value.kind}; use keep or drop`;
    if (refusal !== undefined) fail(`.fields.${name}`, refusal);
    else rules.set(name, action);
  }
  const changes: [string, FieldAction][] = [];
  for (const field of plan.fields) {
    const rule = rules.get(field.name);
    if (rule !== undefined) {
      if (rule.action !== "keep") changes.push([field.name, rule]);
    } else if (
      fallback === "drop" &&
      field.nullable &&
      field.name !== definition.keyField &&
      field.name !== definition.startField
    )
      changes.push([field.name, { action: "drop" }]);
  }
  const hashes = changes.some(([, action]) => action.action === "hash");
  let hashKey: OutputPolicy["hashKey"];
  if (value.hashKey !== undefined) {
    const id = String(value.hashKey);
    if (!keys.has(id))
      fail(
        ".hashKey",
        `${quote(id)} is not one of keys: (${keys.size === 0 ? "none given" : [...keys.keys()].join(", ")})`,
      );
    else if (!hashes) fail(".hashKey", "names a key, but no field of this output is hashed");
    else {
      const secret = keys.get(id);
      // A key that could not be read is reported under keys:; the output only waits for it.
      if (secret === undefined) bad = true;
      else hashKey = { id, secret };
    }
  } else if (hashes) fail(".hashKey", "required: the output hashes fields; name the key (an id under keys:)");
  if (bad) return undefined;
  return {
    topic,
    policy: hashKey === undefined ? { changes } : { changes, hashKey },
    ...(hashKey === undefined ? {} : { keyId: hashKey.id }),
  };
}

function readAction(rule: unknown, fail: (key: string, message: string) => void): FieldAction | undefined {
  const options: Record<string, unknown> | undefined =
    typeof rule === "string" ? { action: rule } : isRecord(rule) ? rule : undefined;
  if (options === undefined) {
    fail("", `is not an action; use ${listWords(FIELD_ACTIONS)}, or { action: ..., options }`);
    return undefined;
  }
  const name = options.action;
  if (typeof name !== "string" || !(FIELD_ACTIONS as readonly string[]).includes(name)) {
    const near = typeof name === "string" ? closestName(name, FIELD_ACTIONS) : undefined;
    fail(
      typeof rule === "string" ? "" : ".action",
      `${quote(String(name))} is not an action; use ${listWords(FIELD_ACTIONS)}${near === undefined ? "" : `; did you mean ${near}?`}`,
    );
    return undefined;
  }
  const action = name as FieldAction["action"];
  let bad = false;
  for (const key of Object.keys(options))
    if (!OPTION_KEYS[action].includes(key)) {
      fail(
        `.${key}`,
        `is not an option of ${action}${OPTION_KEYS[action].length > 1 ? `; use ${listWords(OPTION_KEYS[action].slice(1))}` : ""}`,
      );
      bad = true;
    }
  const integer = (key: string, fallback: number, max: number): number => {
    const value = options[key] ?? fallback;
    if (typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max) return value;
    fail(`.${key}`, `is not a whole number from 0 to ${max}`);
    bad = true;
    return fallback;
  };
  let read: FieldAction;
  switch (action) {
    case "keep":
    case "drop":
      read = { action };
      break;
    case "hash": {
      const keepCountryCode = options.keepCountryCode ?? false;
      if (typeof keepCountryCode !== "boolean") {
        fail(".keepCountryCode", "is not true or false");
        bad = true;
      }
      read = { action, keepCountryCode: keepCountryCode === true };
      break;
    }
    case "mask":
      read = { action, keep: integer("keep", 4, 64) };
      break;
    case "truncate-ip":
      read = {
        action,
        ipv4Prefix: integer("ipv4Prefix", 24, 32),
        ipv6Prefix: integer("ipv6Prefix", 48, 128),
      };
      break;
  }
  return bad ? undefined : read;
}

/** Each output topic is written by one output of one stream, and is no stream's dead-letter or state topic. */
function sharedTopics(outputs: PrivacyConfig["outputs"], context: PolicyContext): string[] {
  const owners = new Map<string, string>();
  for (const stream of Object.keys(STREAMS) as StreamName[]) {
    owners.set(context.topics[stream].dlq, `the ${stream} stream's dead-letter topic`);
    owners.set(context.topics[stream].state, `the ${stream} stream's state topic`);
  }
  const problems: string[] = [];
  for (const [stream, list] of Object.entries(outputs) as [StreamName, PrivacyOutput[]][]) {
    list.forEach((output, index) => {
      const owner = owners.get(output.topic);
      if (owner !== undefined)
        problems.push(
          `${context.where} streams.${stream}.outputs[${index}].topic: ${quote(output.topic)} is already ${owner}; each output needs a topic of its own`,
        );
      else owners.set(output.topic, `streams.${stream}.outputs[${index}]'s topic`);
    });
  }
  return problems;
}
