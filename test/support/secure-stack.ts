/**
 * The secure listeners of the local single-node stack (SASL_SSL and mTLS) and what a test needs to
 * use them: the stack writes it to `security.json` in its run dir at each `up`.
 */
import { readFile } from "node:fs/promises";
import { rootCertificates } from "node:tls";
import { Agent } from "undici";
import type { KafkaTokenOptions } from "../../tools/simulator/tokens.js";
import { type StackSecurity, stackStatus } from "../../tools/stack/index.js";
import type { TestStack } from "./stack.js";

/**
 * The secure listeners of the stack the test runs against; `undefined` with testcontainers, whose
 * images have only the plaintext listener. A local stack without them (started by an older
 * version) is an error that says what to do.
 */
export async function stackSecurity(stack: TestStack): Promise<StackSecurity | undefined> {
  if ((process.env.PSTN_TEST_STACK ?? "local") !== "local") return undefined;
  const statuses = await stackStatus();
  const status = statuses.find((s) => s.brokers.join(",") === stack.brokers.join(","));
  if (status === undefined) {
    throw new Error(
      `no local stack of PSTN_STACK_CACHE serves ${stack.brokers.join(",")}; run the tests with the PSTN_STACK_CACHE of that stack`,
    );
  }
  if (status.security === undefined) {
    throw new Error(
      `stack ${status.name} has no secure listeners (started by an older version): stack down, then stack up`,
    );
  }
  return status.security;
}

/** Simulator options that make its token endpoint sign Kafka tokens the stack's broker accepts. */
export async function kafkaTokenOptions(
  security: StackSecurity,
  extra: Partial<KafkaTokenOptions> = {},
): Promise<KafkaTokenOptions> {
  return {
    audience: security.oauth.audience,
    issuer: security.oauth.issuer,
    kid: security.oauth.kid,
    signingKeyPem: await readFile(security.oauth.signingKeyFile, "utf8"),
    ...extra,
  };
}

/** An undici dispatcher trusting the simulator's certificate, as the app's does. */
export function simulatorDispatcher(caCertificatePem: string): Agent {
  return new Agent({ connect: { ca: [...rootCertificates, caCertificatePem] } });
}
