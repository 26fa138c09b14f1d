/** Loads the configuration once: file, environment and overrides → one validated, typed object. */
import type { z } from "zod";
import type { StreamName } from "../streams/index.js";
import { ConfigError } from "./errors.js";
import { quote, withoutCredentials } from "./fields.js";
import { loadPrivacyPolicy } from "./privacy.js";
import { CONFIG_SCHEMA, sharedApp } from "./schema.js";
import { type Origin, readConfigFile, type Setting, unknownProblems } from "./sources.js";
import { loadTenantsFile, type TenantConfig, type TenantsResult } from "./tenants.js";
import type { ConnectorConfig } from "./types.js";
import { CONFIG_VARIABLES, SECRET_VARIABLES, VARIABLE_NAMES } from "./variables.js";

interface LoadConfigOptions {
  /** Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** A config file: `.json`, or dotenv for any other name. The environment wins over it. */
  file?: string;
  /** Values from command-line flags, by variable name; they win over the environment and the file. */
  overrides?: Record<string, string>;
}

/**
 * Reads and validates the configuration. Every problem is collected and thrown together as one
 * {@link ConfigError}, one line per problem. An empty value counts as not set.
 */
export function loadConfig(options: LoadConfigOptions = {}): ConnectorConfig {
  const env = layer(options.env ?? process.env, { kind: "environment" });
  const overrides = layer(options.overrides ?? {}, { kind: "override" });
  const file = options.file === undefined ? undefined : readConfigFile(options.file);
  if (file?.unusable) throw new ConfigError(file.problems);

  const problems: string[] = [...(file?.problems ?? [])];
  if (file !== undefined) problems.push(...unknownProblems(file.entries, "file"));
  problems.push(...unknownProblems(env, "environment"));
  problems.push(...unknownProblems(overrides, "override"));

  const settings = new Map<string, Setting>();
  for (const source of [file?.entries ?? new Map<string, Setting>(), env, overrides]) {
    for (const [name, { value, origin }] of source)
      if (VARIABLE_NAMES.has(name) && value.trim() !== "")
        settings.set(name, { value: value.trim(), origin });
  }
  const parsed = CONFIG_SCHEMA.safeParse(
    Object.fromEntries([...settings].map(([name, s]) => [name, s.value])),
  );
  if (!parsed.success) problems.push(...problemLines(parsed.error.issues, settings));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const config = parsed.data;
  const values = {
    ...Object.fromEntries([...(file?.entries ?? [])].map(([name, { value }]) => [name, value])),
    ...Object.fromEntries([...env, ...overrides].map(([name, { value }]) => [name, value])),
  };
  let tenants = config.tenants;
  if (config.tenantsFile !== undefined) {
    const loaded = loadTenantsFile(
      config.tenantsFile,
      {
        streams: config.connector.streams,
        start: config.connector.start,
        credentials: sharedApp(config.azure),
      },
      values,
    );
    if (loaded.problems) throw new ConfigError(loaded.problems);
    const shared = sharedTopics(config, loaded.tenants);
    if (shared.length > 0) throw new ConfigError(shared);
    tenants = loaded.tenants;
  }
  if (config.privacyFile === undefined) return { ...config, tenants };
  const policy = loadPrivacyPolicy(
    config.privacyFile,
    streamsRead(config, tenants),
    config.kafka.topics,
    values,
  );
  if (policy.problems) throw new ConfigError(policy.problems);
  return { ...config, tenants, privacy: policy.privacy };
}

/** Every stream some tenant reads: CONNECTOR_STREAMS' and those the tenants file names beside them. */
function streamsRead(config: ConnectorConfig, tenants: readonly TenantConfig[]): StreamName[] {
  return [...new Set([...config.connector.streams, ...tenants.flatMap((tenant) => tenant.streams)])];
}

/**
 * The tenants file read again (its references too) with the configuration's defaults: its tenants,
 * or the problems that make it unusable, one line each (the tenants running stay as they are).
 */
