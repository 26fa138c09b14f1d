import { createHash } from "node:crypto";
import { ErrorCode, PstnError } from "../errors.js";
import { readKeyPair } from "../pem.js";

export interface ClientCertificate {
  thumbprintSha256: string;
  privateKey: string;
  x5c: string;
}

const VARIABLE = "AZURE_CLIENT_CERTIFICATE_PATH";

/** Reads a PEM holding the app's certificate and its private key (AZURE_CLIENT_CERTIFICATE_PATH). */
export function loadClientCertificate(path: string): ClientCertificate {
  const read = readKeyPair({ certificate: path, key: path, names: { certificate: VARIABLE, key: VARIABLE } });
  if ("problems" in read) {
    const problems = Object.values(read.problems).map((problem) => `${VARIABLE}: ${path} ${problem}`);
    throw new PstnError(ErrorCode.CONFIG_INVALID, problems.join("\n"), { final: true });
  }
  const { certificate, key } = read.pair;
  return {
    thumbprintSha256: createHash("sha256").update(certificate.raw).digest("hex"),
    // msal-node signs with a PKCS#8 key; a PKCS#1 ("RSA PRIVATE KEY") one is converted.
    privateKey: key.export({ type: "pkcs8", format: "pem" }).toString(),
    x5c: certificate.raw.toString("base64"),
  };
}
