/**
 * One error type for the whole connector. Callers branch on `code` and the flags, never on message
 * text; the message is for the operator and names the cause and what to do about it.
 */
export const ErrorCode = {
  CONFIG_INVALID: "PSTN_CONFIG_INVALID",
  USAGE: "PSTN_USAGE",
  STACK_JAVA_MISSING: "PSTN_STACK_JAVA_MISSING",
  STACK_MAVEN_MISSING: "PSTN_STACK_MAVEN_MISSING",
  STACK_RESOLVE_FAILED: "PSTN_STACK_RESOLVE_FAILED",
  STACK_PORT_IN_USE: "PSTN_STACK_PORT_IN_USE",
  STACK_START_FAILED: "PSTN_STACK_START_FAILED",
  STACK_START_TIMEOUT: "PSTN_STACK_START_TIMEOUT",
  STACK_BUSY: "PSTN_STACK_BUSY",
  AUTH_FAILED: "PSTN_AUTH_FAILED",
  // Entra ID edges: a request off the authority host, an answer too large to read.
  AUTH_ENDPOINT_REFUSED: "PSTN_AUTH_ENDPOINT_REFUSED",
  AUTH_RESPONSE_TOO_LARGE: "PSTN_AUTH_RESPONSE_TOO_LARGE",
  GRAPH_FORBIDDEN: "PSTN_GRAPH_FORBIDDEN",
  GRAPH_UNAUTHORIZED: "PSTN_GRAPH_UNAUTHORIZED",
  GRAPH_THROTTLED: "PSTN_GRAPH_THROTTLED",
  GRAPH_UNAVAILABLE: "PSTN_GRAPH_UNAVAILABLE",
  GRAPH_BAD_REQUEST: "PSTN_GRAPH_BAD_REQUEST",
  GRAPH_HTTP: "PSTN_GRAPH_HTTP",
  GRAPH_NETWORK: "PSTN_GRAPH_NETWORK",
  GRAPH_BAD_RESPONSE: "PSTN_GRAPH_BAD_RESPONSE",
  GRAPH_RETRIES_EXHAUSTED: "PSTN_GRAPH_RETRIES_EXHAUSTED",
  // Graph answers refused as hostile or broken (GRAPH_REFUSED_CODES).
  GRAPH_LINK_REFUSED: "PSTN_GRAPH_LINK_REFUSED",
  GRAPH_LINK_LOOP: "PSTN_GRAPH_LINK_LOOP",
  GRAPH_TOO_MANY_PAGES: "PSTN_GRAPH_TOO_MANY_PAGES",
  GRAPH_BODY_TOO_LARGE: "PSTN_GRAPH_BODY_TOO_LARGE",
  GRAPH_BAD_CONTENT_TYPE: "PSTN_GRAPH_BAD_CONTENT_TYPE",
  GRAPH_TOO_MANY_ROWS: "PSTN_GRAPH_TOO_MANY_ROWS",
  GRAPH_TOO_DEEP: "PSTN_GRAPH_TOO_DEEP",
  ROW_INVALID: "PSTN_ROW_INVALID",
  KAFKA_FENCED: "PSTN_KAFKA_FENCED",
  KAFKA_PUBLISH_FAILED: "PSTN_KAFKA_PUBLISH_FAILED",
  STATE_INVALID: "PSTN_STATE_INVALID",
  REGISTRY_FAILED: "PSTN_REGISTRY_FAILED",
  ABORTED: "PSTN_ABORTED",
  DECODER_FAILED: "PSTN_DECODER_FAILED",
  KAFKA_AUTH_FAILED: "PSTN_KAFKA_AUTH_FAILED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Graph answers refused as hostile or broken: a link the token must not follow, a loop, a body too
 * large, deep or long to hold. Each is final for its window (fetching the same answer again cannot
 * heal it) and counted in `pstn_connector_graph_responses_refused_total{code}`; sessions that fail on
 * one restart with a growing wait, not at once.
 */
export const GRAPH_REFUSED_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.GRAPH_LINK_REFUSED,
  ErrorCode.GRAPH_LINK_LOOP,
  ErrorCode.GRAPH_TOO_MANY_PAGES,
  ErrorCode.GRAPH_BODY_TOO_LARGE,
  ErrorCode.GRAPH_BAD_CONTENT_TYPE,
  ErrorCode.GRAPH_TOO_MANY_ROWS,
  ErrorCode.GRAPH_TOO_DEEP,
]);

export interface PstnErrorOptions {
  cause?: unknown;
  /** The same request may succeed if sent again (a network error, a 503, a 429). */
  retriable?: boolean;
  /**
   * No later session can succeed without an operator: a wrong secret or permission, a request Graph
   * calls malformed, an instance fenced by a newer one. The command stops and says why.
   */
  final?: boolean;
  retryAfterMs?: number;
  statusCode?: number;
}

export class PstnError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly final: boolean;
  readonly retryAfterMs: number | undefined;
  readonly statusCode: number | undefined;

  constructor(code: ErrorCode, message: string, options: PstnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PstnError";
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.final = options.final ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.statusCode = options.statusCode;
  }
}

/** Whether `error` ends the run instead of the session (see PstnErrorOptions.final). */
export function isFinal(error: unknown): boolean {
  return error instanceof PstnError && error.final;
}

export function isPstnError(error: unknown, code?: ErrorCode): error is PstnError {
  return error instanceof PstnError && (code === undefined || error.code === code);
}
