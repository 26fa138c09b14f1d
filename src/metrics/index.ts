import { Counter, collectDefaultMetrics, Gauge, Histogram, type LabelValues, Registry } from "prom-client";
import { ErrorCode, GRAPH_REFUSED_CODES } from "../errors.js";

/**
 * Every metric of the connector, on one registry; names per CONTRACT.md. What a stream does carries
 * its `stream` label (forStream); what the streams share (tokens, Kafka's OAuth, the process) does not.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly rowsFetched: Counter<"stream">;
  readonly rowsPublished: Counter<"stream">;
  readonly rowsDuplicate: Counter<"stream">;
  readonly rowsDeadLettered: Counter<"stream" | "reason">;
  readonly rowsUnknownProperties: Counter<"stream">;
  readonly graphRequests: Counter<"stream" | "code">;
  readonly graphThrottled: Counter<"stream">;
  readonly graphRetries: Counter<"stream" | "reason">;
  readonly graphRequestDuration: Histogram<"stream">;
  readonly graphResponsesRefused: Counter<"stream" | "code">;
  readonly tokenRequests: Counter<"outcome">;
  readonly kafkaProduceDuration: Histogram<"stream">;
  readonly kafkaTransactions: Counter<"stream" | "outcome">;
  readonly kafkaOAuthTokens: Counter<"outcome">;
  readonly watermark: Gauge<"stream">;
  readonly lastSuccess: Gauge<"stream">;
  readonly sessionFailures: Counter<"stream" | "code">;
  readonly dedupeIds: Gauge<"stream">;
  readonly active: Gauge<"stream">;
  private readonly streams = new Map<string, StreamMetrics>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const p = "pstn_connector_";
    this.rowsFetched = new Counter({
      name: `${p}rows_fetched_total`,
      help: "Rows read from Graph, duplicates included",
      labelNames: ["stream"],
      registers,
    });
    this.rowsPublished = new Counter({
      name: `${p}rows_published_total`,
      help: "Rows committed to the topic",
      labelNames: ["stream"],
      registers,
    });
    this.rowsDuplicate = new Counter({
      name: `${p}rows_duplicate_total`,
      help: "Rows dropped because their id was already published",
      labelNames: ["stream"],
      registers,
    });
    this.rowsDeadLettered = new Counter({
      name: `${p}rows_dead_lettered_total`,
      help: "Rows that could not be encoded, committed to the dead-letter topic with the reason",
      labelNames: ["stream", "reason"],
      registers,
    });
    this.rowsUnknownProperties = new Counter({
      name: `${p}rows_unknown_properties_total`,
      help: "Properties Graph sent that the schema does not carry (ignored)",
      labelNames: ["stream"],
      registers,
    });
    this.graphRequests = new Counter({
      name: `${p}graph_requests_total`,
      help: "Graph requests by HTTP status (or 'network' when none came back)",
      labelNames: ["stream", "code"],
      registers,
    });
    this.graphThrottled = new Counter({
      name: `${p}graph_throttled_total`,
      help: "Graph answers 429",
      labelNames: ["stream"],
      registers,
    });
    this.graphRetries = new Counter({
      name: `${p}graph_retries_total`,
      help: "Graph requests retried, by reason",
      labelNames: ["stream", "reason"],
      registers,
    });
    this.graphRequestDuration = new Histogram({
      name: `${p}graph_request_duration_seconds`,
      help: "Time to a complete Graph page, by attempt",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      labelNames: ["stream"],
      registers,
    });
    this.graphResponsesRefused = new Counter({
      name: `${p}graph_responses_refused_total`,
      help: "Graph answers refused as hostile or broken (a link out of scope or looping, a body too large, not JSON, too many rows, too deep), by error code",
      labelNames: ["stream", "code"],
      registers,
    });
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
      labelNames: ["stream"],
      registers,
    });
    this.kafkaTransactions = new Counter({
      name: `${p}kafka_transactions_total`,
      help: "Kafka transactions by outcome",
      labelNames: ["stream", "outcome"],
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
      labelNames: ["stream"],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: `${p}last_success_timestamp_seconds`,
      help: "When the last poll (or backfill slice) completed",
      labelNames: ["stream"],
      registers,
    });
    this.sessionFailures = new Counter({
      name: `${p}session_failures_total`,
      help: "Polls (or backfill runs) that failed and ended their session, by error code (other: not the connector's own error)",
      labelNames: ["stream", "code"],
      registers,
    });
    this.dedupeIds = new Gauge({
      name: `${p}dedupe_ids`,
      help: "Row ids remembered for dedupe (those inside the lookback horizon)",
      labelNames: ["stream"],
      registers,
    });
    this.active = new Gauge({
      name: `${p}active`,
      help: "1 while this instance is the elected active one of its identity, 0 while it stands by",
      labelNames: ["stream"],
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: p });
  }

  /** The metrics of one stream: each series carries `stream="<name>"`. */
  forStream(stream: string): StreamMetrics {
    let view = this.streams.get(stream);
    if (view === undefined) {
      view = new StreamMetrics(this, stream);
      this.streams.set(stream, view);
    }
    return view;
  }
}

