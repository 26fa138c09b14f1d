/**
 * The rules between variables: a credential and its pair, TLS files, SASL and its mechanism's
 * settings, derived topics, credentials sent in clear text. They see only the fields that parsed,
 * so a value with a problem of its own makes one line, not one more per rule it takes part in.
 */
import type { z } from "zod";
import { readKeyPair } from "../pem.js";
import { guid, listWords, QUOTED, quote, topic } from "./fields.js";
import type { Values } from "./schema.js";
import { SASL_MECHANISMS } from "./types.js";
import {
  DLQ_TOPIC_SUFFIX,
  STATE_TOPIC_SUFFIX,
  STREAM_TOPIC_VARIABLES,
  type VariableName,
} from "./variables.js";

const TLS_FILES = ["KAFKA_SSL_CA_FILE", "KAFKA_SSL_CERT_FILE", "KAFKA_SSL_KEY_FILE"] as const;

const OAUTH_VARIABLES = [
  "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL",
  "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
  "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
  "KAFKA_SASL_OAUTHBEARER_SCOPE",
  "KAFKA_SASL_OAUTHBEARER_EXTENSIONS",
  "KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD",
] as const;

const ENTRA_CLIENT_ID = guid("an Entra ID application (client) id");

const OPT_IN = "or set CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS=true if the network is trusted end to end";

export function crossFieldRules(values: Values, ctx: z.RefinementCtx<Values>): void {
  const rules = new Rules(values, ctx);
  rules.tenantSource();
  rules.azureCredential();
  rules.topics();
  rules.streamTopics();
  rules.kafkaTls();
  rules.sasl();
  rules.registryAuth();
  // Last: it judges the settings the other rules have passed.
  rules.cleartext();
}

class Rules {
  private readonly failed: ReadonlySet<PropertyKey | undefined>;

  constructor(
    private readonly values: Values,
    private readonly ctx: z.RefinementCtx<Values>,
  ) {
    this.failed = new Set(ctx.issues.map((issue) => issue.path?.[0]));
  }

  /** The value; `undefined` when not set or when it has a problem of its own. */
  private value<K extends VariableName>(name: K): Values[K] | undefined {
    return this.failed.has(name) ? undefined : this.values[name];
  }

  private given(name: VariableName): boolean {
    return this.failed.has(name) || this.values[name] !== undefined;
  }

  private problem(name: VariableName, message: string): void {
    this.ctx.addIssue({ code: "custom", path: [name], message });
  }

  /** A problem with the variable's value, which its line quotes. */
  private invalid(name: VariableName, message: string): void {
    this.ctx.addIssue({ code: "custom", path: [name], message, params: QUOTED });
  }

  /** Whether no variable starting with `prefix` has a problem. */
  private clean(prefix: string): boolean {
    return !this.ctx.issues.some((issue) => String(issue.path?.[0]).startsWith(prefix));
  }

  /** The tenants come from AZURE_TENANT_ID or from CONNECTOR_TENANTS_FILE: exactly one of them. */
  tenantSource(): void {
    const single = this.given("AZURE_TENANT_ID");
    const file = this.given("CONNECTOR_TENANTS_FILE");
    if (!single && !file) {
      this.problem(
        "AZURE_TENANT_ID",
        "required (the tenant GUID or domain), or CONNECTOR_TENANTS_FILE listing the tenants",
      );
    } else if (single && file) {
      this.problem(
        "AZURE_TENANT_ID",
        "set together with CONNECTOR_TENANTS_FILE, which lists the tenants; remove AZURE_TENANT_ID (or add it to the file)",
      );
    }
    const oauth = this.value("KAFKA_SASL_MECHANISM") === "oauthbearer";
    if (file && oauth && !this.given("KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL")) {
      this.problem(
        "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL",
        "required with CONNECTOR_TENANTS_FILE and KAFKA_SASL_MECHANISM=oauthbearer: Kafka's tokens would come from Entra ID for AZURE_TENANT_ID, which the file replaces",
      );
    }
  }

