/**
 * The schemas of single values. Each reads a variable's text (trimmed, never empty) into its value,
 * or records a problem: the words that follow the quoted value in the operator's message, e.g.
 * `is not a duration; use e.g. 5m, 30s or PT5M`.
 */
import { resolve } from "node:path";
import { z } from "zod";
import { readCertificates } from "../pem.js";
import { type DurationProblem, formatDuration, readDuration, readInstant } from "./duration.js";
import { closestName } from "./similarity.js";
import type { StartSpec } from "./types.js";

/** Marks a problem whose line quotes the variable's value before the message. */
export const QUOTED = { quoted: true } as const;

/** A schema that reads the text with `parse`: its value, or `fail(message)`. */
function field<T>(parse: (text: string, fail: (message: string) => never) => T) {
  return z.string().transform((text, ctx) =>
    parse(text, (message) => {
      ctx.addIssue({ code: "custom", message, params: QUOTED });
      return z.NEVER;
    }),
  );
}

/** Any text, as given. */
export const text = z.string();

/** Node's timers cannot wait longer than 2^31 − 1 ms (about 24.8 days); 24 days is the round limit below. */
const TIMER_LIMIT_MS = 24 * 86_400_000;

const DURATION_HINT = "use e.g. 5m, 30s or PT5M";

interface DurationBounds {
  /** Whether zero is a meaningful value. */
  allowZero: boolean;
  maxMs?: number;
  /** Why the maximum exists, e.g. "Graph's limit". */
  maxReason?: string;
}

/** What is wrong with a text that is not a duration. */
const NOT_A_DURATION: Readonly<Record<DurationProblem, string>> = {
  calendar: "uses years or months, which have no fixed length; use days or weeks, e.g. P30D or 30d",
  negative: `is negative; ${DURATION_HINT}`,
  precision: "is finer than a millisecond",
  range: "is too long",
  syntax: `is not a duration; ${DURATION_HINT}`,
};

export function duration(bounds: DurationBounds) {
  return field((text, fail) => {
    const result = readDuration(text);
    if (!result.ok) return fail(NOT_A_DURATION[result.problem]);
    if (result.ms === 0 && !bounds.allowZero) return fail(`must be longer than zero; ${DURATION_HINT}`);
    if (bounds.maxMs !== undefined && result.ms > bounds.maxMs) {
      const reason = bounds.maxReason === undefined ? "" : ` (${bounds.maxReason})`;
      return fail(`is too long; at most ${formatDuration(bounds.maxMs)}${reason}`);
    }
    return result.ms;
  });
}

/** A wait on a timer: above zero, within what Node's timers support. */
export const timeout = duration({
  allowZero: false,
  maxMs: TIMER_LIMIT_MS,
  maxReason: "the longest wait Node's timers support",
});

/** A duration ago that is none; a text that is no duration at all may still be an instant. */
const NOT_AGO: Readonly<Record<Exclude<DurationProblem, "syntax">, string>> = {
  calendar: "uses years or months, which have no fixed length; use days, e.g. 365d, or an instant",
  negative: "is negative; give how long ago the first run begins, e.g. 30d",
  precision: NOT_A_DURATION.precision,
  range: "is too long ago",
};

/** `CONNECTOR_START`: an instant with a zone, or a duration meaning "that long ago". */
export const start = field((text, fail): StartSpec => {
  if (/^-?(?:p|\d+(?:\.\d+)?[a-z])/i.test(text)) {
    const result = readDuration(text);
    if (result.ok) return { kind: "ago", ms: result.ms };
    if (result.problem !== "syntax") return fail(NOT_AGO[result.problem]);
  }
  const instant = readInstant(text);
  if (instant.ok) return { kind: "instant", at: instant.at };
  if (instant.problem === "zone") {
    const example = /[Tt ]/.test(text) ? `${text}Z` : `${text}T00:00:00Z`;
    return fail(`has no time zone; add Z or an offset, e.g. ${example}`);
  }
  if (instant.problem === "calendar") return fail("is not a real date and time");
  return fail(
    "is neither an ISO-8601 instant (e.g. 2024-05-01T00:00:00Z) nor a duration ago (e.g. 30d or P30D)",
  );
});

