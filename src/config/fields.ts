/**
 * Checks of single values. Each returns the parsed value or the words that follow the quoted value
 * in the operator's message, e.g. `is not a duration; use e.g. 5m, 30s or PT5M`.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { formatDuration, readDuration, readInstant } from "./duration.js";
import { closestName } from "./similarity.js";
import type { StartSpec } from "./types.js";

export type Check<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Check<T> => ({ ok: true, value });
const fail = <T>(message: string): Check<T> => ({ ok: false, message });

/** Node's timers cannot wait longer than 2^31 − 1 ms (about 24.8 days); 24 days is the round limit below. */
export const TIMER_LIMIT_MS = 24 * 86_400_000;
/** Graph refuses a call-log range longer than 90 days. */
export const GRAPH_MAX_RANGE_MS = 90 * 86_400_000;

const DURATION_HINT = "use e.g. 5m, 30s or PT5M";

export interface DurationBounds {
  /** Whether zero is a meaningful value. */
  allowZero: boolean;
  maxMs?: number;
  /** Why the maximum exists, e.g. "Graph's limit". */
  maxReason?: string;
}

export function duration(text: string, bounds: DurationBounds): Check<number> {
  const result = readDuration(text);
  if (!result.ok) {
    switch (result.problem) {
      case "calendar":
        return fail("uses years or months, which have no fixed length; use days or weeks, e.g. P30D or 30d");
      case "negative":
        return fail(`is negative; ${DURATION_HINT}`);
      case "precision":
        return fail("is finer than a millisecond");
      case "range":
        return fail("is too long");
      case "syntax":
        return fail(`is not a duration; ${DURATION_HINT}`);
    }
  }
  if (result.ms === 0 && !bounds.allowZero) return fail(`must be longer than zero; ${DURATION_HINT}`);
  if (bounds.maxMs !== undefined && result.ms > bounds.maxMs) {
    const reason = bounds.maxReason === undefined ? "" : ` (${bounds.maxReason})`;
    return fail(`is too long; at most ${formatDuration(bounds.maxMs)}${reason}`);
  }
  return ok(result.ms);
}

/** `CONNECTOR_START`: an instant with a zone, or a duration meaning "that long ago". */
export function start(text: string): Check<StartSpec> {
  const trimmed = text.trim();
  if (/^-?(?:p|\d+(?:\.\d+)?[a-z])/i.test(trimmed)) {
    const result = readDuration(trimmed);
    if (result.ok) return ok({ kind: "ago", ms: result.ms });
    switch (result.problem) {
      case "negative":
        return fail("is negative; give how long ago the first run begins, e.g. 30d");
      case "calendar":
        return fail("uses years or months, which have no fixed length; use days, e.g. 365d, or an instant");
      case "precision":
        return fail("is finer than a millisecond");
      case "range":
        return fail("is too long ago");
      case "syntax":
        break;
    }
  }
  const instant = readInstant(trimmed);
  if (instant.ok) return ok({ kind: "instant", at: instant.at });
  if (instant.problem === "zone") {
    const example = /[Tt ]/.test(trimmed) ? `${trimmed}Z` : `${trimmed}T00:00:00Z`;
    return fail(`has no time zone; add Z or an offset, e.g. ${example}`);
  }
  if (instant.problem === "calendar") return fail("is not a real date and time");
  return fail(
    "is neither an ISO-8601 instant (e.g. 2024-05-01T00:00:00Z) nor a duration ago (e.g. 30d or P30D)",
  );
}

