/**
 * The secure listeners of the single-node stack: a SASL_SSL listener (SCRAM-SHA-512, SCRAM-SHA-256,
 * PLAIN and OAUTHBEARER) and an SSL listener that requires a client certificate (mTLS). Everything
 * they need (a CA, the broker's and a client's certificate, SCRAM credentials, an RS256 key and
 * its JWKS for OAUTHBEARER) is made fresh at each `up` in the stack's run dir.
 */
import { createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { generate } from "selfsigned";

/** The certificate extensions selfsigned takes (its type is not exported by name). */
type Extensions = NonNullable<NonNullable<Parameters<typeof generate>[1]>["extensions"]>;

/** Listener names in server.properties (the security protocol map gives their protocols). */
export const SASL_SSL_LISTENER = "SASL_SSL";
export const MTLS_LISTENER = "MTLS";

export const SASL_SSL_MECHANISMS = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN", "OAUTHBEARER"] as const;

/** What a client needs to use the secure listeners; written to `security.json` in the run dir. */
export interface StackSecurity {
  /** `127.0.0.1:<port>`: SASL over TLS, each mechanism of {@link SASL_SSL_MECHANISMS}. */
  saslSsl: string;
  /** `127.0.0.1:<port>`: TLS with a required client certificate signed by the stack's CA. */
  mtls: string;
  /** PEM of the CA that signed the broker's and the client's certificates. */
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** One user for SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN. */
  sasl: { username: string; password: string };
  /**
   * OAUTHBEARER: the broker accepts RS256 JWTs signed by the key in `signingKeyFile` (kid `kid`),
   * for `audience`, from `issuer`, checked against the JWKS in `jwksFile`. A token endpoint (the
   * Graph simulator) that signs with this key issues tokens for the scope `scope`.
   */
  oauth: {
    audience: string;
    issuer: string;
    scope: string;
    kid: string;
    signingKeyFile: string;
    jwksFile: string;
  };
}

export interface SecurityPorts {
  saslSslPort: number;
  mtlsPort: number;
}

const OAUTH_AUDIENCE = "api://pstn-stack-kafka";
const OAUTH_ISSUER = "https://pstn-stack.invalid/oauth2";
const YEAR_MS = 365 * 86_400_000;

/** Makes the CA, certificates, credentials and JWKS in `<runDir>/security`. */
export async function createStackSecurity(runDir: string, ports: SecurityPorts): Promise<StackSecurity> {
  const dir = join(runDir, "security");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const notBeforeDate = new Date(Date.now() - 86_400_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + YEAR_MS);
  const ca = await generate([{ name: "commonName", value: "pstn-stack-ca" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const signed = { key: ca.private, cert: ca.cert };
  // Leaf certificates signed by the CA: the broker's (server and client, for the inter-broker
  // listener) and the connector's (client only, for mTLS).
  const leaf = (commonName: string, extensions: Extensions) =>
    generate([{ name: "commonName", value: commonName }], {
      keyType: "ec",
      curve: "P-256",
      algorithm: "sha256",
      notBeforeDate,
      notAfterDate,
      ca: signed,
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, critical: true },
        ...extensions,
      ],
    });
  const broker = await leaf("127.0.0.1", [
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        { type: 7, ip: "127.0.0.1" },
        { type: 2, value: "localhost" },
      ],
    },
  ]);
  const client = await leaf("pstn-connector-client", [{ name: "extKeyUsage", clientAuth: true }]);

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = `pstn-stack-${randomBytes(6).toString("hex")}`;
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  const jwks = { keys: [{ ...jwk, kid, use: "sig", alg: "RS256" }] };

  const files = {
    caFile: join(dir, "ca.pem"),
    brokerKeystore: join(dir, "broker-keystore.pem"),
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client-key.pem"),
    signingKeyFile: join(dir, "oauth-signing-key.pem"),
    jwksFile: join(dir, "jwks.json"),
  };
  await writeFile(files.caFile, pem(ca.cert));
  // Kafka's PEM keystore: the PKCS#8 key, then the certificate chain.
  await writeFile(files.brokerKeystore, pem(broker.private) + pem(broker.cert) + pem(ca.cert), {
    mode: 0o600,
  });
  await writeFile(files.clientCertFile, pem(client.cert));
  await writeFile(files.clientKeyFile, pem(client.private), { mode: 0o600 });
  await writeFile(files.signingKeyFile, privateKey.export({ format: "pem", type: "pkcs8" }).toString(), {
    mode: 0o600,
  });
  await writeFile(files.jwksFile, JSON.stringify(jwks, null, 2));

  const security: StackSecurity = {
    saslSsl: `127.0.0.1:${ports.saslSslPort}`,
    mtls: `127.0.0.1:${ports.mtlsPort}`,
    caFile: files.caFile,
    clientCertFile: files.clientCertFile,
    clientKeyFile: files.clientKeyFile,
    sasl: { username: "pstn-connector", password: randomBytes(18).toString("hex") },
    oauth: {
      audience: OAUTH_AUDIENCE,
      issuer: OAUTH_ISSUER,
      scope: `${OAUTH_AUDIENCE}/.default`,
      kid,
      signingKeyFile: files.signingKeyFile,
      jwksFile: files.jwksFile,
    },
  };
  const file = join(runDir, "security.json");
  await writeFile(file, JSON.stringify(security, null, 2), { mode: 0o600 });
  await chmod(file, 0o600);
  return security;
}

