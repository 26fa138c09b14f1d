import { ErrorCode, PstnError } from "../errors.js";

/** The broker's answers that mean another session of the same transactional id took over. */
const FENCED = ["PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH", "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"];

interface ClientError extends Error {
  apiId?: string;
  code?: string;
  serverErrorMessage?: string;
  errors?: unknown[];
}

/**
 * The client's error and every error it holds, outermost first: it gathers each retry's error in
 * `errors`, and wraps a connection's failure around its reason in `cause`.
 */
export function errorChain(error: unknown): ClientError[] {
  const chain: ClientError[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (!(value instanceof Error) || depth > 8 || chain.includes(value)) return;
    chain.push(value);
    const inner = (value as ClientError).errors;
    if (Array.isArray(inner)) for (const one of inner) visit(one, depth + 1);
    visit(value.cause, depth + 1);
  };
  visit(error, 0);
  return chain;
}

/** Whether the client's error (or one it holds) is the broker's error of that name. */
export function hasApiId(error: unknown, apiId: string): boolean {
  return errorChain(error).some((one) => one.apiId === apiId);
}

/** Whether the client's error (or one it holds) is a refused SASL authentication. */
export function isAuthenticationFailure(error: unknown): boolean {
  return errorChain(error).some((one) => one.code === "PLT_KFK_AUTHENTICATION");
}

/**
 * One line for an operator: the outer message, then along the last error gathered and each cause
 * to the innermost reason, with the broker's own words when it gave some ("Cannot connect to any
 * broker: Connection to host:9093 failed: SASL authentication failed: ... invalid credentials").
 */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const parts: string[] = [];
  let current: ClientError | undefined = error;
  for (let depth = 0; current && depth < 8; depth++) {
    const message = current.message.replace(/\.$/, "");
    if (!parts.includes(message)) parts.push(message);
    if (current.serverErrorMessage) parts.push(current.serverErrorMessage.replace(/\.$/, ""));
    const inner: unknown[] | undefined = current.errors;
    const next: unknown = Array.isArray(inner) && inner.length > 0 ? inner.at(-1) : current.cause;
    current = next instanceof Error ? next : undefined;
  }
  return parts.join(": ");
}

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