function wholeNumber(text: string, min: number, max: number): number | undefined {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

export function integer(min: number, max: number) {
  return field(
    (text, fail) => wholeNumber(text, min, max) ?? fail(`is not a whole number from ${min} to ${max}`),
  );
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** A size in bytes: a whole number of bytes, or a number with a unit (`64MiB`, `10MB`, `512KiB`). */
export function byteSize(min: number, max: number) {
  return field((text, fail) => {
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
    const unit = match === null ? undefined : BYTE_UNITS[(match[2] ?? "").toLowerCase()];
    if (match === null || unit === undefined) {
      return fail("is not a size; use bytes or a unit, e.g. 64MiB, 10MB or 1048576");
    }
    const bytes = Math.round(Number(match[1]) * unit);
    if (!(bytes >= min && bytes <= max))
      return fail(`is not a size from ${formatBytes(min)} to ${formatBytes(max)}`);
    return bytes;
  });
}

/** `64MiB`, `1500B`: bytes as the largest binary unit that divides them. */
function formatBytes(bytes: number): string {
  for (const unit of ["GiB", "MiB", "KiB"] as const) {
    const size = BYTE_UNITS[unit.toLowerCase()] as number;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

export const port = field((text, fail) => {
  const value = wholeNumber(text, 0, 65_535);
  if (value !== undefined) return value;
  if (/^(tcp|udp|sctp):\/\//i.test(text)) {
    return fail(
      "is not a port but a Kubernetes service link (a Service named like this variable); set the port explicitly or disable enableServiceLinks",
    );
  }
  return fail("is not a port from 0 to 65535 (0 picks a free port)");
});

const TRUE = new Set(["true", "1", "yes"]);
const FALSE = new Set(["false", "0", "no"]);

export const boolean = field((text, fail) => {
  const lower = text.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  return fail("is not true or false; use true, false, 1, 0, yes or no");
});

/** One of a fixed set of words, case-insensitive. */
export function choice<const T extends string>(options: readonly T[], noun: string) {
  return field((text, fail) => {
    const lower = text.toLowerCase();
    const found = options.find((option) => option.toLowerCase() === lower);
    if (found !== undefined) return found;
    const near = closestName(lower, options);
    return fail(
      `is not ${noun}; use ${listWords(options)}${near === undefined ? "" : `; did you mean ${near}?`}`,
    );
  });
}

/** An https URL without query, fragment or credentials; returned without trailing slashes. */
export const httpsUrl = baseUrl(["https:"], "an https URL, e.g. https://graph.microsoft.com");

/** An http or https URL, as {@link httpsUrl}; credentials belong in the registry's own variables. */
export const registryUrl = baseUrl(
  ["http:", "https:"],
  "an http or https URL, e.g. https://registry.example.com:8081",
  "; set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD",
);

function baseUrl(protocols: readonly string[], expected: string, credentialsHint = "") {
  return field((text, fail) => {
    const url = URL.parse(text);
    if (url === null) return fail(`is not a URL; expected ${expected}`);
    if (!protocols.includes(url.protocol)) {
      const tls = protocols.includes("http:") ? "" : " (a private CA is trusted through NODE_EXTRA_CA_CERTS)";
      return fail(`must be ${expected}${tls}`);
    }
    if (url.username !== "" || url.password !== "")
      return fail(`must not carry a user name or password${credentialsHint}`);
    if (url.search !== "" || url.hash !== "") return fail("must not have a query or fragment");
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  });
}

const GUID = z.guid();
const IPV4 = z.ipv4();
const IPV6 = z.ipv6();
/** DNS names, with `_` allowed: container hosts such as `stack_kafka_1` resolve fine. */
const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.replace(/\.$/, "").split(".");
  // A name of digits and dots only is an IPv4 address and must be a valid one.
  if (labels.every((label) => /^\d+$/.test(label))) return IPV4.safeParse(host).success;
  return labels.every((label) => HOST_LABEL.test(label));
}

/** An address to listen on: IPv4, IPv6 (brackets optional) or a host name; returned without brackets. */
export const listenHost = field((text, fail) => {
  const unbracketed = /^\[(.*)\]$/.exec(text)?.[1] ?? text;
  if (IPV6.safeParse(unbracketed).success || isHostName(unbracketed)) return unbracketed;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /:\d+$/.test(text)) {
    return fail("is not an address; give the address only (e.g. 127.0.0.1 or ::), the port is METRICS_PORT");
  }
  return fail("is not an IP address or host name; use e.g. 127.0.0.1, :: or 0.0.0.0");
});

/** A GUID, lower case. */
export function guid(noun: string) {
  return field((text, fail) =>
    GUID.safeParse(text).success
      ? text.toLowerCase()
      : fail(`is not ${noun}; expected a GUID like 00000000-0000-0000-0000-000000000000`),
  );
}

const MULTI_TENANT = new Set(["common", "organizations", "consumers"]);

export const tenant = field((text, fail) => {
  if (GUID.safeParse(text).success) return text.toLowerCase();
  if (MULTI_TENANT.has(text.toLowerCase())) {
    return fail("is not a single tenant; application permissions need the tenant GUID or its domain");
  }
  if (text.includes(".") && isHostName(text) && !/^[\d.]+$/.test(text)) return text.toLowerCase();
  return fail("is not a tenant GUID or domain (e.g. contoso.onmicrosoft.com)");
});

/** `host:port` entries, comma-separated, each bad entry its own problem. */
export const brokers = z.string().transform((text, ctx) => {
  const list: string[] = [];
  let bad = 0;
  for (const entry of text.split(",")) {
    const broker = entry.trim();
    if (broker === "") continue;
    const problem = brokerProblem(broker);
    if (problem === undefined) {
      if (!list.includes(broker)) list.push(broker);
      continue;
    }
    ctx.addIssue({ code: "custom", message: `${quote(safeBroker(broker))} ${problem}` });
    bad += 1;
  }
  if (list.length === 0 && bad === 0)
    ctx.addIssue({ code: "custom", message: "names no broker; use host:port", params: QUOTED });
  return list;
});

/** A broker entry as it may appear in a message: a user name and password in it redacted. */
function safeBroker(broker: string): string {
  const parts = /^([a-z][a-z0-9+._-]*:\/\/)?(?:.*@)?(.*)$/i.exec(broker);
  const userInfo = broker.slice((parts?.[1] ?? "").length).includes("@");
  const shown = `${parts?.[1] ?? ""}${userInfo ? "[redacted]@" : ""}${parts?.[2] ?? broker}`;
  return withoutCredentials(shown).replace(/[?#].*$/, "?[redacted]");
}

function brokerProblem(broker: string): string | undefined {
  const scheme = /^[a-z][a-z0-9+._-]*:\/\/(?:.*@)?([^/?#]*)/i.exec(broker);
  if (scheme !== null) return `has a scheme; write host:port only, e.g. ${scheme[1] || "kafka-1:9092"}`;
  if (broker.includes("@")) {
    return "carries a user name or password; write host:port only and set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD";
  }
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(broker);
  const [host, portText] =
    bracketed !== null
      ? [bracketed[1] ?? "", bracketed[2]]
      : broker.includes(":")
        ? [broker.slice(0, broker.lastIndexOf(":")), broker.slice(broker.lastIndexOf(":") + 1)]
        : [broker, undefined];
  const hostOk = bracketed !== null ? IPV6.safeParse(host).success : isHostName(host);
  if (!hostOk) {
    if (bracketed === null && host.includes(":"))
      return "is not host:port (write an IPv6 address in brackets, [::1]:9092)";
    return "is not host:port; the host is not a valid name or address";
  }
  if (portText === undefined) return `has no port; use host:port, e.g. ${broker}:9092`;
  if (wholeNumber(portText, 1, 65_535) === undefined) {
    return "is not host:port; the port must be a number from 1 to 65535";
  }
  return undefined;
}

/** Names from a fixed set, comma-separated, each in any case and at most once; each bad one its own problem. */
export function nameList<const T extends string>(options: readonly T[], noun: string) {
  return z.string().transform((text, ctx) => {
    const list: T[] = [];
    for (const entry of text.split(",")) {
      const name = entry.trim();
      if (name === "") continue;
      const found = options.find((option) => option.toLowerCase() === name.toLowerCase());
      if (found === undefined) {
        const near = closestName(name.toLowerCase(), options);
        ctx.addIssue({
          code: "custom",
          message: `${quote(name)} is not a ${noun}; use ${listWords(options, "and")}${near === undefined ? "" : `; did you mean ${near}?`}`,
        });
      } else if (list.includes(found)) {
        ctx.addIssue({ code: "custom", message: `names ${found} twice` });
      } else list.push(found);
    }
    if (text.split(",").every((entry) => entry.trim() === ""))
      ctx.addIssue({
        code: "custom",
        message: `names no ${noun}; use ${listWords(options, "and")}`,
        params: QUOTED,
      });
    return list;
  });
}

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

export const topic = field((text, fail) =>
  TOPIC.test(text) && text !== "." && text !== ".."
    ? text
    : fail('is not a valid topic name; use up to 249 letters, digits, ".", "_" or "-"'),
);

export const connectorName = field((text, fail) =>
  /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$/.test(text)
    ? text
    : fail(
        'is not a valid name; use up to 100 letters, digits, ".", "_" or "-", starting with a letter or digit',
      ),
);

/** An https URL without credentials or fragment; a query is kept (some IdPs route by it). */
export const tokenEndpointUrl = field((text, fail) => {
  const url = URL.parse(text);
  if (url === null) return fail("is not a URL; expected an https URL of the token endpoint");
  if (url.protocol !== "https:") return fail("must be an https URL: the client secret travels to it");
  if (url.username !== "" || url.password !== "") return fail("must not carry a user name or password");
  if (url.hash !== "") return fail("must not have a fragment");
  return url.href;
});

export const oauthClientId = field((text, fail) =>
  /^[\x21-\x7e]{1,256}$/.test(text)
    ? text
    : fail("is not a client id (up to 256 printable characters, no spaces)"),
);

/** RFC 6749 scope: space-separated tokens of printable ASCII without `"` and `\`. */
export const oauthScope = field((text, fail) => {
  const tokens = text.split(/ +/).filter((token) => token !== "");
  if (tokens.length > 0 && tokens.every((token) => /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(token)))
    return tokens.join(" ");
  return fail("is not an OAuth2 scope (space-separated words of printable ASCII)");
});

/** `key=value,key=value`; RFC 7628: keys are letters, values printable ASCII, `auth` is reserved. */
export const saslExtensions = field((text, fail) => {
  const extensions: Record<string, string> = {};
  for (const entry of text.split(",")) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    const at = trimmed.indexOf("=");
    const key = at < 0 ? trimmed : trimmed.slice(0, at).trim();
    const value = at < 0 ? "" : trimmed.slice(at + 1).trim();
    if (at < 0 || !/^[A-Za-z]+$/.test(key)) {
      return fail("is not key=value pairs, comma-separated, with keys of letters only");
    }
    if (key === "auth") return fail('uses the key "auth", which SASL reserves for the token');
    if (!/^[\x20-\x7e]+$/.test(value)) return fail(`has an empty or non-printable value for ${key}`);
    if (Object.hasOwn(extensions, key)) return fail(`names ${key} twice`);
    extensions[key] = value;
  }
  if (Object.keys(extensions).length === 0) return fail("names no extension; use key=value");
  return extensions;
});

/** A PEM file of CA certificates, every one readable; returned as an absolute path. */
export const caFile = field((path, fail) => {
  const certificates = readCertificates(path);
  return typeof certificates === "string" ? fail(certificates) : resolve(path);
});

/**
 * Text with what could be a credential taken out: a URL's password (or its user info when that is
 * a single token), its query and fragment (signatures, API keys), and anything shaped like an
 * Entra ID client secret.
 */
export function withoutCredentials(text: string): string {
  return text
    .replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, "$1:[redacted]@")
    .replace(/\/\/[^/:@\s[\]]+@/g, "//[redacted]@")
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^\s?#]*)[?#]\S*/gi, "$1?[redacted]")
    .replace(/[A-Za-z0-9_.-]{3}\d[A-Za-z]~[A-Za-z0-9_.~-]{20,}/g, "[redacted]");
}

/** A value as it appears in a message: quoted, control characters escaped, long values shortened. */
export function quote(value: string): string {
  const shown = value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return JSON.stringify(shown);
}

/** `a, b or c` */
export function listWords(words: readonly string[], last = "or"): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} ${last} ${words[words.length - 1]}`;
}
