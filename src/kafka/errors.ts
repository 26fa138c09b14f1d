import { ErrorCode, PstnError } from "../errors.js";
import { hasApiId } from "./topics.js";

/** The broker's answers that mean another session of the same transactional id took over. */
const FENCED = ["PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"];

export function publishError(error: unknown, transactionalId: string): PstnError {
  if (error instanceof PstnError) return error;
  const type = FENCED.find((apiId) => hasApiId(error, apiId));
  if (type) {
    return new PstnError(
      ErrorCode.KAFKA_FENCED,
      `another instance with transactional id ${transactionalId} took over (${type}); this one stops`,
      { cause: error, final: true },
    );
  }
  return new PstnError(ErrorCode.KAFKA_PUBLISH_FAILED, `publishing to Kafka failed: ${describe(error)}`, {
    cause: error,
    retriable: true,
  });
}

/** The message of an error and of those it gathers (the client wraps each retry's error in one). */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = (error as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0) return `${error.message} (last: ${describe(inner.at(-1))})`;
  return error.message;
}
