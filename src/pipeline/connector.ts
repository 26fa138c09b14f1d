import { setTimeout as sleep } from "node:timers/promises";
import type { SchemaRegistry } from "@kafkajs/confluent-schema-registry";
import { SchemaType } from "@kafkajs/confluent-schema-registry";
import { CompressionTypes, type Kafka, type Message } from "kafkajs";
import { PSTN_ROW_SCHEMA_TEXT } from "../avro/index.js";
import { ErrorCode, isPstnError, PstnError } from "../errors.js";
import type { GraphClient } from "../graph/client.js";
import { type CallLogFunction, CallLogFunction as Functions } from "../graph/url.js";
import { TransactionalPublisher } from "../kafka/publisher.js";
import { ensureTopics, type TopicNames } from "../kafka/topics.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/index.js";
import { planPoll, sliceRange, type Window } from "../windows/planner.js";
import { BatchBuilder, type EncodingTally } from "./batch.js";
import { Health } from "./health.js";
import { type DecodedPage, InlinePageDecoder, type PageDecoder, WorkerPageDecoder } from "./page-decoder.js";
import { readAhead } from "./readahead.js";
import { SessionFailures } from "./restarts.js";

export interface ConnectorOptions {
  tenantId: string;
  /** Names the connector among others on the same tenant and stream (CONNECTOR_NAME). */
  name: string;
  stream?: "pstn";
  topics: TopicNames;
  dataPartitions?: number;
  start: Date;
  pollIntervalMs: number;
  lookbackMs: number;
  sliceMs: number;
  /** A transaction is committed at the latest after this many rows (and at every slice's end). */
  maxBatchRows?: number;
  compression?: CompressionTypes;
  /**
   * Where pages are parsed and rows encoded: a worker thread (default), so that the main thread's
   * event loop stays free for Graph's and Kafka's I/O, or inline on the main thread.
   */
  pageDecoder?: "worker" | "inline";
  graph: GraphClient;
  kafka: Kafka;
  registry: SchemaRegistry;
  metrics: Metrics;
  logger: Logger;
  health?: Health;
  /** Longest wait before a new session after failures in a row (CONNECTOR_MAX_RESTART_BACKOFF). */
  maxRestartBackoffMs?: number;
  /** Draws the restart jitter; tests pin it. */
  random?: () => number;
  now?: () => number;
  /** Called after each committed transaction, for the live view. */
  onProgress?: (progress: Progress) => void;
}

export interface Progress {
  /** Where reading began (fixed by the identity's first run); undefined before a session opened. */
  start: Date | undefined;
  fetched: number;
  published: number;
  duplicates: number;
  deadLettered: number;
  watermark: Date | undefined;
}

/** Windows fetched at once; the pacer keeps their requests within Graph's budget. */
const READ_AHEAD_WINDOWS = 4;
/**
 * Pages (of up to 1,000 rows) the windows ahead may hold: enough that they keep fetching while the
 * current window waits for each of its pages in turn, few enough to bound the memory.
 */
const READ_AHEAD_PAGES = 12;

/** CONNECTOR_MAX_RESTART_BACKOFF's default, for connectors built without it (tests, tools). */
const DEFAULT_MAX_RESTART_BACKOFF_MS = 5 * 60_000;

const FINAL_CODES: ReadonlySet<string> = new Set([
  ErrorCode.KAFKA_FENCED,
  ErrorCode.GRAPH_FORBIDDEN,
  ErrorCode.GRAPH_BAD_REQUEST,
  ErrorCode.CONFIG_INVALID,
  ErrorCode.AUTH_ENDPOINT_REFUSED,
  ErrorCode.AUTH_RESPONSE_TOO_LARGE,
]);

/**
 * A failure of configuration or credentials that a later attempt cannot fix: the command stops and
 * says why, so that a wrong secret or a missing permission is seen at once (the process exits).
 * Graph answers that cannot heal (GRAPH_REFUSED_CODES) are not among them: they belong to one
 * window, and the process stays up, restarting sessions with a growing wait.
 */
export function isFinal(error: unknown): boolean {
  return (
    isPstnError(error) &&
    (FINAL_CODES.has(error.code) ||
      ((error.code === ErrorCode.AUTH_FAILED || error.code === ErrorCode.DECODER_FAILED) && !error.retriable))
  );
}

/**
 * Graph → windows → dedupe → Avro → Kafka. A session is one transactional producer with the state
 * it restored; any failure while a batch is open ends the session, and the next one rebuilds what
 * was committed from Kafka, so an uncommitted row is never taken for published.
 */