export function brokerKeystoreFile(runDir: string): string {
  return join(runDir, "security", "broker-keystore.pem");
}

/** The server.properties lines of the secure listeners (merged into the node's properties). */
export function secureListenerProperties(
  security: StackSecurity,
  runDir: string,
): Record<string, string | number | boolean> {
  const sasl = `listener.name.${SASL_SSL_LISTENER.toLowerCase()}`;
  const mtls = `listener.name.${MTLS_LISTENER.toLowerCase()}`;
  const { username, password } = security.sasl;
  return {
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": brokerKeystoreFile(runDir),
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": security.caFile,
    [`${sasl}.sasl.enabled.mechanisms`]: SASL_SSL_MECHANISMS.join(","),
    [`${sasl}.scram-sha-512.sasl.jaas.config`]:
      "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    [`${sasl}.scram-sha-256.sasl.jaas.config`]:
      "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    [`${sasl}.plain.sasl.jaas.config`]: `org.apache.kafka.common.security.plain.PlainLoginModule required user_${username}="${password}";`,
    [`${sasl}.oauthbearer.sasl.jaas.config`]:
      "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
    [`${sasl}.oauthbearer.sasl.server.callback.handler.class`]:
      "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
    // A JWKS file rather than an https endpoint: the broker starts without waiting for a token
    // endpoint, and each test's simulator (on a port of its own) signs with the key this JWKS holds.
    [`${sasl}.oauthbearer.sasl.oauthbearer.jwks.endpoint.url`]: jwksUrl(security),
    [`${sasl}.oauthbearer.sasl.oauthbearer.expected.audience`]: security.oauth.audience,
    [`${sasl}.oauthbearer.sasl.oauthbearer.expected.issuer`]: security.oauth.issuer,
    [`${mtls}.ssl.client.auth`]: "required",
  };
}

export function jwksUrl(security: StackSecurity): string {
  return pathToFileURL(security.oauth.jwksFile).href;
}

/** SCRAM credentials for `kafka-storage format` (KRaft keeps them in the metadata log). */
export function scramFormatArgs(security: StackSecurity): string[] {
  const { username, password } = security.sasl;
  return ["SCRAM-SHA-512", "SCRAM-SHA-256"].flatMap((mechanism) => [
    "--add-scram",
    `${mechanism}=[name=${username},password=${password}]`,
  ]);
}

function pem(text: string): string {
  return `${text.replace(/\r\n/g, "\n").trim()}\n`;
}
