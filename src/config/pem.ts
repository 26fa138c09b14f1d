/**
 * Checks of the PEM files for TLS to the brokers: each readable, each parsable, the key belonging
 * to the certificate. Each returns the words that follow the quoted path in the operator's message.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const MAX_PEM_BYTES = 1024 * 1024;

type Read = { ok: true; text: string } | { ok: false; message: string };

function readPem(path: string): Read {
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) return { ok: false, message: "is a directory, not a PEM file" };
    if (stats.size > MAX_PEM_BYTES) return { ok: false, message: "is larger than 1 MiB; not a PEM file" };
    return { ok: true, text: readFileSync(path, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, message: "does not exist" };
    if (code === "EACCES" || code === "EPERM")
      return { ok: false, message: "cannot be read (permission denied)" };
    return { ok: false, message: `cannot be read (${code ?? "unknown error"})` };
  }
}

function blocks(text: string): Array<{ label: string; text: string }> {
  return [...text.matchAll(PEM_BLOCK)].map((match) => ({ label: match[1] ?? "", text: match[0] }));
}

/** The certificates of a PEM file, or the problem. */
function certificates(path: string): { certificates: X509Certificate[] } | { message: string } {
  const read = readPem(path);
  if (!read.ok) return { message: read.message };
  const found = blocks(read.text).filter((block) => block.label === "CERTIFICATE");
  if (found.length === 0) return { message: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)" };
  const parsed: X509Certificate[] = [];
  for (const [index, block] of found.entries()) {
    try {
      parsed.push(new X509Certificate(block.text));
    } catch {
      return { message: `holds a certificate that cannot be read (the ${ordinal(index + 1)} one)` };
    }
  }
  return { certificates: parsed };
}

/** A CA bundle: at least one certificate, every one readable. */
export function caFileProblem(path: string): string | undefined {
  const result = certificates(path);
  return "message" in result ? result.message : undefined;
}

export interface KeyPairProblems {
  cert?: string;
  key?: string;
  password?: string;
}

/**
 * The client certificate and its key: the first certificate (the leaf) must belong to the key; an
 * encrypted key needs its passphrase, an unencrypted one none.
 */
export function clientKeyPairProblems(
  certPath: string,
  keyPath: string,
  password: string | undefined,
): KeyPairProblems {
  const problems: KeyPairProblems = {};
  const certs = certificates(certPath);
  if ("message" in certs) problems.cert = certs.message;

  let key: KeyObject | undefined;
  const read = readPem(keyPath);
  if (!read.ok) problems.key = read.message;
  else {
    const keyBlocks = blocks(read.text).filter((block) => /(^| )PRIVATE KEY$/.test(block.label));
    const block = keyBlocks[0];
    if (block === undefined) {
      problems.key = "holds no PEM private key (-----BEGIN PRIVATE KEY-----)";
    } else if (keyBlocks.length > 1) {
      problems.key = "holds more than one private key; keep only the certificate's";
    } else {
      const encrypted = block.label.startsWith("ENCRYPTED") || /Proc-Type:\s*4,ENCRYPTED/.test(block.text);
      if (encrypted && password === undefined) {
        problems.key = "holds an encrypted private key; set KAFKA_SSL_KEY_PASSWORD to its passphrase";
      } else if (!encrypted && password !== undefined) {
        problems.password = "is set, but KAFKA_SSL_KEY_FILE is not encrypted; unset it";
      } else {
        try {
          key = createPrivateKey({ key: block.text, format: "pem", passphrase: password });
        } catch {
          if (encrypted) problems.password = "does not decrypt KAFKA_SSL_KEY_FILE (wrong passphrase)";
          else problems.key = "holds a private key that cannot be read";
        }
      }
    }
  }
  const leaf = "certificates" in certs ? certs.certificates[0] : undefined;
  if (key !== undefined && leaf !== undefined && !leaf.checkPrivateKey(key)) {
    problems.key = "does not hold the private key of KAFKA_SSL_CERT_FILE's certificate (its first one)";
  }
  return problems;
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 1 && n !== 11 ? "st" : n % 10 === 2 && n !== 12 ? "nd" : n % 10 === 3 ? "rd" : "th";
  return `${n}${suffix}`;
}
