/** The state the simulator's endpoints share. */
import type { RegisteredCertificate } from "./certificates.js";
import type { LoggedRequest, RetryAfterNote } from "./faults.js";
import type { HostileOptions } from "./hostile.js";
import type { ResolvedOptions, SimulatorFaults } from "./options.js";
import type { Random } from "./random.js";
import type { StreamStores } from "./streams.js";
import type { KafkaTokenIssuer, TokenStore } from "./tokens.js";

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
  /** Rows in the pages served whole (not in pages cut off by a transport fault). */
  rowsServed: number;
  /** Pages answered from the page cache (option cachePages). */
  pagesFromCache: number;
  /** Bytes of the streamed hostile answers (oversized bodies, pages of too many rows) written so far. */
  hostileBytesWritten: number;
  /** Transport faults injected into Graph requests, by kind. */
  faultsInjected: FaultsInjected;
}

/** Counts of the transport faults injected (each also counted in `byStatus` under the status sent). */
export interface FaultsInjected {
  /** 500s and 502s. */
  serverError: number;
  /** Pages whose body ended cleanly part-way. */
  truncated: number;
  /** Pages whose connection was destroyed part-way through the body. */
  reset: number;
  /** Pages stalled, before the headers or part-way through the body. */
  stall: number;
  /** Pages answered by a hostile mode (option `hostile`). */
  hostile: number;
}

/** What the tenants of one simulator share: the server, the token store, the hostile modes. */
export interface SharedContext {
  /** The top-level options (the main tenant's). */
  readonly options: ResolvedOptions;
  /** `https://127.0.0.1:<port>`, set once listening. */
  url: string;
  /** The hostile Graph's modes, if any (option `hostile`); the same for every tenant. */
  hostile: HostileOptions | undefined;
  /** Every tenant's tokens, each remembering the tenant it was issued for. */
  readonly tokens: TokenStore;
  /** Signs Kafka OAUTHBEARER tokens, when the option kafkaTokens is set. */
  readonly kafkaTokens: KafkaTokenIssuer | undefined;
  /** Pending latency and stall timers, cleared on close. */
  readonly timers: Set<NodeJS.Timeout>;
  /** Every Graph request, when the option recordRequests is on. */
  readonly requestLog: LoggedRequest[];
  /** Every tenant by its id in lower case (Entra matches tenant ids without regard to case), removed ones too. */
  readonly tenants: Map<string, SimulatorContext>;
  /** The tenant of the top-level options: requests no tenant can be told for (no token) count here. */
  main: SimulatorContext;
}

/**
 * One tenant's state, as the endpoints see it: its own options (id, app, seed, rates), rows,
 * faults, budget windows and stats, and the shared parts through `shared` (and the getters).
 */
export interface SimulatorContext {
  readonly shared: SharedContext;
  /** This tenant's options: the top-level ones with its own id, app, seed and data. */
  readonly options: ResolvedOptions;
  /** Lower-case tenant id: its key in `shared.tenants` and in the token store. */
  readonly key: string;
  /** `https://127.0.0.1:<port>` (the shared URL). */
  readonly url: string;
  faults: SimulatorFaults;
  /** Whether `faults` still follow the top-level ones (the tenant's entry gave none of its own). */
  inheritsFaults: boolean;
  /** The hostile Graph's modes, if any (shared by every tenant). */
  readonly hostile: HostileOptions | undefined;
  /** Each call-log stream's rows. */
  readonly stores: StreamStores;
  readonly tokens: TokenStore;
  /** Signs Kafka OAUTHBEARER tokens, when the option kafkaTokens is set. */
  readonly kafkaTokens: KafkaTokenIssuer | undefined;
  readonly certificate: RegisteredCertificate | undefined;
  /** Draws for request faults (deterministic per request number). */
  readonly faultRandom: Random;
  readonly stats: SimulatorStats;
  /** When each client (by bearer token) may come back, in clock ms. */
  readonly retryAfterUntil: Map<string, RetryAfterNote>;
  /** Start times of the requests inside the budget window, per app (the tenant's: per app per tenant). */
  readonly budgetWindows: Map<string, number[]>;
  /** 503s sent so far (every other one carries Retry-After). */
  unavailableCount: number;
  /** Server errors sent so far (500 and 502 alternate). */
  serverErrorCount: number;
  /** Stalls so far (before the headers and mid-body alternate). */
  stallCount: number;
  /** Page bodies by request (function, range, skip), when the option cachePages is on. */
  readonly pageCache: Map<string, { body: string; rows: number }>;
  /** Pending latency and stall timers, cleared on close (shared). */
  readonly timers: Set<NodeJS.Timeout>;
  /** Every Graph request, when the option recordRequests is on (shared). */
  readonly requestLog: LoggedRequest[];
  /** An admin revoked the app's consent: Graph answers 403, Entra still issues tokens (without the role). */
  consentRevoked: boolean;
  /** The tenant was deleted: Entra no longer knows it, its tokens are no longer valid. */
  removed: boolean;
}
