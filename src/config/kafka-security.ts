/** The Kafka security settings: TLS files, and SASL with a password or with OAUTHBEARER tokens. */
import { resolve } from "node:path";
import * as check from "./fields.js";
import type { Reader } from "./load.js";
import { caFileProblem, clientKeyPairProblems } from "./pem.js";
import {
  type ConnectorConfig,
  type KafkaOAuthBearer,
  type KafkaSasl,
  type KafkaTlsFiles,
  OAUTH_CLIENT_AUTH_METHODS,
  SASL_MECHANISMS,
} from "./types.js";
import type { VariableName } from "./variables.js";

const TLS_FILE_VARIABLES = ["KAFKA_SSL_CA_FILE", "KAFKA_SSL_CERT_FILE", "KAFKA_SSL_KEY_FILE"] as const;

const OAUTH_VARIABLES = [
  "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL",
  "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
  "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
  "KAFKA_SASL_OAUTHBEARER_SCOPE",
  "KAFKA_SASL_OAUTHBEARER_EXTENSIONS",
  "KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD",
] as const satisfies readonly VariableName[];

/**
 * `KAFKA_SSL` and the TLS files. Any file implies TLS; `KAFKA_SSL=false` with one is a problem,
 * since the operator asked for both a plain connection and a certificate. `false` when a value
 * has problems.
 */
export function validateKafkaTls(read: Reader): { ssl: boolean; tls?: KafkaTlsFiles } | false {
  const explicit = read.isSet("KAFKA_SSL") ? read.get("KAFKA_SSL", check.boolean) : undefined;
  const given = TLS_FILE_VARIABLES.filter((name) => read.isSet(name));
  let ok = !(read.isSet("KAFKA_SSL") && explicit === undefined);
  if (explicit === false && given.length > 0) {
    read.problem(
      "KAFKA_SSL",
      `is false, but ${listAnd(given)} ${given.length > 1 ? "are" : "is"} set, which TLS uses; remove KAFKA_SSL=false (the files imply TLS) or those files`,
    );
    ok = false;
  }

  const tls: KafkaTlsFiles = {};
  const caFile = read.text("KAFKA_SSL_CA_FILE");
  if (caFile !== undefined) {
    const problem = caFileProblem(caFile);
    if (problem === undefined) tls.caFile = resolve(caFile);
    else {
      read.invalid("KAFKA_SSL_CA_FILE", caFile, problem);
      ok = false;
    }
  }

  const certFile = read.text("KAFKA_SSL_CERT_FILE");
  const keyFile = read.text("KAFKA_SSL_KEY_FILE");
  const password = read.text("KAFKA_SSL_KEY_PASSWORD");
  if (certFile !== undefined && keyFile === undefined) {
    read.problem(
      "KAFKA_SSL_KEY_FILE",
      "required when KAFKA_SSL_CERT_FILE is set (the certificate's private key)",
    );
    ok = false;
  } else if (keyFile !== undefined && certFile === undefined) {
    read.problem("KAFKA_SSL_CERT_FILE", "required when KAFKA_SSL_KEY_FILE is set (the key's certificate)");
    ok = false;
  } else if (certFile !== undefined && keyFile !== undefined) {
    const problems = clientKeyPairProblems(certFile, keyFile, password);
    if (problems.cert !== undefined) read.invalid("KAFKA_SSL_CERT_FILE", certFile, problems.cert);
    if (problems.key !== undefined) read.invalid("KAFKA_SSL_KEY_FILE", keyFile, problems.key);
    if (problems.password !== undefined) read.problem("KAFKA_SSL_KEY_PASSWORD", problems.password);
    if (problems.cert === undefined && problems.key === undefined && problems.password === undefined) {
      tls.certFile = resolve(certFile);
      tls.keyFile = resolve(keyFile);
      if (password !== undefined) tls.keyPassword = password;
    } else ok = false;
  }
  if (password !== undefined && keyFile === undefined) {
    read.problem("KAFKA_SSL_KEY_PASSWORD", "is set without KAFKA_SSL_KEY_FILE; unset it");
    ok = false;
  }
  if (!ok) return false;
  const ssl = explicit ?? (given.length > 0 || read.get("KAFKA_SSL", check.boolean) === true);
  return Object.keys(tls).length === 0 ? { ssl } : { ssl, tls };
}

