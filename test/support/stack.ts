/**
 * The servers a test talks to. Here: the local JVM stack (`stack up`), shared by the whole run when
 * the test runner started it. With PSTN_TEST_STACK=testcontainers: Docker images of the same
 * servers, for machines that have a Docker engine (this project's CI machines do not).
 */
export interface TestStack {
  brokers: string[];
  registryUrl: string;
  stop(): Promise<void>;
}

export interface TestStackOptions {
  nodes?: 1 | 3;
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const kind = process.env.PSTN_TEST_STACK ?? "local";
  switch (kind) {
    case "local":
      return startLocalStack(options);
    case "testcontainers": {
      const { startContainerStack } = await import("./container-stack.js");
      return startContainerStack(options);
    }
    default:
      throw new Error(`PSTN_TEST_STACK="${kind}": use local or testcontainers`);
  }
}

async function startLocalStack(options: TestStackOptions): Promise<TestStack> {
  const nodes = options.nodes ?? 1;
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL } = process.env;
  if (nodes === 1 && KAFKA_BROKERS && SCHEMA_REGISTRY_URL) {
    // Started by test/run.ts for the whole run, which also stops it.
    return {
      brokers: KAFKA_BROKERS.split(","),
      registryUrl: SCHEMA_REGISTRY_URL,
      stop: async () => undefined,
    };
  }
  const { stackDown, stackUp } = await import("../../tools/stack/index.js");
  const info = await stackUp({ nodes });
  return {
    brokers: info.brokers,
    registryUrl: info.registryUrl,
    stop: async () => {
      if (!info.reused) await stackDown({ nodes });
    },
  };
}
