/** The state the simulator's endpoints share. */
import type { RegisteredCertificate } from "./certificates.js";
import type { RetryAfterNote } from "./faults.js";
import type { ResolvedOptions, SimulatorFaults } from "./options.js";
import type { Random } from "./random.js";
import type { RowStore } from "./store.js";
import type { TokenStore } from "./tokens.js";

export interface SimulatorStats {
  /** Requests to the Graph endpoint (/v1.0, /beta). */
  graphRequests: number;
  /** Graph responses by status code ("200", "429", ...). */
  byStatus: Record<string, number>;
  /** Requests to the token endpoint. */
  tokenRequests: number;
  tokensIssued: number;
  /** 429 responses (random throttling and budget). */
  throttled: number;
  /** Graph requests that came back before the Retry-After their client was last given had passed. */
  retryAfterViolations: number;
  /** Rows in the pages served. */
  rowsServed: number;
}

export interface SimulatorContext {
  readonly options: ResolvedOptions;
  /** `https://127.0.0.1:<port>`, set once listening. */
  url: string;
  faults: SimulatorFaults;
  readonly store: RowStore;
  readonly tokens: TokenStore;
  readonly certificate: RegisteredCertificate | undefined;
  /** Draws for request faults (deterministic per request number). */
  readonly faultRandom: Random;
  readonly stats: SimulatorStats;
  /** When each client (by bearer token) may come back, in clock ms. */
  readonly retryAfterUntil: Map<string, RetryAfterNote>;
  /** Start times of the requests inside the budget window, per app. */
  readonly budgetWindows: Map<string, number[]>;
  /** 503s sent so far (every other one carries Retry-After). */
  unavailableCount: number;
  /** Pending latency timers, cleared on close. */
  readonly timers: Set<NodeJS.Timeout>;
}