  azureCredential(): void {
    const secret = this.value("AZURE_CLIENT_SECRET");
    const certificate = this.value("AZURE_CLIENT_CERTIFICATE_PATH");
    if (secret !== undefined && certificate !== undefined) {
      this.problem(
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "set together with AZURE_CLIENT_SECRET; set exactly one of them (a client secret or a certificate)",
      );
    } else if (certificate !== undefined) {
      this.keyPair("AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PATH");
    } else if (secret === undefined) {
      this.problem(
        "AZURE_CLIENT_SECRET",
        "required, or AZURE_CLIENT_CERTIFICATE_PATH (a client secret, or a PEM file with the certificate and its private key)",
      );
    }
  }

  /** A certificate and its key, in one file or two, and the key's passphrase. */
  private keyPair(certificate: VariableName, key: VariableName, passphrase?: "KAFKA_SSL_KEY_PASSWORD"): void {
    const read = readKeyPair({
      certificate: String(this.values[certificate]),
      key: String(this.values[key]),
      passphrase: passphrase === undefined ? undefined : this.value(passphrase),
      names: { certificate, key, passphrase },
    });
    if ("pair" in read) return;
    if (read.problems.certificate !== undefined) this.invalid(certificate, read.problems.certificate);
    if (read.problems.key !== undefined) this.invalid(key, read.problems.key);
    if (read.problems.passphrase !== undefined && passphrase !== undefined)
      this.problem(passphrase, read.problems.passphrase);
  }

  /** The dead-letter and state topics: each its own, the derived ones valid too. */
  topics(): void {
    const main = this.value("KAFKA_TOPIC");
    const derived = (name: "KAFKA_DLQ_TOPIC" | "KAFKA_STATE_TOPIC", suffix: string): string | undefined => {
      if (this.given(name) || main === undefined) return this.value(name);
      const text = `${main}${suffix}`;
      const parsed = topic.safeParse(text);
      for (const issue of parsed.error?.issues ?? [])
        this.problem(name, `${quote(text)} (derived from KAFKA_TOPIC) ${issue.message}`);
      return parsed.data;
    };
    const dlq = derived("KAFKA_DLQ_TOPIC", DLQ_TOPIC_SUFFIX);
    const state = derived("KAFKA_STATE_TOPIC", STATE_TOPIC_SUFFIX);
    if (main !== undefined && dlq === main)
      this.invalid("KAFKA_DLQ_TOPIC", "is KAFKA_TOPIC itself; dead letters need a topic of their own");
    if (state !== undefined && (state === main || state === dlq)) {
      const other = state === main ? "KAFKA_TOPIC" : "KAFKA_DLQ_TOPIC";
      this.problem(
        "KAFKA_STATE_TOPIC",
        `${quote(state)} is ${other} too; the state needs a compacted topic of its own`,
      );
    }
  }

  /**
   * The streams read write to topics of their own: a topic two of them share would mix their rows,
   * and their state keys. The derived dead-letter and state topics must be valid names too.
   */
  streamTopics(): void {
    const streams = this.value("CONNECTOR_STREAMS");
    if (streams === undefined) return;
    const owners = new Map<string, string>();
    for (const stream of streams) {
      const variable = STREAM_TOPIC_VARIABLES[stream];
      const data = this.value(variable);
      if (data === undefined) continue;
      const topics: Array<[string | undefined, string]> =
        stream === "pstn"
          ? [
              [data, "KAFKA_TOPIC"],
              [this.derivedOrGiven("KAFKA_DLQ_TOPIC", data, DLQ_TOPIC_SUFFIX), "KAFKA_DLQ_TOPIC"],
              [this.derivedOrGiven("KAFKA_STATE_TOPIC", data, STATE_TOPIC_SUFFIX), "KAFKA_STATE_TOPIC"],
            ]
          : [
              [data, variable],
              [this.derived(variable, data, DLQ_TOPIC_SUFFIX), `${variable}${DLQ_TOPIC_SUFFIX}`],
              [this.derived(variable, data, STATE_TOPIC_SUFFIX), `${variable}${STATE_TOPIC_SUFFIX}`],
            ];
      for (const [name, whose] of topics) {
        if (name === undefined) continue;
        const owner = owners.get(name);
        if (owner !== undefined && !owner.startsWith(`${stream} `)) {
          this.problem(
            variable,
            `makes ${quote(name)} (${whose}) the ${stream} stream's, but it is already the ${owner}; each stream needs topics of its own`,
          );
        }
        owners.set(name, `${stream} stream's (${whose})`);
      }
    }
  }