/** A counter of one stream, by its other label. */
export interface LabelledCounter<L extends string> {
  inc(labels: Record<L, string>, value?: number): void;
}

function labelled<L extends string>(counter: Counter<"stream" | L>, stream: string): LabelledCounter<L> {
  return {
    inc: (labels, value = 1) => counter.inc({ ...labels, stream } as LabelValues<"stream" | L>, value),
  };
}

/** One stream's view of Metrics: the same names, every series labelled with the stream. */
export class StreamMetrics {
  readonly rowsFetched: Counter.Internal;
  readonly rowsPublished: Counter.Internal;
  readonly rowsDuplicate: Counter.Internal;
  readonly rowsDeadLettered: LabelledCounter<"reason">;
  readonly rowsUnknownProperties: Counter.Internal;
  readonly graphRequests: LabelledCounter<"code">;
  readonly graphThrottled: Counter.Internal;
  readonly graphRetries: LabelledCounter<"reason">;
  readonly graphRequestDuration: Histogram.Internal<"stream">;
  readonly graphResponsesRefused: LabelledCounter<"code">;
  readonly kafkaProduceDuration: Histogram.Internal<"stream">;
  readonly kafkaTransactions: LabelledCounter<"outcome">;
  readonly watermark: Gauge.Internal<"stream">;
  readonly lastSuccess: Gauge.Internal<"stream">;
  readonly sessionFailures: LabelledCounter<"code">;
  readonly dedupeIds: Gauge.Internal<"stream">;
  readonly active: Gauge.Internal<"stream">;

  constructor(
    readonly all: Metrics,
    readonly stream: string,
  ) {
    const labels = { stream };
    this.rowsFetched = all.rowsFetched.labels(labels);
    this.rowsPublished = all.rowsPublished.labels(labels);
    this.rowsDuplicate = all.rowsDuplicate.labels(labels);
    this.rowsDeadLettered = labelled(all.rowsDeadLettered, stream);
    this.rowsUnknownProperties = all.rowsUnknownProperties.labels(labels);
    this.graphRequests = labelled(all.graphRequests, stream);
    this.graphThrottled = all.graphThrottled.labels(labels);
    this.graphRetries = labelled(all.graphRetries, stream);
    this.graphRequestDuration = all.graphRequestDuration.labels(labels);
    this.graphResponsesRefused = labelled(all.graphResponsesRefused, stream);
    this.kafkaProduceDuration = all.kafkaProduceDuration.labels(labels);
    this.kafkaTransactions = labelled(all.kafkaTransactions, stream);
    this.watermark = all.watermark.labels(labels);
    this.lastSuccess = all.lastSuccess.labels(labels);
    this.sessionFailures = labelled(all.sessionFailures, stream);
    this.dedupeIds = all.dedupeIds.labels(labels);
    this.active = all.active.labels(labels);
    // Every code exists from the start at 0, so that increase() sees a code's first one too.
    for (const code of GRAPH_REFUSED_CODES) this.graphResponsesRefused.inc({ code }, 0);
    for (const code of [...Object.values(ErrorCode), "other"]) this.sessionFailures.inc({ code }, 0);
    // Series of counters exist at 0 before their first event, for the same reason; gauges start at
    // 0 (not active, nothing published yet), as a metric without labels does.
    for (const counter of [this.rowsFetched, this.rowsPublished, this.rowsDuplicate]) counter.inc(0);
    for (const gauge of [this.watermark, this.lastSuccess, this.dedupeIds, this.active]) gauge.set(0);
  }
}
