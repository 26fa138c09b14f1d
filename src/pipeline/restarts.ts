/**
 * What a failed session costs before the next one: a wait that doubles with each failure in a row
 * (with jitter, up to a maximum), a count by error code, and /readyz once failures persist. A
 * window that cannot be read (a poison page) then restarts sessions ever more rarely instead of in
 * a tight loop, while what was published stays published: the next session resumes from Kafka.
 */
import { ErrorCode, GRAPH_REFUSED_CODES, isPstnError } from "../errors.js";
import type { Metrics } from "../metrics/index.js";
import type { Health } from "./health.js";

/** The wait after the first failure (before jitter); each further failure in a row doubles it. */
export const FIRST_RESTART_MS = 1000;
/** Failures in a row after which /readyz says the sessions are failing (a refused answer: at once). */
export const UNHEALTHY_AFTER_FAILURES = 3;

/**
 * The wait before the session after `failures` failures in a row (>= 1): 1 s, 2 s, 4 s, ... capped
 * at `maxMs`, each drawn in [half, all] of that so that replicas do not restart in step.
 */
export function restartDelayMs(failures: number, maxMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 40);
  const ceiling = Math.min(maxMs, FIRST_RESTART_MS * 2 ** exponent);
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

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
  metrics: Metrics;
  health: Health;
  maxBackoffMs: number;
  random?: () => number;
}

/** Failures in a row of one loop (run or backfill). */
export class SessionFailures {
  private inARow = 0;

  constructor(private readonly options: SessionFailuresOptions) {}

  get count(): number {
    return this.inARow;
  }

  /** Counts `error` and returns how long to wait before the next session. */
  failed(error: unknown): number {
    const { metrics, health, maxBackoffMs, random } = this.options;
    this.inARow++;
    const code = failureCode(error);
    metrics.sessionFailures.inc({ code });
    if (this.inARow >= UNHEALTHY_AFTER_FAILURES || isRefusedAnswer(error)) health.setSessionFailing(code);
    return restartDelayMs(this.inARow, maxBackoffMs, random);
  }

  /** A poll (or a backfill) went through: the next failure starts the schedule again. */
  succeeded(): void {
    this.inARow = 0;
    this.options.health.setSessionFailing(undefined);
  }
}
