/**
 * What a failed session costs before the next one: a wait that doubles with each failure in a row
 * (with jitter, up to a maximum), a count by error code, and /readyz once failures persist. A
 * window that cannot be read (a poison page) then restarts sessions ever more rarely instead of in
 * a tight loop, while what was published stays published: the next session resumes from Kafka.
 */
import pRetry from "p-retry";
import { ErrorCode, GRAPH_REFUSED_CODES, isFinal, isPstnError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Health } from "../metrics/health.js";
import type { StreamMetrics } from "../metrics/index.js";

/** The wait after the first failure, at most (jitter draws it in [half, all]); each further one doubles it. */
export const FIRST_RESTART_MS = 1000;
/** Failures in a row after which /readyz says the sessions are failing (a refused answer: at once). */
export const UNHEALTHY_AFTER_FAILURES = 3;

/**
 * The metric label of a failure: the connector's error code, the cause's when retries ran out
 * (what kept failing says more than that it kept failing), "other" for any other error.
 */
export function failureCode(error: unknown): string {
  if (!isPstnError(error)) return "other";
  if (error.code === ErrorCode.GRAPH_RETRIES_EXHAUSTED && isPstnError(error.cause)) return error.cause.code;
  return error.code;
}

/** A failure that the same request cannot heal (or its last cause, when retries ran out): /readyz turns false at once. */
export function isRefusedAnswer(error: unknown): boolean {
  return GRAPH_REFUSED_CODES.has(failureCode(error) as ErrorCode);
}

export interface SessionFailuresOptions {
  metrics: StreamMetrics;
  health: Health;
}

/** Failures in a row of one loop (run or backfill): counted by code, and reported by /readyz. */
export class SessionFailures {
  private inARow = 0;

  constructor(private readonly options: SessionFailuresOptions) {}

  failed(error: unknown): void {
    const { metrics, health } = this.options;
    this.inARow++;
    const code = failureCode(error);
    metrics.sessionFailures.inc({ code });
    if (this.inARow >= UNHEALTHY_AFTER_FAILURES || isRefusedAnswer(error)) health.setSessionFailing(code);
  }

  /** A poll (or a backfill) went through: the next failure starts the schedule again. */
  succeeded(): void {
    this.inARow = 0;
    this.options.health.setSessionFailing(undefined);
  }
}

export interface SessionRetryOptions extends SessionFailuresOptions {
  /** The longest wait between two sessions (CONNECTOR_MAX_RESTART_BACKOFF). */
  maxBackoffMs: number;
  /** The first wait, at most; FIRST_RESTART_MS unless a test shortens it. */
  firstBackoffMs?: number;
  /** Stops the waiting and the retries; the promise then rejects with the signal's reason. */
  signal: AbortSignal;
  logger: Logger;
  /** Names the loop in its log lines ("poll", "backfill"). */
  what: string;
  /** Ends the failed session before the wait (its producer, its decoder's pages). */
  onFailure: (error: unknown) => Promise<void>;
}

/**
 * Runs `session` until one succeeds, with a new session after each failure and a wait that doubles
 * with each failure in a row, drawn in [half, all] of each step so that replicas do not restart in
 * step. A final error (isFinal) ends the loop at once and is thrown.
 */
export async function retrySessions<T>(session: () => Promise<T>, options: SessionRetryOptions): Promise<T> {
  const failures = new SessionFailures(options);
  const first = options.firstBackoffMs ?? FIRST_RESTART_MS;
  const result = await pRetry(() => session().catch(retriableShape), {
    retries: Number.POSITIVE_INFINITY,
    factor: 2,
    minTimeout: first / 2,
    maxTimeout: options.maxBackoffMs,
    randomize: true,
    signal: options.signal,
    unref: false,
    onFailedAttempt: async ({ error, attemptNumber }) => {
      await options.onFailure(error);
      if (options.signal.aborted) return;
      failures.failed(error);
      if (isFinal(error)) return;
      options.logger.error(
        {
          err: error,
          attempt: attemptNumber,
          retryInAtMostMs: Math.min(options.maxBackoffMs, first * 2 ** Math.min(attemptNumber - 1, 40)),
        },
        `${options.what} failed; retrying with a new session`,
      );
    },
    shouldRetry: ({ error }) => !isFinal(error) && !options.signal.aborted,
  });
  failures.succeeded();
  return result;
}

/**
 * p-retry gives up at once on a TypeError that is not a network error. In a session, one is a
 * failure like any other (a client library's own bug under a broker failover): the next session
 * starts from what Kafka committed.
 */
function retriableShape(error: unknown): never {
  if (error instanceof TypeError) throw new Error(error.message, { cause: error });
  throw error;
}