  /** A topic derived from `data`, checked as a name; undefined (with a problem) when invalid. */
  private derived(variable: VariableName, data: string, suffix: string): string | undefined {
    const text = `${data}${suffix}`;
    const parsed = topic.safeParse(text);
    for (const issue of parsed.error?.issues ?? [])
      this.problem(variable, `${quote(text)} (derived from it) ${issue.message}`);
    return parsed.data;
  }

  /** The variable's topic if given (its own problems reported by its field), else derived from `data`. */
  private derivedOrGiven(variable: "KAFKA_DLQ_TOPIC" | "KAFKA_STATE_TOPIC", data: string, suffix: string) {
    return this.given(variable) ? this.value(variable) : `${data}${suffix}`;
  }

  /** Any TLS file implies TLS, so `KAFKA_SSL=false` with one asks for both a plain connection and TLS. */
  kafkaTls(): void {
    const files = TLS_FILES.filter((name) => this.given(name));
    if (this.value("KAFKA_SSL") === false && files.length > 0) {
      this.problem(
        "KAFKA_SSL",
        `is false, but ${areSet(files)}, which TLS uses; remove KAFKA_SSL=false (the files imply TLS) or those files`,
      );
    }
    const certificate = this.given("KAFKA_SSL_CERT_FILE");
    const key = this.given("KAFKA_SSL_KEY_FILE");
    if (certificate && !key) {
      this.problem(
        "KAFKA_SSL_KEY_FILE",
        "required when KAFKA_SSL_CERT_FILE is set (the certificate's private key)",
      );
    } else if (key && !certificate) {
      this.problem("KAFKA_SSL_CERT_FILE", "required when KAFKA_SSL_KEY_FILE is set (the key's certificate)");
    } else if (key && certificate) {
      this.keyPair("KAFKA_SSL_CERT_FILE", "KAFKA_SSL_KEY_FILE", "KAFKA_SSL_KEY_PASSWORD");
    }
    if (this.given("KAFKA_SSL_KEY_PASSWORD") && !key)
      this.problem("KAFKA_SSL_KEY_PASSWORD", "is set without KAFKA_SSL_KEY_FILE; unset it");
  }