/** The SASL settings, `undefined` when SASL is off, `false` when they have problems. */
export function validateSasl(
  read: Reader,
  azure: ConnectorConfig["azure"] | undefined,
): KafkaSasl | undefined | false {
  const username = read.text("KAFKA_SASL_USERNAME");
  const password = read.text("KAFKA_SASL_PASSWORD");
  const oauthGiven = OAUTH_VARIABLES.filter((name) => read.isSet(name));
  if (!read.isSet("KAFKA_SASL_MECHANISM")) {
    const given = [
      ...(username === undefined ? [] : ["KAFKA_SASL_USERNAME"]),
      ...(password === undefined ? [] : ["KAFKA_SASL_PASSWORD"]),
      ...oauthGiven,
    ];
    if (given.length === 0) return undefined;
    const which = listAnd(given);
    read.problem(
      "KAFKA_SASL_MECHANISM",
      `required when ${which} ${given.length > 1 ? "are" : "is"} set (${check.listWords([...SASL_MECHANISMS])})`,
    );
    return false;
  }
  const mechanism = read.get("KAFKA_SASL_MECHANISM", (text) =>
    check.choice(text, SASL_MECHANISMS, "a supported SASL mechanism"),
  );
  if (mechanism === undefined) return false;
  if (mechanism === "oauthbearer") {
    let ok = true;
    for (const [name, value] of [
      ["KAFKA_SASL_USERNAME", username],
      ["KAFKA_SASL_PASSWORD", password],
    ] as const) {
      if (value !== undefined) {
        read.problem(
          name,
          "is not used with KAFKA_SASL_MECHANISM=oauthbearer (a token is sent instead); unset it",
        );
        ok = false;
      }
    }
    const oauthBearer = validateOAuthBearer(read, azure);
    return ok && oauthBearer !== false && oauthBearer !== undefined ? { mechanism, oauthBearer } : false;
  }
  for (const name of oauthGiven) {
    read.problem(name, `is used only with KAFKA_SASL_MECHANISM=oauthbearer, not ${mechanism}; unset it`);
  }
  if (username === undefined)
    read.problem("KAFKA_SASL_USERNAME", "required when KAFKA_SASL_MECHANISM is set");
  if (password === undefined)
    read.problem("KAFKA_SASL_PASSWORD", "required when KAFKA_SASL_MECHANISM is set");
  if (username === undefined || password === undefined || oauthGiven.length > 0) return false;
  return { mechanism, username, password };
}

/**
 * OAUTHBEARER. Graph's identity (AZURE_CLIENT_ID and its secret or certificate) is the default only
 * for Entra ID's token endpoint, so that Graph's tenant-wide credential never goes to another host.
 * `undefined` when only Azure's settings (reported there) are missing.
 */
function validateOAuthBearer(
  read: Reader,
  azure: ConnectorConfig["azure"] | undefined,
): KafkaOAuthBearer | undefined | false {
  let ok = true;
  const urlText = read.text("KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL");
  const url =
    urlText === undefined
      ? undefined
      : read.parse("KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL", urlText, tokenEndpointUrl);
  if (urlText !== undefined && url === undefined) ok = false;
  const entra = urlText === undefined;

  const ownId = read.text("KAFKA_SASL_OAUTHBEARER_CLIENT_ID");
  const ownSecret = read.text("KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET");
  let clientId: string | undefined;
  if (ownId !== undefined) {
    clientId = entra
      ? read.parse("KAFKA_SASL_OAUTHBEARER_CLIENT_ID", ownId, (text) =>
          check.guid(text, "an Entra ID application (client) id"),
        )
      : read.parse("KAFKA_SASL_OAUTHBEARER_CLIENT_ID", ownId, clientIdText);
    if (clientId === undefined) ok = false;
    if (ownSecret === undefined) {
      read.problem(
        "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
        "required when KAFKA_SASL_OAUTHBEARER_CLIENT_ID is set (that identity's client secret)",
      );
      ok = false;
    }
  } else if (ownSecret !== undefined) {
    read.problem(
      "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
      "required when KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET is set (Graph's identity takes AZURE_CLIENT_SECRET)",
    );
    ok = false;
  } else if (!entra) {
    read.problem(
      "KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
      "required with KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, with KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: Graph's credentials go to Entra ID only",
    );
    ok = false;
  }

  const scopeText = read.text("KAFKA_SASL_OAUTHBEARER_SCOPE");
  let scope: string | undefined;
  if (scopeText === undefined) {
    read.problem(
      "KAFKA_SASL_OAUTHBEARER_SCOPE",
      "required with KAFKA_SASL_MECHANISM=oauthbearer (e.g. https://<namespace>.servicebus.windows.net/.default for Azure Event Hubs)",
    );
    ok = false;
  } else {
    scope = read.parse("KAFKA_SASL_OAUTHBEARER_SCOPE", scopeText, entra ? entraScope : oauthScope);
    if (scope === undefined) ok = false;
  }
  const extensionsText = read.text("KAFKA_SASL_OAUTHBEARER_EXTENSIONS");
  const extensions =
    extensionsText === undefined
      ? {}
      : read.parse("KAFKA_SASL_OAUTHBEARER_EXTENSIONS", extensionsText, saslExtensions);
  if (extensions === undefined) ok = false;
  const clientAuthMethod = read.get("KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD", (text) =>
    check.choice(text, OAUTH_CLIENT_AUTH_METHODS, "a client authentication method"),
  );
  if (clientAuthMethod === undefined) ok = false;
  if (entra && read.isSet("KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD")) {
    read.problem(
      "KAFKA_SASL_OAUTHBEARER_CLIENT_AUTH_METHOD",
      "is used only with KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL (Entra ID's client library sends the secret its own way); unset it",
    );
    ok = false;
  }

  if (!ok || scope === undefined || extensions === undefined || clientAuthMethod === undefined) return false;
  if (entra) {
    if (azure === undefined) return undefined;
    const identity =
      clientId !== undefined && ownSecret !== undefined
        ? { clientId, clientSecret: ownSecret }
        : {
            clientId: azure.clientId,
            ...(azure.clientSecret === undefined ? {} : { clientSecret: azure.clientSecret }),
            ...(azure.clientCertificatePath === undefined
              ? {}
              : { clientCertificatePath: azure.clientCertificatePath }),
          };
    return {
      tokenEndpoint: { kind: "entra", authorityHost: azure.authorityHost, tenantId: azure.tenantId },
      ...identity,
      scope,
      extensions,
      clientAuthMethod,
    };
  }
  if (url === undefined || clientId === undefined || ownSecret === undefined) return false;
  return {
    tokenEndpoint: { kind: "oidc", url },
    clientId,
    clientSecret: ownSecret,
    scope,
    extensions,
    clientAuthMethod,
  };
}

