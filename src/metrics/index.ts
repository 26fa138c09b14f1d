import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { ErrorCode, GRAPH_REFUSED_CODES } from "../errors.js";

/** Every metric of the connector, on one registry; names per CONTRACT.md. */
export class Metrics {
  readonly registry = new Registry();
  readonly rowsFetched: Counter;
  readonly rowsPublished: Counter;
  readonly rowsDuplicate: Counter;
  readonly rowsDeadLettered: Counter<"reason">;
  readonly rowsUnknownProperties: Counter;
  readonly graphRequests: Counter<"code">;
  readonly graphThrottled: Counter;
  readonly graphRetries: Counter<"reason">;
  readonly graphRequestDuration: Histogram;
  readonly graphResponsesRefused: Counter<"code">;
  readonly tokenRequests: Counter<"outcome">;
  readonly kafkaProduceDuration: Histogram;
  readonly kafkaTransactions: Counter<"outcome">;
  readonly kafkaOAuthTokens: Counter<"outcome">;
  readonly watermark: Gauge;
  readonly lastSuccess: Gauge;
  readonly sessionFailures: Counter<"code">;
  readonly dedupeIds: Gauge;
  readonly active: Gauge;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const p = "pstn_connector_";
    this.rowsFetched = new Counter({
      name: `${p}rows_fetched_total`,
      help: "Rows read from Graph, duplicates included",
      registers,
    });
    this.rowsPublished = new Counter({
      name: `${p}rows_published_total`,
      help: "Rows committed to the topic",
      registers,
    });
    this.rowsDuplicate = new Counter({
      name: `${p}rows_duplicate_total`,
      help: "Rows dropped because their id was already published",
      registers,
    });
    this.rowsDeadLettered = new Counter({
      name: `${p}rows_dead_lettered_total`,
      help: "Rows that could not be encoded, committed to the dead-letter topic with the reason",
      labelNames: ["reason"],
      registers,
    });
    this.rowsUnknownProperties = new Counter({
      name: `${p}rows_unknown_properties_total`,
      help: "Properties Graph sent that the schema does not carry (ignored)",
      registers,
    });
    this.graphRequests = new Counter({
      name: `${p}graph_requests_total`,
      help: "Graph requests by HTTP status (or 'network' when none came back)",
      labelNames: ["code"],
      registers,
    });
    this.graphThrottled = new Counter({
      name: `${p}graph_throttled_total`,
      help: "Graph answers 429",
      registers,
    });
    this.graphRetries = new Counter({
      name: `${p}graph_retries_total`,
      help: "Graph requests retried, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.graphRequestDuration = new Histogram({
      name: `${p}graph_request_duration_seconds`,
      help: "Time to a complete Graph page, by attempt",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.graphResponsesRefused = new Counter({
      name: `${p}graph_responses_refused_total`,
      help: "Graph answers refused as hostile or broken (a link out of scope or looping, a body too large, not JSON, too many rows, too deep), by error code",
      labelNames: ["code"],
      registers,
    });
    // Each code exists from the start at 0, so that increase() sees its first refusal too.
    for (const code of GRAPH_REFUSED_CODES) this.graphResponsesRefused.inc({ code }, 0);
    this.tokenRequests = new Counter({
      name: `${p}token_requests_total`,
      help: "Access tokens from Entra ID by outcome: issued, cache, error, refused (a request off the authority host, never sent)",
      labelNames: ["outcome"],
      registers,
    });
    this.kafkaProduceDuration = new Histogram({
      name: `${p}kafka_produce_duration_seconds`,
      help: "Time to send and commit one batch (one Kafka transaction)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.kafkaTransactions = new Counter({
      name: `${p}kafka_transactions_total`,
      help: "Kafka transactions by outcome",
      labelNames: ["outcome"],
      registers,
    });
    this.kafkaOAuthTokens = new Counter({
      name: `${p}kafka_oauth_tokens_total`,
      help: "SASL OAUTHBEARER tokens handed to broker connections (ok, from cache or freshly issued) and failures to get one (error)",
      labelNames: ["outcome"],
      registers,
    });
    for (const outcome of ["ok", "error"]) this.kafkaOAuthTokens.inc({ outcome }, 0);
    this.watermark = new Gauge({
      name: `${p}watermark_timestamp_seconds`,
      help: "Every window up to this instant has been read and its rows published",
      registers,
    });
    this.lastSuccess = new Gauge({
      name: `${p}last_success_timestamp_seconds`,
      help: "When the last poll (or backfill slice) completed",
      registers,
    });
    this.sessionFailures = new Counter({
      name: `${p}session_failures_total`,
      help: "Polls (or backfill runs) that failed and ended their session, by error code (other: not the connector's own error)",
      labelNames: ["code"],
      registers,
    });
    // Every code exists from the start at 0, so that increase() sees a code's first failure too.
    for (const code of [...Object.values(ErrorCode), "other"]) this.sessionFailures.inc({ code }, 0);
    this.dedupeIds = new Gauge({
      name: `${p}dedupe_ids`,
      help: "Row ids remembered for dedupe (those inside the lookback horizon)",
      registers,
    });
    this.active = new Gauge({
      name: `${p}active`,
      help: "1 while this instance is the elected active one of its identity, 0 while it stands by",
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: p });
  }
}
