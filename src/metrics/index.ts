import { Counter, collectDefaultMetrics, Gauge, Histogram, type LabelValues, Registry } from "prom-client";
import { ErrorCode, GRAPH_REFUSED_CODES } from "../errors.js";

/**
 * Every metric of the connector, on one registry; names per CONTRACT.md. What a stream does carries
 * its `stream` label (forStream); what the streams share (tokens, Kafka's OAuth, the process) does not.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly rowsFetched: Counter<"tenant" | "stream">;
  readonly rowsPublished: Counter<"tenant" | "stream">;
  readonly rowsDuplicate: Counter<"tenant" | "stream">;
  readonly rowsDeadLettered: Counter<"tenant" | "stream" | "reason">;
  readonly rowsUnknownProperties: Counter<"tenant" | "stream">;
  readonly graphRequests: Counter<"tenant" | "stream" | "code">;
  readonly graphThrottled: Counter<"tenant" | "stream">;
  readonly graphRetries: Counter<"tenant" | "stream" | "reason">;
  readonly graphRequestDuration: Histogram<"tenant" | "stream">;
  readonly graphResponsesRefused: Counter<"tenant" | "stream" | "code">;
  readonly tokenRequests: Counter<"tenant" | "outcome">;
  readonly kafkaProduceDuration: Histogram<"tenant" | "stream">;
  readonly kafkaTransactions: Counter<"tenant" | "stream" | "outcome">;
  readonly kafkaOAuthTokens: Counter<"outcome">;
  readonly watermark: Gauge<"tenant" | "stream">;
  readonly lastSuccess: Gauge<"tenant" | "stream">;
  readonly sessionFailures: Counter<"tenant" | "stream" | "code">;
  readonly dedupeIds: Gauge<"tenant" | "stream">;
  readonly active: Gauge<"tenant" | "stream">;
  readonly slotsHeld: Gauge;
  readonly units: Gauge<"state">;
  readonly unitStopped: Gauge<"tenant" | "stream" | "code">;
  private unitStates: () => Readonly<Record<UnitState, number>> = () => ({
    active: 0,
    standby: 0,
    stopped: 0,
  });
  private readonly streams = new Map<string, StreamMetrics>();

  /** Whether the series of a tenant's stream carry `tenant` (METRICS_TENANT_LABEL). */
  readonly tenantLabel: boolean;
  /** With the label off: per gauge, per shared series (its labels), each tenant's value. */
  private readonly merged = new WeakMap<
    Gauge<string>,
    Map<string, { combine: Combine; values: Map<string, number> }>
  >();

  constructor(options: { defaultMetrics?: boolean; tenantLabel?: boolean } = {}) {
    this.tenantLabel = options.tenantLabel ?? true;
    const registers = [this.registry];
    const p = "pstn_connector_";
    this.rowsFetched = new Counter({
      name: `${p}rows_fetched_total`,
      help: "Rows read from Graph, duplicates included",
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.rowsPublished = new Counter({
      name: `${p}rows_published_total`,
      help: "Rows committed to the topic",
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.rowsDuplicate = new Counter({
      name: `${p}rows_duplicate_total`,
      help: "Rows dropped because their id was already published",
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.rowsDeadLettered = new Counter({
      name: `${p}rows_dead_lettered_total`,
      help: "Rows that could not be encoded, committed to the dead-letter topic with the reason",
      labelNames: ["tenant", "stream", "reason"],
      registers,
    });
    this.rowsUnknownProperties = new Counter({
      name: `${p}rows_unknown_properties_total`,
      help: "Properties Graph sent that the schema does not carry (ignored)",
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.graphRequests = new Counter({
      name: `${p}graph_requests_total`,
      help: "Graph requests by HTTP status (or 'network' when none came back)",
      labelNames: ["tenant", "stream", "code"],
      registers,
    });
    this.graphThrottled = new Counter({
      name: `${p}graph_throttled_total`,
      help: "Graph answers 429",
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.graphRetries = new Counter({
      name: `${p}graph_retries_total`,
      help: "Graph requests retried, by reason",
      labelNames: ["tenant", "stream", "reason"],
      registers,
    });
    this.graphRequestDuration = new Histogram({
      name: `${p}graph_request_duration_seconds`,
      help: "Time to a complete Graph page, by attempt",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.graphResponsesRefused = new Counter({
      name: `${p}graph_responses_refused_total`,
      help: "Graph answers refused as hostile or broken (a link out of scope or looping, a body too large, not JSON, too many rows, too deep), by error code",
      labelNames: ["tenant", "stream", "code"],
      registers,
    });
    this.tokenRequests = new Counter({
      name: `${p}token_requests_total`,
      help: "Access tokens from Entra ID by outcome: issued, cache, error, refused (a request off the authority host, never sent)",
      labelNames: ["tenant", "outcome"],
      registers,
    });
    this.kafkaProduceDuration = new Histogram({
      name: `${p}kafka_produce_duration_seconds`,
      help: "Time to send and commit one batch (one Kafka transaction)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.kafkaTransactions = new Counter({
      name: `${p}kafka_transactions_total`,
      help: "Kafka transactions by outcome",
      labelNames: ["tenant", "stream", "outcome"],
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
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: `${p}last_success_timestamp_seconds`,
      help: "When the last poll (or backfill slice) completed",
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.sessionFailures = new Counter({
      name: `${p}session_failures_total`,
      help: "Polls (or backfill runs) that failed and ended their session, by error code (other: not the connector's own error)",
      labelNames: ["tenant", "stream", "code"],
      registers,
    });
    this.dedupeIds = new Gauge({
      name: `${p}dedupe_ids`,
      help: "Row ids remembered for dedupe (those inside the lookback horizon)",
      labelNames: ["tenant", "stream"],
      registers,
    });
    this.active = new Gauge({
      name: `${p}active`,
      help: "1 while this instance is the elected active one of its identity, 0 while it stands by",
      labelNames: ["tenant", "stream"],
      registers,
    });
    const states = () => this.unitStates();
    this.units = new Gauge({
      name: `${p}units`,
      help: "Sources (a tenant's stream) of this process by state: active (this replica reads it), standby (another replica does), stopped (a final error of its tenant, until an operator acts)",
      labelNames: ["state"],
      registers,
      collect() {
        for (const [state, count] of Object.entries(states())) this.set({ state }, count);
      },
    });
    this.slotsHeld = new Gauge({
      name: `${p}slots_held`,
      help: "Slots of KAFKA_SLOTS_TOPIC this replica holds (with a tenants file): it reads the units of those slots",
      registers,
    });
    this.unitStopped = new Gauge({
      name: `${p}unit_stopped`,
      help: "1 for a source stopped by a final error of its tenant (consent revoked, a wrong secret, a tenant deleted), by the error's code",
      labelNames: ["tenant", "stream", "code"],
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: p });
  }

  /** Forgets a stream's view (StreamMetrics.forget): asked for again, it starts afresh. */
  dropStream(view: StreamMetrics): void {
    this.streams.delete(`${view.tenant ?? ""}/${view.stream}`);
  }

  /**
   * One tenant's value of a gauge series that the tenants share when the tenant label is off: the
   * series shows the values combined (the oldest watermark, the sum of ids...). Undefined forgets it.
   */
  setMerged(
    gauge: Gauge<string>,
    labels: Record<string, string>,
    combine: Combine,
    tenant: string,
    value: number | undefined,
  ): void {
    let ofGauge = this.merged.get(gauge);
    if (ofGauge === undefined) {
      ofGauge = new Map();
      this.merged.set(gauge, ofGauge);
    }
    const key = JSON.stringify(labels);
    let series = ofGauge.get(key);
    if (series === undefined) {
      series = { combine, values: new Map() };
      ofGauge.set(key, series);
    }
    if (value === undefined) series.values.delete(tenant);
    else series.values.set(tenant, value);
    if (series.values.size === 0) {
      gauge.remove(labels);
      ofGauge.delete(key);
      return;
    }
    const values = [...series.values.values()];
    gauge.set(labels, series.combine === "min" ? Math.min(...values) : values.reduce((sum, v) => sum + v, 0));
  }

  /** Where `units` reads the sources' states from at each scrape. */
  watchUnits(states: () => Readonly<Record<UnitState, number>>): void {
    this.unitStates = states;
  }

  /**
   * The metrics of one stream: each series carries `stream="<name>"`, and `tenant="<id>"` when
   * `tenant` is given (several tenants in one process).
   */
  forStream(stream: string, tenant?: string): StreamMetrics {
    const key = `${tenant ?? ""}/${stream}`;
    let view = this.streams.get(key);
    if (view === undefined) {
      view = new StreamMetrics(this, stream, tenant, !this.tenantLabel && tenant !== undefined);
      this.streams.set(key, view);
    }
    return view;
  }
}

/** How the tenants' values of a shared gauge series combine: the oldest, or the total. */
export type Combine = "min" | "sum";

/** A gauge of one unit. */
export interface UnitGauge {
  set(value: number): void;
}

/** What a source is doing in this process (pstn_connector_units{state}). */
export type UnitState = "active" | "standby" | "stopped";

/** A counter of one stream, by its other label. */
export interface LabelledCounter<L extends string> {
  inc(labels: Record<L, string>, value?: number): void;
}

/** The labels of one unit's series: its stream, and its tenant when several share the process. */
type UnitLabels = { stream: string; tenant?: string };

function labelled<L extends string>(
  counter: Counter<"tenant" | "stream" | L>,
  unit: UnitLabels,
): LabelledCounter<L> {
  return {
    inc: (labels, value = 1) =>
      counter.inc({ ...labels, ...unit } as LabelValues<"tenant" | "stream" | L>, value),
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
  readonly graphRequestDuration: Histogram.Internal<"tenant" | "stream">;
  readonly graphResponsesRefused: LabelledCounter<"code">;
  readonly kafkaProduceDuration: Histogram.Internal<"tenant" | "stream">;
  readonly kafkaTransactions: LabelledCounter<"outcome">;
  readonly watermark: UnitGauge;
  readonly lastSuccess: UnitGauge;
  readonly sessionFailures: LabelledCounter<"code">;
  readonly dedupeIds: UnitGauge;
  readonly active: UnitGauge;
  private readonly labels: UnitLabels;
  private readonly stoppedCodes = new Set<string>();
  private announced = false;
  /** Whether `active` was set before the series were announced (an election said so). */
  private activeSet = false;

  /**
   * `merged`: the tenant label is off, so the series are the stream's, shared with its other
   * tenants: counters add up, and gauges show the tenants' values combined (Metrics.setMerged).
   */
  constructor(
    readonly all: Metrics,
    readonly stream: string,
    readonly tenant?: string,
    private readonly merged = false,
  ) {
    const labels: UnitLabels = tenant === undefined || merged ? { stream } : { tenant, stream };
    this.labels = labels;
    this.rowsFetched = all.rowsFetched.labels(labels);
    this.rowsPublished = all.rowsPublished.labels(labels);
    this.rowsDuplicate = all.rowsDuplicate.labels(labels);
    this.rowsDeadLettered = labelled(all.rowsDeadLettered, labels);
    this.rowsUnknownProperties = all.rowsUnknownProperties.labels(labels);
    this.graphRequests = labelled(all.graphRequests, labels);
    this.graphThrottled = all.graphThrottled.labels(labels);
    this.graphRetries = labelled(all.graphRetries, labels);
    this.graphRequestDuration = all.graphRequestDuration.labels(labels);
    this.graphResponsesRefused = labelled(all.graphResponsesRefused, labels);
    this.kafkaProduceDuration = all.kafkaProduceDuration.labels(labels);
    this.kafkaTransactions = labelled(all.kafkaTransactions, labels);
    this.watermark = this.gauge(all.watermark, "min");
    this.lastSuccess = this.gauge(all.lastSuccess, "min");
    this.sessionFailures = labelled(all.sessionFailures, labels);
    this.dedupeIds = this.gauge(all.dedupeIds, "sum");
    const active = this.gauge(all.active, "sum");
    this.active = {
      set: (value) => {
        this.activeSet = true;
        active.set(value);
      },
    };
    // One tenant's streams: their series exist from the start.
    if (tenant === undefined) this.announce();
  }

  /**
   * Makes the unit's series exist, at 0: counters before their first event, so that increase()
   * sees the first one too; gauges at 0 (not active, nothing published yet), as a metric without
   * labels starts. A tenant's unit in a fleet announces itself when it first runs here, so that a
   * replica exports the units it reads, not every unit of the file; and its counters by error
   * code start at their first event (a code per unit and tenant would be tens of series each).
   */
  announce(): void {
    if (this.announced) return;
    this.announced = true;
    if (this.labels.tenant === undefined) {
      for (const code of GRAPH_REFUSED_CODES) this.graphResponsesRefused.inc({ code }, 0);
      for (const code of [...Object.values(ErrorCode), "other"]) this.sessionFailures.inc({ code }, 0);
    }
    for (const counter of [this.rowsFetched, this.rowsPublished, this.rowsDuplicate]) counter.inc(0);
    // A tenant's unit sets its watermark when its session restores it: a 0 before that would read
    // as decades of lag while another replica's series of it has just gone.
    if (this.tenant === undefined)
      for (const gauge of [this.watermark, this.lastSuccess, this.dedupeIds]) gauge.set(0);
    if (!this.activeSet) this.active.set(0);
  }

  /**
   * A tenant's unit no longer runs here (its slot went to another replica): its gauges go, so
   * that neither its frozen watermark nor its ids count here while another replica moves them.
   * Its counters stay. One tenant's streams keep their series (the standby of an election).
   */
  standingBy(): void {
    if (this.tenant === undefined) return;
    const { all, labels } = this;
    const gauges = [all.watermark, all.lastSuccess, all.dedupeIds];
    if (this.merged) for (const gauge of gauges) all.setMerged(gauge, labels, "sum", this.tenant, undefined);
    else for (const gauge of gauges) gauge.remove(labels);
    this.active.set(0);
    this.announced = false;
  }

  /** A gauge series of this unit: its own, or its share of the stream's (merged). */
  private gauge(gauge: Gauge<"tenant" | "stream">, combine: Combine): UnitGauge {
    if (!this.merged) return gauge.labels(this.labels);
    const { all, labels } = this;
    const tenant = this.tenant ?? "";
    return { set: (value) => all.setMerged(gauge as Gauge<string>, labels, combine, tenant, value) };
  }

  /** The source stopped for good with `code`: pstn_connector_unit_stopped says so until restart. */
  stopped(code: string): void {
    this.stoppedCodes.add(code);
    if (this.merged)
      this.all.setMerged(this.all.unitStopped, { ...this.labels, code }, "sum", this.tenant ?? "", 1);
    else this.all.unitStopped.set({ ...this.labels, code }, 1);
  }

  /**
   * The source is gone (its tenant removed from the tenants file): its gauges go, so that no alert
   * watches a watermark nobody moves any more. Its counters stay (they only stop increasing).
   */
  forget(): void {
    const { all, labels } = this;
    const gauges = [all.watermark, all.lastSuccess, all.dedupeIds, all.active];
    if (this.merged) {
      const tenant = this.tenant ?? "";
      for (const gauge of gauges) all.setMerged(gauge, labels, "sum", tenant, undefined);
      for (const code of this.stoppedCodes)
        all.setMerged(all.unitStopped, { ...labels, code }, "sum", tenant, undefined);
    } else {
      for (const gauge of gauges) gauge.remove(labels);
      for (const code of this.stoppedCodes) all.unitStopped.remove({ ...labels, code });
    }
    this.stoppedCodes.clear();
    all.dropStream(this);
  }
}