/** An https URL without credentials or fragment; a query is kept (some IdPs route by it). */
function tokenEndpointUrl(text: string): check.Check<string> {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return { ok: false, message: "is not a URL; expected an https URL of the token endpoint" };
  }
  if (url.protocol !== "https:")
    return { ok: false, message: "must be an https URL: the client secret travels to it" };
  if (url.username !== "" || url.password !== "")
    return { ok: false, message: "must not carry a user name or password" };
  if (url.hash !== "") return { ok: false, message: "must not have a fragment" };
  return { ok: true, value: url.href };
}

function clientIdText(text: string): check.Check<string> {
  return /^[\x21-\x7e]{1,256}$/.test(text)
    ? { ok: true, value: text }
    : { ok: false, message: "is not a client id (up to 256 printable characters, no spaces)" };
}

/** RFC 6749 scope: space-separated tokens of printable ASCII without `"` and `\`. */
function oauthScope(text: string): check.Check<string> {
  const tokens = text.split(/ +/).filter((token) => token !== "");
  if (tokens.length > 0 && tokens.every((token) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(token)))
    return { ok: true, value: tokens.join(" ") };
  return { ok: false, message: "is not an OAuth2 scope (space-separated words of printable ASCII)" };
}

/** Entra ID's client-credentials grant takes exactly one `<resource>/.default`. */
function entraScope(text: string): check.Check<string> {
  const scope = oauthScope(text);
  if (!scope.ok) return scope;
  if (scope.value.includes(" ") || !scope.value.endsWith("/.default")) {
    return {
      ok: false,
      message:
        "is not an Entra ID client-credentials scope; use one <resource>/.default, e.g. https://<namespace>.servicebus.windows.net/.default",
    };
  }
  return scope;
}

/** `key=value,key=value`; RFC 7628: keys are letters, values printable ASCII, `auth` is reserved. */
function saslExtensions(text: string): check.Check<Record<string, string>> {
  const extensions: Record<string, string> = {};
  for (const entry of text.split(",")) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    const at = trimmed.indexOf("=");
    const key = at < 0 ? trimmed : trimmed.slice(0, at).trim();
    const value = at < 0 ? "" : trimmed.slice(at + 1).trim();
    if (at < 0 || !/^[A-Za-z]+$/.test(key)) {
      return { ok: false, message: "is not key=value pairs, comma-separated, with keys of letters only" };
    }
    if (key === "auth")
      return { ok: false, message: 'uses the key "auth", which SASL reserves for the token' };
    if (!/^[\x20-\x7e]+$/.test(value)) {
      return { ok: false, message: `has an empty or non-printable value for ${key}` };
    }
    if (Object.hasOwn(extensions, key)) return { ok: false, message: `names ${key} twice` };
    extensions[key] = value;
  }
  if (Object.keys(extensions).length === 0)
    return { ok: false, message: "names no extension; use key=value" };
  return { ok: true, value: extensions };
}

/** `a, b and c` */
function listAnd(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}