export class Connector {
  readonly health: Health;
  private readonly options: ConnectorOptions;
  private readonly now: () => number;
  private readonly fn: CallLogFunction = Functions.pstn;
  private decoder: PageDecoder | undefined;
  private schemaId: number | undefined;
  private publisher: TransactionalPublisher | undefined;
  private readonly progress: Progress = {
    start: undefined,
    fetched: 0,
    published: 0,
    duplicates: 0,
    deadLettered: 0,
    watermark: undefined,
  };

  constructor(options: ConnectorOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.health = options.health ?? new Health();
  }

  identity(suffix = ""): string {
    return `${this.options.tenantId}/${this.options.stream ?? "pstn"}/${this.options.name}${suffix}`;
  }

  /** Topics exist and the schema is registered; safe to call again. */
  async prepare(): Promise<void> {
    if (this.schemaId !== undefined) return;
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const created = await ensureTopics(admin, this.options.topics, {
        dataPartitions: this.options.dataPartitions ?? 6,
      });
      if (created.length > 0) this.options.logger.info({ topics: created }, "created topics");
    } finally {
      await admin.disconnect();
    }
    this.health.set("kafka", true);
    try {
      const { id } = await this.options.registry.register(
        { type: SchemaType.AVRO, schema: PSTN_ROW_SCHEMA_TEXT },
        { subject: `${this.options.topics.data}-value` },
      );
      this.schemaId = id;
    } catch (error) {
      this.health.set("registry", false);
      throw new PstnError(
        ErrorCode.REGISTRY_FAILED,
        `registering the schema failed: ${(error as Error).message}`,
        {
          cause: error,
          retriable: true,
        },
      );
    }
    this.health.set("registry", true);
    this.decoder =
      this.options.pageDecoder === "inline"
        ? new InlinePageDecoder(this.schemaId)
        : new WorkerPageDecoder(this.schemaId);
    this.options.logger.info(
      { schemaId: this.schemaId, subject: `${this.options.topics.data}-value` },
      "schema registered",
    );
  }

  /**
   * Polls until `signal` aborts. A failed poll ends the session; the next one starts after a wait
   * that grows with each failure in a row (see SessionFailures). Final errors (isFinal) end the run.
   */
  async run(signal: AbortSignal): Promise<void> {
    const identity = this.identity();
    const failures = this.sessionFailures();
    while (!signal.aborted) {
      try {
        await this.prepare();
        const publisher = await this.session(identity, this.options.lookbackMs);
        const now = new Date(this.now());
        const plan = planPoll({
          watermark: publisher.tracker.watermark,
          start: publisher.tracker.start,
          now,
          lookbackMs: this.options.lookbackMs,
          sliceMs: this.options.sliceMs,
        });
        await this.readWindows(publisher, plan.windows, this.options.lookbackMs, signal);
        this.options.metrics.lastSuccess.set(this.now() / 1000);
        failures.succeeded();
      } catch (error) {
        if (signal.aborted) break;
        await this.endSession();
        const waitMs = failures.failed(error);
        if (isFinal(error)) throw error;
        this.options.logger.error(
          { err: error, attempt: failures.count, retryInMs: waitMs },
          "poll failed; retrying with a new session",
        );
        await sleep(waitMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      await sleep(this.options.pollIntervalMs, undefined, { signal }).catch(() => undefined);
    }
    await this.endSession();
  }

  /**
   * Reads `[from, to]` once, under its own identity so that a restart resumes it. Resolves true
   * when the range is done, false when `signal` stopped it first.
   */
  async backfill(from: Date, to: Date, signal: AbortSignal): Promise<boolean> {
    const identity = this.identity(`/backfill/${from.toISOString()}/${to.toISOString()}`);
    const failures = this.sessionFailures();
    try {
      for (;;) {
        try {
          await this.prepare();
          const publisher = await this.session(identity, 0, from);
          const watermark = publisher.tracker.watermark;
          if (watermark && watermark >= to) return true;
          const resumeAt = watermark && watermark > from ? watermark : from;
          await this.readWindows(publisher, sliceRange(resumeAt, to, this.options.sliceMs), 0, signal);
          this.options.metrics.lastSuccess.set(this.now() / 1000);
          failures.succeeded();
          return true;
        } catch (error) {
          await this.endSession();
          if (signal.aborted) return false;
          const waitMs = failures.failed(error);
          if (isFinal(error)) throw error;
          this.options.logger.error(
            { err: error, attempt: failures.count, retryInMs: waitMs },
            "backfill failed; retrying",
          );
          const stopped = await sleep(waitMs, undefined, { signal }).then(
            () => false,
            () => true,
          );
          if (stopped) return false;
        }
      }
    } finally {
      await this.endSession();
    }
  }

  /** The parts a wrapper (standby election) shares with the connector. */
  get settings(): Pick<ConnectorOptions, "kafka" | "logger" | "topics" | "metrics"> {
    return this.options;
  }

  get stats(): Readonly<Progress> {
    return this.progress;
  }

  async close(): Promise<void> {
    await this.endSession();
    await this.decoder?.close();
  }

  private sessionFailures(): SessionFailures {
    return new SessionFailures({
      metrics: this.options.metrics,
      health: this.health,
      maxBackoffMs: this.options.maxRestartBackoffMs ?? DEFAULT_MAX_RESTART_BACKOFF_MS,
      random: this.options.random,
    });
  }

  private async session(
    identity: string,
    lookbackMs: number,
    start = this.options.start,
  ): Promise<TransactionalPublisher> {
    if (this.publisher) return this.publisher;
    this.publisher = await TransactionalPublisher.open({
      kafka: this.options.kafka,
      transactionalId: transactionalIdOf(this.options.topics.state, identity),
      identity,
      topics: this.options.topics,
      compression: this.options.compression ?? CompressionTypes.GZIP,
      lookbackMs,
      start,
      metrics: this.options.metrics,
      logger: this.options.logger,
    });
    this.health.set("kafka", true);
    if (!this.publisher.tracker.watermark) {
      // Fix a first run's start now, so that a start given as a duration ago stays where it was.
      await this.publisher.commit({ data: [], dlq: [], state: [this.publisher.tracker.checkpointMessage()] });
    }
    const watermark = this.publisher.tracker.watermark;
    this.progress.start = this.publisher.tracker.start;
    this.progress.watermark = watermark;
    if (watermark) this.options.metrics.watermark.set(watermark.getTime() / 1000);
    this.options.metrics.dedupeIds.set(this.publisher.tracker.ids.size);
    return this.publisher;
  }

  private async endSession(): Promise<void> {
    const publisher = this.publisher;
    this.publisher = undefined;
    await publisher?.close().catch(() => undefined);
  }

  /**
   * Reads each window's pages into batches. A finished window's checkpoint (the watermark moved to
   * its end) is committed with the batch that holds its last rows: at once when no transaction is
   * in flight, else with the next one (full batches, or the poll's end). Committing every window
   * end on its own made a backfill's transactions a quarter smaller, and transactions are what
   * bounds a CPU-bound run. One transaction is in flight while the next batch is fetched and
   * encoded; transactions commit one after another, in order.
   */
  private async readWindows(
    publisher: TransactionalPublisher,
    windows: readonly Window[],
    lookbackMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { graph, metrics, logger } = this.options;
    const decoder = this.decoder!;
    const maxBatchRows = this.options.maxBatchRows ?? 5000;
    const tracker = publisher.tracker;
    const committer = new Committer(publisher, (tally) => this.countEncoded(tally));
    let batch = new BatchBuilder(tracker, this.now);
    // The checkpoint of the last finished window, until a transaction carries it.
    let checkpoint: { records: Message[]; watermark: Date } | undefined;
    const commit = async () => {
      const committed = batch;
      const carried = checkpoint;
      batch = new BatchBuilder(tracker, this.now);
      checkpoint = undefined;
      const dedupeIds = tracker.ids.size;
      await committer.submit(committed, carried?.records ?? [], () => {
        if (carried) {
          this.progress.watermark = carried.watermark;
          metrics.watermark.set(carried.watermark.getTime() / 1000);
          metrics.dedupeIds.set(dedupeIds);
        }
        this.published(committed);
      });
    };
    const pages = readAhead<DecodedPage>(
      windows,
      (window, fetchSignal) =>
        graph.decodedPages(
          this.fn,
          window.from,
          window.to,
          (body) => decoder.decode(body, { fromMs: window.from.getTime(), toMs: window.to.getTime() }),
          fetchSignal,
        ),
      {
        windows: READ_AHEAD_WINDOWS,
        pagesAhead: READ_AHEAD_PAGES,
        signal,
      },
    );
    try {
      for await (const item of pages) {
        const window = item.window;
        if (item.kind === "page") {
          this.health.set("graph", true);
          const page = item.page;
          const fresh = batch.select(page);
          this.countSelected(page.keys.length, page.keys.length - fresh.length);
          if (fresh.length === 0) decoder.release(page);
          else {
            const windowText = { from: window.from.toISOString(), to: window.to.toISOString() };
            batch.add(page, fresh, decoder.encode(page, fresh, windowText));
          }
          if (batch.size >= maxBatchRows) await commit();
          continue;
        }
        const watermark = tracker.watermark && tracker.watermark > window.to ? tracker.watermark : window.to;
        const horizon = new Date(Math.max(tracker.start.getTime(), watermark.getTime() - lookbackMs));
        checkpoint = { records: tracker.advance(watermark, horizon), watermark };
        logger.debug({ from: window.from, to: window.to, watermark }, "window done");
        if (committer.idle) await commit();
      }
      if (checkpoint || batch.size > 0) await commit();
      await committer.drain();
    } catch (error) {
      if (isPstnError(error) && error.code.startsWith("PSTN_GRAPH")) this.health.set("graph", false);
      throw error;
    } finally {
      // A failure above ends the session: let the transaction in flight settle before it closes.
      await committer.drain().catch(() => undefined);
      // Pages read ahead but never reached, or reached and not encoded, are forgotten.
      decoder.releaseAll();
    }
  }

  private published(batch: BatchBuilder): void {
    this.options.metrics.rowsPublished.inc(batch.data.length);
    this.progress.published += batch.data.length;
    this.progress.deadLettered += batch.dlq.length;
    this.options.onProgress?.(this.progress);
  }

  private countSelected(fetched: number, duplicates: number): void {
    const { metrics } = this.options;
    metrics.rowsFetched.inc(fetched);
    if (duplicates > 0) metrics.rowsDuplicate.inc(duplicates);
    this.progress.fetched += fetched;
    this.progress.duplicates += duplicates;
  }

  private countEncoded(tally: EncodingTally): void {
    const { metrics } = this.options;
    if (tally.unknownProperties > 0) metrics.rowsUnknownProperties.inc(tally.unknownProperties);
    for (const reason of tally.deadReasons) metrics.rowsDeadLettered.inc({ reason: reasonLabel(reason) });
  }
}

/**
 * The transactional id (and the election group) of an identity: per state topic too, so that two
 * deployments of the same tenant and name writing to different topics never fence each other.
 */
export function transactionalIdOf(stateTopic: string, identity: string): string {
  return `pstn-connector:${stateTopic}:${identity}`;
}

/** Reasons read `<field>: ...`: the field is a bounded label. */
function reasonLabel(reason: string): string {
  const field = /^([A-Za-z]+)[:\s]/.exec(reason)?.[1];
  return field && field.length <= 40 ? field : "other";
}

/** At most one transaction in flight; a failed one fails the next submit or drain. */
class Committer {
  private pending: Promise<void> | undefined;
  /** The transaction in flight, until it settles (drain or not). */
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly publisher: TransactionalPublisher,
    private readonly onEncoded: (tally: EncodingTally) => void,
  ) {}

  /**
   * Waits for the transaction in flight and for this batch's encodings, then starts this batch's
   * transaction, with its state records.
   */
  async submit(batch: BatchBuilder, extraState: Message[], onCommitted: () => void): Promise<void> {
    // The rows' records are encoded and gzipped while the transaction before is still in flight.
    const settling = batch.settle().then((tally) => ({
      tally,
      prepared: this.publisher.prepare(batch.data, batch.dlq),
    }));
    settling.catch(() => undefined);
    try {
      await this.drain();
    } catch (error) {
      await settling.then(({ prepared }) => prepared.release()).catch(() => undefined);
      throw error;
    }
    const { tally, prepared } = await settling;
    this.onEncoded(tally);
    // Built now, in order: ids records take their sequence numbers, tombstones are taken once.
    const tracker = this.publisher.tracker;
    const state = [...tracker.idsMessages(batch.newIds), ...extraState, ...tracker.takeTombstones()];
    const committed = this.publisher
      .commit({ data: batch.data, dlq: batch.dlq, state }, prepared)
      .then(onCommitted);
    this.inFlight = committed;
    // Observed by the next submit or drain; marked handled so that it never surfaces unawaited.
    committed
      .finally(() => {
        if (this.inFlight === committed) this.inFlight = undefined;
      })
      .catch(() => undefined);
    this.pending = committed;
  }

  /** Whether no transaction is in flight: Kafka waits for us, so a commit now costs no throughput. */
  get idle(): boolean {
    return this.inFlight === undefined;
  }

  async drain(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    await pending;
  }
}
