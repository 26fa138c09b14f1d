import { ErrorCode, PstnError } from "../errors.js";

const FENCED = new Set([
  "PRODUCER_FENCED",
  "INVALID_PRODUCER_EPOCH",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
]);

/** kafkajs nests the broker's error in retry wrappers: look through the chain for its type. */
function kafkaErrorType(error: unknown): string | undefined {
  let current = error as { type?: string; originalError?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current.type && FENCED.has(current.type)) return current.type;
    current = (current.originalError ?? current.cause) as typeof current;
  }
  return undefined;
}

export function publishError(error: unknown, transactionalId: string): PstnError {
  if (error instanceof PstnError) return error;
  const type = kafkaErrorType(error);
  if (type) {
    return new PstnError(
      ErrorCode.KAFKA_FENCED,
      `another instance with transactional id ${transactionalId} took over (${type}); this one stops`,
      { cause: error, final: true },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new PstnError(ErrorCode.KAFKA_PUBLISH_FAILED, `publishing to Kafka failed: ${message}`, {
    cause: error,
    retriable: true,
  });
}