export function integer(text: string, min: number, max: number, noun = "a whole number"): Check<number> {
  const trimmed = text.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (Number.isSafeInteger(value) && value >= min && value <= max) return ok(value);
  return fail(`is not ${noun} from ${min} to ${max}`);
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
export function byteSize(text: string, min: number, max: number): Check<number> {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match === null ? undefined : BYTE_UNITS[(match[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) {
    return fail("is not a size; use bytes or a unit, e.g. 64MiB, 10MB or 1048576");
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!(bytes >= min && bytes <= max)) {
    return fail(`is not a size from ${formatBytes(min)} to ${formatBytes(max)}`);
  }
  return ok(bytes);
}

/** `64MiB`, `1500B`: bytes as the largest binary unit that divides them. */
export function formatBytes(bytes: number): string {
  for (const unit of ["GiB", "MiB", "KiB"] as const) {
    const size = BYTE_UNITS[unit.toLowerCase()] as number;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

export function port(text: string): Check<number> {
  const result = integer(text, 0, 65_535, "a port");
  if (result.ok) return result;
  if (/^(tcp|udp|sctp):\/\//i.test(text.trim())) {
    return fail(
      "is not a port but a Kubernetes service link (a Service named like this variable); set the port explicitly or disable enableServiceLinks",
    );
  }
  return fail(`${result.message} (0 picks a free port)`);
}

const TRUE = new Set(["true", "1", "yes"]);
const FALSE = new Set(["false", "0", "no"]);

export function boolean(text: string): Check<boolean> {
  const lower = text.trim().toLowerCase();
  if (TRUE.has(lower)) return ok(true);
  if (FALSE.has(lower)) return ok(false);
  return fail("is not true or false; use true, false, 1, 0, yes or no");
}

/** One of a fixed set of words, case-insensitive. */
export function choice<T extends string>(text: string, options: readonly T[], noun: string): Check<T> {
  const lower = text.trim().toLowerCase();
  const found = options.find((option) => option.toLowerCase() === lower);
  if (found !== undefined) return ok(found);
  const near = closestName(lower, options);
  const hint = near === undefined ? "" : `; did you mean ${near}?`;
  return fail(`is not ${noun}; use ${listWords(options)}${hint}`);
}

/** An https URL without query, fragment or credentials; returned without trailing slashes. */
export function httpsUrl(text: string): Check<string> {
  return baseUrl(text, ["https:"], "an https URL, e.g. https://graph.microsoft.com");
}

/** An http or https URL without query, fragment or credentials; returned without trailing slashes. */
export function httpUrl(text: string): Check<string> {
  return baseUrl(text, ["http:", "https:"], "an http or https URL, e.g. https://registry.example.com:8081");
}

function baseUrl(text: string, protocols: readonly string[], expected: string): Check<string> {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return fail(`is not a URL; expected ${expected}`);
  }
  if (!protocols.includes(url.protocol)) {
    const tls = protocols.includes("http:") ? "" : " (a private CA is trusted through NODE_EXTRA_CA_CERTS)";
    return fail(`must be ${expected}${tls}`);
  }
  if (url.username !== "" || url.password !== "") return fail("must not carry a user name or password");
  if (url.search !== "" || url.hash !== "") return fail("must not have a query or fragment");
  return ok(`${url.origin}${url.pathname.replace(/\/+$/, "")}`);
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
export function listenHost(text: string): Check<string> {
  const trimmed = text.trim();
  const unbracketed = /^\[(.*)\]$/.exec(trimmed)?.[1] ?? trimmed;
  if (IPV6.safeParse(unbracketed).success || isHostName(unbracketed)) return ok(unbracketed);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) || /:\d+$/.test(trimmed)) {
    return fail("is not an address; give the address only (e.g. 127.0.0.1 or ::), the port is METRICS_PORT");
  }
  return fail("is not an IP address or host name; use e.g. 127.0.0.1, :: or 0.0.0.0");
}

export function guid(text: string, noun: string): Check<string> {
  const trimmed = text.trim();
  return GUID.safeParse(trimmed).success
    ? ok(trimmed.toLowerCase())
    : fail(`is not ${noun}; expected a GUID like 00000000-0000-0000-0000-000000000000`);
}

const MULTI_TENANT = new Set(["common", "organizations", "consumers"]);

export function tenant(text: string): Check<string> {
  const trimmed = text.trim();
  if (GUID.safeParse(trimmed).success) return ok(trimmed.toLowerCase());
  if (MULTI_TENANT.has(trimmed.toLowerCase())) {
    return fail("is not a single tenant; application permissions need the tenant GUID or its domain");
  }
  if (trimmed.includes(".") && isHostName(trimmed) && !/^[\d.]+$/.test(trimmed))
    return ok(trimmed.toLowerCase());
  return fail("is not a tenant GUID or domain (e.g. contoso.onmicrosoft.com)");
}

/** `host:port` entries, comma-separated. Returns the entries, or one message per bad entry. */
export function brokerList(text: string): { brokers: string[]; problems: string[] } {
  const brokers: string[] = [];
  const problems: string[] = [];
  for (const entry of text.split(",")) {
    const broker = entry.trim();
    if (broker === "") continue;
    const problem = brokerProblem(broker);
    if (problem !== undefined) problems.push(`${quote(safeBroker(broker))} ${problem}`);
    else if (!brokers.includes(broker)) brokers.push(broker);
  }
  if (brokers.length === 0 && problems.length === 0)
    problems.push(`${quote(text)} names no broker; use host:port`);
  return { brokers, problems };
}

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
  if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65_535) {
    return "is not host:port; the port must be a number from 1 to 65535";
  }
  return undefined;
}

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

export function topic(text: string): Check<string> {
  const trimmed = text.trim();
  if (TOPIC.test(trimmed) && trimmed !== "." && trimmed !== "..") return ok(trimmed);
  return fail('is not a valid topic name; use up to 249 letters, digits, ".", "_" or "-"');
}

const CONNECTOR_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$/;

export function connectorName(text: string): Check<string> {
  const trimmed = text.trim();
  if (CONNECTOR_NAME.test(trimmed)) return ok(trimmed);
  return fail(
    'is not a valid name; use up to 100 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const MAX_PEM_BYTES = 1024 * 1024;

/**
 * The certificate file: it must be a readable PEM file with a certificate and the unencrypted private
 * key that belongs to it. Returns the messages that follow the quoted path, none when usable.
 */
export function certificateFileProblems(path: string): string[] {
  let pem: string;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) return ["is a directory, not a PEM file"];
    if (stats.size > MAX_PEM_BYTES) return ["is too large to be a PEM certificate file"];
    pem = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return ["does not exist"];
    if (code === "EACCES" || code === "EPERM") return ["cannot be read (permission denied)"];
    return [`cannot be read (${code ?? "unknown error"})`];
  }
  const blocks = [...pem.matchAll(PEM_BLOCK)].map((match) => ({ label: match[1] ?? "", text: match[0] }));
  const certificates = blocks.filter((block) => block.label === "CERTIFICATE");
  const keys = blocks.filter((block) => /(^| )PRIVATE KEY$/.test(block.label));
  if (certificates.length === 0 && keys.length === 0) {
    return [
      "holds no PEM certificate or private key; it needs both (-----BEGIN CERTIFICATE----- and -----BEGIN PRIVATE KEY-----)",
    ];
  }
  if (certificates.length === 0)
    return [
      "holds no certificate (-----BEGIN CERTIFICATE-----); it needs the certificate and its private key",
    ];
  if (keys.length === 0)
    return [
      "holds no private key (-----BEGIN PRIVATE KEY-----); it needs the certificate and its private key",
    ];
  const key = keys[0];
  if (key === undefined) return [];
  if (key.label.startsWith("ENCRYPTED") || /Proc-Type:\s*4,ENCRYPTED/.test(key.text)) {
    return ["holds an encrypted private key; the connector needs it unencrypted"];
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key.text);
  } catch {
    return ["holds a private key that cannot be read"];
  }
  let parsed = 0;
  for (const certificate of certificates) {
    try {
      if (new X509Certificate(certificate.text).checkPrivateKey(privateKey)) return [];
      parsed += 1;
    } catch {
      // not a readable certificate; reported below when none is
    }
  }
  return parsed === 0
    ? ["holds a certificate that cannot be read"]
    : ["holds a private key that belongs to none of its certificates"];
}

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
export function listWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}
