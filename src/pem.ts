/**
 * PEM files of certificates and private keys, with one set of rules for the checks at start-up
 * (config) and for loading the app's certificate (auth):
 * - a certificate is a `CERTIFICATE` block, and every one in a file must be readable;
 * - a private key is any `… PRIVATE KEY` block (PKCS#8, PKCS#1, SEC1), one per file;
 * - a key is encrypted when PKCS#8-encrypted or marked `Proc-Type: 4,ENCRYPTED`;
 * - the client's certificate is the first of its file (TLS sends it as the leaf, msal takes its
 *   thumbprint), and the key must belong to it.
 * Problems are the words that follow the file's quoted path in the operator's message.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const MAX_BYTES = 1024 * 1024;

interface Pem {
  certificates: X509Certificate[];
  keys: string[];
}

/** The certificates and private key blocks of a file, or why it cannot be used. */
function readPem(path: string): Pem | string {
  let text: string;
  try {
    const stats = statSync(path);
    if (stats.isDirectory()) return "is a directory, not a PEM file";
    if (stats.size > MAX_BYTES) return "is larger than 1 MiB; not a PEM file";
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "does not exist";
    if (code === "EACCES" || code === "EPERM") return "cannot be read (permission denied)";
    return `cannot be read (${code ?? "unknown error"})`;
  }
  const pem: Pem = { certificates: [], keys: [] };
  for (const [block, label = ""] of text.matchAll(BLOCK)) {
    if (/(^| )PRIVATE KEY$/.test(label)) pem.keys.push(block);
    else if (label === "CERTIFICATE") {
      try {
        pem.certificates.push(new X509Certificate(block));
      } catch {
        return `holds a certificate that cannot be read (the ${ordinal(pem.certificates.length + 1)} one)`;
      }
    }
  }
  return pem;
}

const NO_CERTIFICATE = "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";

/** The certificates of a file (a CA bundle, a client's chain): at least one, or why not. */
export function readCertificates(path: string): X509Certificate[] | string {
  const pem = readPem(path);
  if (typeof pem === "string") return pem;
  return pem.certificates.length > 0 ? pem.certificates : NO_CERTIFICATE;
}

interface KeyPairFiles {
  certificate: string;
  /** The key's file; the certificate's own when both are in one. */
  key: string;
  passphrase?: string | undefined;
  /** How messages name the files and the passphrase: by their variables. */
  names: { certificate: string; key: string; passphrase?: string };
}

interface KeyPair {
  /** The client's certificate, the first of its file. */
  certificate: X509Certificate;
  key: KeyObject;
}

/** What is wrong, by the file or setting it is wrong in. */
type KeyPairProblems = Partial<Record<"certificate" | "key" | "passphrase", string>>;

/** A client certificate and its private key, from one file or two: the pair, or every problem found. */
export function readKeyPair(files: KeyPairFiles): { pair: KeyPair } | { problems: KeyPairProblems } {
  const { names, passphrase } = files;
  const certificatePem = readPem(files.certificate);
  const keyPem = files.key === files.certificate ? certificatePem : readPem(files.key);
  const problems: KeyPairProblems = {};
  const certificate = typeof certificatePem === "string" ? undefined : certificatePem.certificates[0];
  if (typeof certificatePem === "string") problems.certificate = certificatePem;
  else if (certificate === undefined) problems.certificate = NO_CERTIFICATE;

  let key: KeyObject | undefined;
  if (typeof keyPem === "string") {
    // One file that cannot be read is one problem.
    if (keyPem !== certificatePem) problems.key = keyPem;
  } else {
    const [block, ...more] = keyPem.keys;
    const encrypted = block !== undefined && /^-----BEGIN ENCRYPTED|Proc-Type:\s*4,ENCRYPTED/.test(block);
    if (block === undefined) problems.key = "holds no PEM private key (-----BEGIN PRIVATE KEY-----)";
    else if (more.length > 0) problems.key = "holds more than one private key; keep only the certificate's";
    else if (encrypted && passphrase === undefined) {
      const remedy =
        names.passphrase === undefined
          ? "the connector needs it unencrypted"
          : `set ${names.passphrase} to its passphrase`;
      problems.key = `holds an encrypted private key; ${remedy}`;
    } else if (!encrypted && passphrase !== undefined) {
      problems.passphrase = `is set, but ${names.key} is not encrypted; unset it`;
    } else {
      try {
        key = createPrivateKey({ key: block, format: "pem", passphrase });
      } catch {
        if (encrypted) problems.passphrase = `does not decrypt ${names.key} (wrong passphrase)`;
        else problems.key = "holds a private key that cannot be read";
      }
    }
  }
  if (key !== undefined && certificate !== undefined) {
    if (certificate.checkPrivateKey(key)) return { pair: { certificate, key } };
    const owner = files.key === files.certificate ? "its" : `${names.certificate}'s`;
    problems.key = `does not hold the private key of ${owner} certificate (its first one)`;
  }
  return { problems };
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 1 && n !== 11 ? "st" : n % 10 === 2 && n !== 12 ? "nd" : n % 10 === 3 ? "rd" : "th";
  return `${n}${suffix}`;
}
