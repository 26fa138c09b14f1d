/**
 * Certificates: the simulator's own TLS certificate (self-signed for 127.0.0.1, so clients trust it
 * explicitly or through NODE_EXTRA_CA_CERTS) and client certificates for certificate-credential
 * tests, plus the thumbprints Entra ID matches a client assertion against.
 */
import { createHash, X509Certificate } from "node:crypto";
import { generate } from "selfsigned";

export interface ServerCertificate {
  certificatePem: string;
  privateKeyPem: string;
}

export interface ClientCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** Certificate then private key in one PEM file, as AZURE_CLIENT_CERTIFICATE_PATH expects. */
  combinedPem: string;
}

const YEAR_MS = 365 * 86_400_000;

/**
 * A self-signed certificate for 127.0.0.1 and localhost (and `extraHostName`, the name clients use
 * in a container network), usable as its own trust anchor.
 */
export async function generateServerCertificate(extraHostName?: string): Promise<ServerCertificate> {
  const notBeforeDate = new Date(Date.now() - 86_400_000);
  const pems = await generate([{ name: "commonName", value: "graph-simulator.localhost" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 2 * YEAR_MS),
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyCertSign: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
          ...(extraHostName ? [{ type: 2 as const, value: extraHostName }] : []),
        ],
      },
    ],
  });
  return { certificatePem: pems.cert, privateKeyPem: pems.private };
}

/** An RSA client certificate (assertions are signed RS256 or PS256) and its key. */
export async function generateClientCertificate(): Promise<ClientCertificate> {
  const notBeforeDate = new Date(Date.now() - 86_400_000);
  const pems = await generate([{ name: "commonName", value: "pstn-connector-client" }], {
    keyType: "rsa",
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + YEAR_MS),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", clientAuth: true },
    ],
  });
  const certificatePem = ensureNewline(pems.cert);
  const privateKeyPem = ensureNewline(pems.private);
  return { certificatePem, privateKeyPem, combinedPem: certificatePem + privateKeyPem };
}

function ensureNewline(pem: string): string {
  const trimmed = pem.replace(/\r\n/g, "\n").trim();
  return `${trimmed}\n`;
}

/** A registered client certificate as the token endpoint checks it. */
export interface RegisteredCertificate {
  certificate: X509Certificate;
  /** base64url SHA-1 of the DER (the `x5t` header). */
  x5t: string;
  /** base64url SHA-256 of the DER (the `x5t#S256` header). */
  x5tS256: string;
}

export function registerCertificate(pem: string): RegisteredCertificate {
  const certificate = new X509Certificate(pem);
  return {
    certificate,
    x5t: createHash("sha1").update(certificate.raw).digest("base64url"),
    x5tS256: createHash("sha256").update(certificate.raw).digest("base64url"),
  };
}
