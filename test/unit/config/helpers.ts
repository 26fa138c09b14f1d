import assert from "node:assert/strict";
import { ConfigError } from "../../../src/config/index.js";
import { ErrorCode, isPstnError } from "../../../src/errors.js";

export const TENANT = "contoso.onmicrosoft.com";
export const CLIENT_ID = "11111111-2222-3333-4444-555555555555";
export const SECRET = "Zq8~client-secret-value.XYZ";

/** The smallest environment that loads. */
export function validEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    AZURE_TENANT_ID: TENANT,
    AZURE_CLIENT_ID: CLIENT_ID,
    AZURE_CLIENT_SECRET: SECRET,
    KAFKA_BROKERS: "localhost:9092",
    SCHEMA_REGISTRY_URL: "http://localhost:8081",
    ...extra,
  };
}

/** Runs `load`, expects a ConfigError, checks its shape and returns its problem lines. */
export function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.ok(isPstnError(error, ErrorCode.CONFIG_INVALID));
    assert.equal(error.message, error.problems.join("\n"));
    for (const problem of error.problems) assert.doesNotMatch(problem, /\n/, "one line per problem");
    return error.problems;
  }
  assert.fail("expected loadConfig to throw a ConfigError");
}