export function reloadTenants(
  config: ConnectorConfig,
  env: Readonly<Record<string, string | undefined>> = process.env,
): TenantsResult {
  if (config.tenantsFile === undefined) return { tenants: config.tenants };
  const loaded = loadTenantsFile(
    config.tenantsFile,
    {
      streams: config.connector.streams,
      start: config.connector.start,
      credentials: sharedApp(config.azure),
    },
    env,
  );
  if (loaded.problems) return loaded;
  const shared = sharedTopics(config, loaded.tenants);
  if (shared.length > 0) return { problems: shared };
  const outputs = config.privacy?.outputs;
  const uncovered =
    outputs === undefined
      ? []
      : streamsRead(config, loaded.tenants).filter((stream) => outputs[stream] === undefined);
  return uncovered.length > 0
    ? {
        problems: uncovered.map(
          (stream) =>
            `CONNECTOR_TENANTS_FILE: a tenant reads ${stream}, which PRIVACY_POLICY_FILE has no outputs for; add the stream to the policy first`,
        ),
      }
    : loaded;
}

/**
 * The rules checked that CONNECTOR_STREAMS' streams have topics of their own; a tenant may read a
 * stream beside those, whose topics must not be another stream's either.
 */
function sharedTopics(config: ConnectorConfig, tenants: readonly TenantConfig[]): string[] {
  const streams = streamsRead(config, tenants);
  if (streams.length === config.connector.streams.length) return [];
  const owners = new Map<string, string>();
  const problems: string[] = [];
  for (const stream of streams) {
    for (const [role, topic] of Object.entries(config.kafka.topics[stream])) {
      const owner = owners.get(topic);
      if (owner !== undefined && !owner.startsWith(`${stream} `))
        problems.push(
          `CONNECTOR_TENANTS_FILE: a tenant reads ${stream}, whose ${role} topic ${quote(topic)} is already the ${owner} topic; each stream needs topics of its own`,
        );
      owners.set(topic, `${stream} stream's ${role}`);
    }
  }
  return problems;
}

function layer(values: Readonly<Record<string, string | undefined>>, origin: Origin): Map<string, Setting> {
  const settings = new Map<string, Setting>();
  for (const [name, value] of Object.entries(values))
    if (value !== undefined) settings.set(name, { value, origin });
  return settings;
}

/**
 * One line per problem, as the variables are documented (a stable sort keeps each variable's own
 * order): the variable, its value when the problem is with the value, what is wrong, and where the
 * value came from. A secret's value is never shown, nor a secret found in another value.
 */
function problemLines(issues: readonly z.core.$ZodIssue[], settings: ReadonlyMap<string, Setting>): string[] {
  const secrets = [...SECRET_VARIABLES].flatMap((name) => settings.get(name)?.value ?? []);
  const redact = (text: string): string =>
    secrets.reduce(
      (shown, secret) =>
        shown === secret || (secret.length >= 4 && shown.includes(secret))
          ? shown.split(secret).join("[redacted]")
          : shown,
      text,
    );
  const rank = (issue: z.core.$ZodIssue): number =>
    CONFIG_VARIABLES.findIndex((variable) => variable.name === issue.path[0]);
  return [...issues]
    .sort((a, b) => rank(a) - rank(b))
    .map((issue) => {
      const name = String(issue.path[0]);
      const setting = settings.get(name);
      // A secret's value is hidden; any other is shown without what could be a credential.
      const shown = SECRET_VARIABLES.has(name)
        ? "(value hidden)"
        : quote(withoutCredentials(redact(setting?.value ?? "")));
      const quoted = issue.code === "custom" && issue.params?.quoted === true;
      return `${name}: ${redact(quoted ? `${shown} ${issue.message}` : issue.message)}${where(setting?.origin)}`;
    });
}

function where(origin: Origin | undefined): string {
  if (origin?.kind === "file")
    return ` (config file ${origin.path}${origin.line === undefined ? "" : `, line ${origin.line}`})`;
  return origin?.kind === "override" ? " (command line)" : "";
}
