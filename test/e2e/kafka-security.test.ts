/**
 * The connector end to end through each secure listener of the local stack: topics, the leader
 * election, transactions and the state all go through SASL_SSL (SCRAM or OAUTHBEARER) or mTLS; a
 * separate reader on the plaintext listener finds every row exactly once.
 */
import { after, before, describe, test } from "node:test";
import { startGraphSimulator } from "../../tools/simulator/index.js";
import type { StackSecurity } from "../../tools/stack/index.js";
import { assertEachIdOnce, connectorEnv, createTestApp, runUntil } from "../support/connector.js";
import { kafkaTokenOptions, stackSecurity } from "../support/secure-stack.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const DAY = 86_400_000;

describe("the connector through each secure listener", () => {
  let stack: TestStack;
  let security: StackSecurity | undefined;

  before(async () => {
    stack = await startTestStack();
    security = await stackSecurity(stack);
  });
  after(async () => {
    await stack?.stop();
  });

  const listeners: Array<[string, (security: StackSecurity) => Record<string, string>]> = [
    [
      "SASL_SSL with SCRAM-SHA-512",
      (s) => ({
        KAFKA_BROKERS: s.saslSsl,
        KAFKA_SSL_CA_FILE: s.caFile,
        KAFKA_SASL_MECHANISM: "scram-sha-512",
        KAFKA_SASL_USERNAME: s.sasl.username,
        KAFKA_SASL_PASSWORD: s.sasl.password,
      }),
    ],
    [
      "SASL_SSL with OAUTHBEARER (Entra ID tokens for Graph's identity)",
      (s) => ({
        KAFKA_BROKERS: s.saslSsl,
        KAFKA_SSL_CA_FILE: s.caFile,
        KAFKA_SASL_MECHANISM: "oauthbearer",
        KAFKA_SASL_OAUTHBEARER_SCOPE: s.oauth.scope,
      }),
    ],
    [
      "mTLS",
      (s) => ({
        KAFKA_BROKERS: s.mtls,
        KAFKA_SSL_CA_FILE: s.caFile,
        KAFKA_SSL_CERT_FILE: s.clientCertFile,
        KAFKA_SSL_KEY_FILE: s.clientKeyFile,
      }),
    ],
  ];

  for (const [name, variables] of listeners) {
    test(`${name}: every row once`, async (t) => {
      if (security === undefined) return t.skip("no secure listeners on this stack");
      const now = Date.now();
      const sim = await startGraphSimulator({
        seed: 71,
        clientSecret: "simulator-secret",
        dataStart: new Date(now - 3 * DAY),
        dataEnd: new Date(now - 60_000),
        callsPerHour: 12,
        kafkaTokens: await kafkaTokenOptions(security),
      });
      t.after(() => sim.close());
      const env = connectorEnv(sim, stack, {
        CONNECTOR_START: new Date(now - 3 * DAY).toISOString(),
        POLL_INTERVAL: "1s",
        LOOKBACK: "1h",
        ...variables(security),
      });
      const app = createTestApp(sim, env);
      t.after(() => app.close());
      await runUntil(app, "the present", () => (app.source.stats.watermark?.getTime() ?? 0) > now, 90_000);
      const ids = sim.visibleRows(undefined, undefined, "v1.0").map((row) => row.id as string);
      await assertEachIdOnce(stack.brokers, env.KAFKA_TOPIC as string, ids);
    });
  }
});
