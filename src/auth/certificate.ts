import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { ErrorCode, PstnError } from "../errors.js";

export interface ClientCertificate {
  thumbprintSha256: string;
  privateKey: string;
  x5c: string;
}

/** Reads a PEM holding the app's certificate and its private key (AZURE_CLIENT_CERTIFICATE_PATH). */
export function loadClientCertificate(path: string): ClientCertificate {
  const pem = readFileSync(path, "utf8");
  const certBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const keyBlock = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/.exec(
    pem,
  )?.[0];
  if (!certBlock || !keyBlock) {
    throw new PstnError(
      ErrorCode.CONFIG_INVALID,
      `AZURE_CLIENT_CERTIFICATE_PATH: ${path} must hold both a certificate and its private key in PEM`,
    );
  }
  const certificate = new X509Certificate(certBlock);
  const key = createPrivateKey(keyBlock);
  if (!certificate.checkPrivateKey(key)) {
    throw new PstnError(
      ErrorCode.CONFIG_INVALID,
      `AZURE_CLIENT_CERTIFICATE_PATH: the private key in ${path} does not belong to its certificate`,
    );
  }
  return {
    thumbprintSha256: createHash("sha256").update(certificate.raw).digest("hex"),
    // msal-node signs with a PKCS#8 key; a PKCS#1 ("RSA PRIVATE KEY") one is converted.
    privateKey: key.export({ type: "pkcs8", format: "pem" }).toString(),
    x5c: certificate.raw.toString("base64"),
  };
}
