/**
 * Each secure listener of the local stack, used through the connector's own path (variables →
 * loadConfig → kafkaClientOptions, with the connector's token sources), with the sessions'
 * transactional producer; what it committed is read back read_committed by Kafka's Java consumer
 * on the stack's plain listener. And what each listener refuses.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import type { Agent } from "undici";
import { loadConfig } from "../../src/config/index.js";
import { type ClientOptions, kafkaClientOptions, retryDelay } from "../../src/kafka/client.js";
import { describe as describeError, isAuthenticationFailure } from "../../src/kafka/errors.js";
import { Kafka } from "../../src/kafka/index.js";
import { kafkaTokenSource } from "../../src/kafka/oauth.js";
import { openProducer } from "../../src/kafka/session.js";
import { Metrics } from "../../src/metrics/index.js";
import { type GraphSimulator, startGraphSimulator } from "../../tools/simulator/index.js";
import { signJwt } from "../../tools/simulator/tokens.js";
import type { StackSecurity } from "../../tools/stack/index.js";
import { consumeAll, createTopic, uniqueName } from "../support/kafka.js";
import { kafkaTokenOptions, simulatorDispatcher, stackSecurity } from "../support/secure-stack.js";
import { startTestStack, type TestStack } from "../support/stack.js";

const KAFKA_CLIENT = { clientId: "kafka-only-client", clientSecret: "kafka-only-secret" };
const NO_RETRY = { retries: 0 } as const;

describe("Kafka security: each listener of the local stack, through the connector's client", () => {
  let stack: TestStack;
  let security: StackSecurity | undefined;
  let sim: GraphSimulator;
  let dispatcher: Agent;

  before(async () => {
    stack = await startTestStack();
    security = await stackSecurity(stack);
    if (security === undefined) return;
    sim = await startGraphSimulator({
      clientSecret: "simulator-secret",
      dataStart: new Date(Date.now() - 3_600_000),
      callsPerHour: 0,
      kafkaTokens: await kafkaTokenOptions(security, { client: KAFKA_CLIENT }),
    });
    dispatcher = simulatorDispatcher(sim.caCertificatePem);
  });
  after(async () => {
    await sim?.close();
    await dispatcher?.close();
    await stack?.stop();
  });

  /** The connector's configuration from variables, with the Azure identity of the simulator. */
  function configFrom(env: Record<string, string>) {
    return loadConfig({
      env: {
        AZURE_TENANT_ID: sim.tenantId,
        AZURE_CLIENT_ID: sim.clientId,
        AZURE_CLIENT_SECRET: "simulator-secret",
        AZURE_AUTHORITY_HOST: sim.url,
        SCHEMA_REGISTRY_URL: stack.registryUrl,
        ...env,
      },
    });
  }

  function clientFrom(
    env: Record<string, string>,
    extra: Partial<ClientOptions> = {},
    metrics?: Metrics,
  ): Kafka {
    const config = configFrom(env);
    const oauth = config.kafka.sasl?.mechanism === "oauthbearer" ? config.kafka.sasl.oauthBearer : undefined;
    const tokens = oauth && kafkaTokenSource(oauth, { dispatcher, timeoutMs: 10_000 });
    return new Kafka({ ...kafkaClientOptions(config.kafka, { tokens, metrics }), ...extra });
  }

  /** Creates a topic, commits 3 records in a transaction and reads them back read_committed. */
  async function roundTrip(kafka: Kafka): Promise<void> {
    const topic = uniqueName("secure");
    await createTopic(kafka, topic);
    const producer = openProducer(kafka, uniqueName("secure-tx"), 30_000);
    const message = (key: string, value: string) => ({
      topic,
      partition: 0,
      key: Buffer.from(key),
      value: Buffer.from(value),
    });
    try {
      const transaction = await producer.beginTransaction();
      await transaction.send({ messages: ["a", "b", "c"].map((key) => message(key, `value-${key}`)) });
      await transaction.commit();
      const aborted = await producer.beginTransaction();
      await aborted.send({ messages: [message("aborted", "never seen")] });
      await aborted.abort();
    } finally {
      await producer.close();
    }
    const messages = await consumeAll(stack.brokers, topic, { expected: 3, settleMs: 1000 });
    assert.deepEqual(
      messages.map((m) => m.key?.toString()),
      ["a", "b", "c"],
      "the committed records, once each; the aborted one not",
    );
  }

  async function refused(kafka: Kafka): Promise<Error> {
    const admin = kafka.admin();
    try {
      await admin.metadata({ topics: [] });
    } catch (error) {
      return error as Error;
    } finally {
      await admin.close().catch(() => undefined);
    }
    assert.fail("the broker accepted the connection");
  }

  test("SASL_SSL with SCRAM-SHA-512: transactional produce, read_committed consume", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    await roundTrip(
      clientFrom({
        KAFKA_BROKERS: security.saslSsl,
        KAFKA_SSL_CA_FILE: security.caFile,
        KAFKA_SASL_MECHANISM: "scram-sha-512",
        KAFKA_SASL_USERNAME: security.sasl.username,
        KAFKA_SASL_PASSWORD: security.sasl.password,
      }),
    );
  });

  test("SASL_SSL with SCRAM-SHA-256 and PLAIN: the broker answers", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    for (const mechanism of ["scram-sha-256", "plain"]) {
      const kafka = clientFrom({
        KAFKA_BROKERS: security.saslSsl,
        KAFKA_SSL_CA_FILE: security.caFile,
        KAFKA_SASL_MECHANISM: mechanism,
        KAFKA_SASL_USERNAME: security.sasl.username,
        KAFKA_SASL_PASSWORD: security.sasl.password,
      });
      const admin = kafka.admin();
      try {
        assert.equal((await admin.metadata({ topics: [] })).brokers.size, 1, mechanism);
      } finally {
        await admin.close();
      }
    }
  });

  test("SASL_SSL with OAUTHBEARER, tokens from Entra ID (the simulator) for Graph's identity, through msal", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    const issuedBefore = sim.stats().tokenRequests;
    const metrics = new Metrics({ defaultMetrics: false });
    await roundTrip(
      clientFrom(
        {
          KAFKA_BROKERS: security.saslSsl,
          KAFKA_SSL_CA_FILE: security.caFile,
          KAFKA_SASL_MECHANISM: "oauthbearer",
          KAFKA_SASL_OAUTHBEARER_SCOPE: security.oauth.scope,
        },
        {},
        metrics,
      ),
    );
    const requests = sim.stats().tokenRequests - issuedBefore;
    const handed =
      (await metrics.kafkaOAuthTokens.get()).values.find((v) => v.labels.outcome === "ok")?.value ?? 0;
    assert.ok(requests >= 1, "a token was fetched from the token endpoint");
    assert.ok(
      handed > requests,
      `the token was reused across connections (${handed} handed, ${requests} fetched)`,
    );
  });

  test("SASL_SSL with OAUTHBEARER from an OIDC token endpoint: an identity of its own, client_secret_basic, SASL extensions", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    await roundTrip(
      clientFrom({
        KAFKA_BROKERS: security.saslSsl,
        KAFKA_SSL_CA_FILE: security.caFile,
        KAFKA_SASL_MECHANISM: "oauthbearer",
        KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: `${sim.url}/${sim.tenantId}/oauth2/v2.0/token`,
        KAFKA_SASL_OAUTHBEARER_CLIENT_ID: KAFKA_CLIENT.clientId,
        KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET: KAFKA_CLIENT.clientSecret,
        KAFKA_SASL_OAUTHBEARER_SCOPE: security.oauth.scope,
        KAFKA_SASL_OAUTHBEARER_EXTENSIONS: "logicalCluster=lkc-test1,identityPoolId=pool-test1",
      }),
    );
  });

  test("mTLS: the client certificate and key from files", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    await roundTrip(
      clientFrom({
        KAFKA_BROKERS: security.mtls,
        KAFKA_SSL_CA_FILE: security.caFile,
        KAFKA_SSL_CERT_FILE: security.clientCertFile,
        KAFKA_SSL_KEY_FILE: security.clientKeyFile,
      }),
    );
  });

  test("refused: a wrong SCRAM password", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    const error = await refused(
      clientFrom(
        {
          KAFKA_BROKERS: security.saslSsl,
          KAFKA_SSL_CA_FILE: security.caFile,
          KAFKA_SASL_MECHANISM: "scram-sha-512",
          KAFKA_SASL_USERNAME: security.sasl.username,
          KAFKA_SASL_PASSWORD: `${security.sasl.password}x`,
        },
        NO_RETRY,
      ),
    );
    assert.ok(isAuthenticationFailure(error), error.message);
    assert.match(
      describeError(error),
      /SASL authentication failed: .*invalid credentials/,
      "the broker's reason, for the operator",
    );
  });

  test("refused: OAUTHBEARER tokens for another audience, from another issuer, expired, or signed by another key", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    const key = await readFile(security.oauth.signingKeyFile, "utf8");
    const now = Math.floor(Date.now() / 1000);
    const good = {
      sub: "test-client",
      aud: security.oauth.audience,
      iss: security.oauth.issuer,
      iat: now,
      exp: now + 600,
      scope: "kafka",
    };
    const ca = await readFile(security.caFile, "utf8");
    const brokers = [security.saslSsl];
    const withToken = (token: string) =>
      new Kafka({
        clientId: "kafka-security-test",
        bootstrapBrokers: brokers,
        tls: { ca: [ca] },
        sasl: { mechanism: "OAUTHBEARER", token: async () => token },
        retries: 0,
        retryDelay,
      });
    // The control: the same hand-made token with the right claims is accepted.
    const control = withToken(signJwt(good, key, security.oauth.kid)).admin();
    await control.metadata({ topics: [] });
    await control.close();

    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const cases: Array<[string, string]> = [
      ["another audience", signJwt({ ...good, aud: "api://another-service" }, key, security.oauth.kid)],
      ["another issuer", signJwt({ ...good, iss: "https://evil.invalid/" }, key, security.oauth.kid)],
      ["expired", signJwt({ ...good, iat: now - 7200, exp: now - 3600 }, key, security.oauth.kid)],
      ["another key", signJwt(good, other, security.oauth.kid)],
    ];
    for (const [what, token] of cases) {
      const error = await refused(withToken(token)).catch((failure: unknown) =>
        assert.fail(`${what}: ${(failure as Error).message}`),
      );
      // The broker refuses the token with an OAUTHBEARER error challenge (RFC 7628); the client takes
      // it for the end of the exchange and goes on, so the refusal it reports is the next request's.
      assert.match(describeError(error), /SASL/, what);
    }
  });

  test("refused: mTLS without a client certificate; SASL_SSL without the stack's CA (the broker is not trusted)", async (t) => {
    if (security === undefined) return t.skip("no secure listeners on this stack");
    const noCert = await refused(
      clientFrom({ KAFKA_BROKERS: security.mtls, KAFKA_SSL_CA_FILE: security.caFile }, NO_RETRY),
    );
    // TLS 1.3: the broker asks for the certificate after the handshake, and closes the connection.
    assert.match(describeError(noCert), /certificate|handshake|alert|closed/i);
    const untrusted = await refused(
      clientFrom(
        {
          KAFKA_BROKERS: security.saslSsl,
          KAFKA_SSL: "true",
          KAFKA_SASL_MECHANISM: "scram-sha-512",
          KAFKA_SASL_USERNAME: security.sasl.username,
          KAFKA_SASL_PASSWORD: security.sasl.password,
        },
        NO_RETRY,
      ),
    );
    assert.match(describeError(untrusted), /self.signed|unable to verify|certificate/i);
  });
});