  /** A mechanism, and only the settings of that mechanism. */
  sasl(): void {
    const passwordSettings = (["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"] as const).filter((name) =>
      this.given(name),
    );
    const oauthSettings = OAUTH_VARIABLES.filter((name) => this.given(name));
    if (!this.given("KAFKA_SASL_MECHANISM")) {
      const set = [...passwordSettings, ...oauthSettings];
      if (set.length > 0)
        this.problem("KAFKA_SASL_MECHANISM", `required when ${areSet(set)} (${listWords(SASL_MECHANISMS)})`);
      return;
    }
    const mechanism = this.value("KAFKA_SASL_MECHANISM");
    if (mechanism === "oauthbearer") {
      for (const name of passwordSettings)
        this.problem(
          name,
          "is not used with KAFKA_SASL_MECHANISM=oauthbearer (a token is sent instead); unset it",
        );
      this.oauthBearer();
    } else if (mechanism !== undefined) {
      for (const name of oauthSettings)
        this.problem(name, `is used only with KAFKA_SASL_MECHANISM=oauthbearer, not ${mechanism}; unset it`);
      for (const name of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"] as const)
        if (!this.given(name)) this.problem(name, "required when KAFKA_SASL_MECHANISM is set");
    }
  }

  /**
   * Graph's identity (AZURE_CLIENT_ID and its secret or certificate) is the default only for Entra
   * ID's token endpoint, so that Graph's tenant-wide credential never goes to another host.
   */
  private oauthBearer(): void {
    const entra = !this.given("KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL");
    const ownSecret = this.given("KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET");
    if (this.given("KAFKA_SASL_OAUTHBEARER_CLIENT_ID")) {
      const clientId = this.value("KAFKA_SASL_OAUTHBEARER_CLIENT_ID");
      if (entra && clientId !== undefined) {
        for (const issue of ENTRA_CLIENT_ID.safeParse(clientId).error?.issues ?? [])
          this.invalid("KAFKA_SASL_OAUTHBEARER_CLIENT_ID", issue.message);
      }
      if (!ownSecret) {
        this.problem(
          "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
          "required when KAFKA_SASL_OAUTHBEARER_CLIENT_ID is set (that identity's client secret)",
        );
      }
    } else if (ownSecret) {
      this.problem(
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
        "required when KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET is set (Graph's identity takes AZURE_CLIENT_SECRET)",
      );
    } else if (!entra) {
      this.problem(
        "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
        "required with KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, with KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: Graph's credentials go to Entra ID only",
      );
    }

    const scope = this.value("KAFKA_SASL_OAUTHBEARER_SCOPE");
    if (!this.given("KAFKA_SASL_OAUTHBEARER_SCOPE")) {
      this.problem(
        "KAFKA_SASL_OAUTHBEARER_SCOPE",
        "required with KAFKA_SASL_MECHANISM=oauthbearer (e.g. https://<namespace>.servicebus.windows.net/.default for Azure Event Hubs)",
      );
    } else if (entra && scope !== undefined && (scope.includes(" ") || !scope.endsWith("/.default"))) {
      // Entra ID's client-credentials grant takes exactly one `<resource>/.default`.
      this.invalid(
        "KAFKA_SASL_OAUTHBEARER_SCOPE",
        "is not an Entra ID client-credentials scope; use one <resource>/.default, e.g. https://<namespace>.servicebus.windows.net/.default",
      );
    }
    if (entra && this.given("KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD")) {
      this.problem(
        "KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD",
        "is used only with KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL (Entra ID's client library sends the secret its own way); unset it",
      );
    }
  }

  registryAuth(): void {
    const username = this.given("SCHEMA_REGISTRY_USERNAME");
    const password = this.given("SCHEMA_REGISTRY_PASSWORD");
    if (username && !password)
      this.problem("SCHEMA_REGISTRY_PASSWORD", "required when SCHEMA_REGISTRY_USERNAME is set");
    if (password && !username)
      this.problem("SCHEMA_REGISTRY_USERNAME", "required when SCHEMA_REGISTRY_PASSWORD is set");
  }

  /**
   * Credentials that would cross the network unencrypted: SASL (any mechanism) without TLS to the
   * brokers, registry basic auth over http. Each is a problem unless
   * CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS vouches for the network; judged once the Kafka or the
   * registry settings have no other problem.
   */
  cleartext(): void {
    if (this.value("CONNECTOR_ALLOW_CLEARTEXT_CREDENTIALS") !== false) return;
    const tls = this.value("KAFKA_SSL") ?? TLS_FILES.some((name) => this.given(name));
    if (this.clean("KAFKA_") && this.given("KAFKA_SASL_MECHANISM") && !tls) {
      this.problem(
        "KAFKA_SASL_MECHANISM",
        `SASL with KAFKA_SSL=false sends the Kafka credentials in clear text; set KAFKA_SSL=true (the brokers' SASL_SSL listener), ${OPT_IN}`,
      );
    }
    const url = this.value("SCHEMA_REGISTRY_URL");
    if (
      this.clean("SCHEMA_REGISTRY_") &&
      this.given("SCHEMA_REGISTRY_PASSWORD") &&
      url?.startsWith("http:")
    ) {
      this.problem(
        "SCHEMA_REGISTRY_URL",
        `${quote(new URL(url).origin)} is http, so SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD would be sent in clear text; use the registry's https URL, ${OPT_IN}`,
      );
    }
  }
}

/** `A, B and C are set` */
function areSet(names: readonly string[]): string {
  return `${listWords(names, "and")} ${names.length > 1 ? "are" : "is"} set`;
}
