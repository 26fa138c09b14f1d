import { setTimeout as sleep } from "node:timers/promises";
import { rowSchema } from "../avro/index.js";
import { ErrorCode, isPstnError, PstnError } from "../errors.js";
import type { GraphClient } from "../graph/client.js";
import type { Logger } from "../log.js";
import { Health } from "../metrics/health.js";
import type { Metrics, StreamMetrics } from "../metrics/index.js";
import type { OutputPolicy } from "../privacy/policy.js";
import type { SchemaRegistrar } from "../registry.js";
import type { Sink, SinkSession, SourceTopics } from "../sink.js";
import type { StateRecord } from "../state/records.js";
import { apiVersionFor, type StreamDefinition, type StreamName } from "../streams/index.js";
import { planPoll, type Window } from "../windows/planner.js";
import { SPLIT_AFTER_ROWS, WindowSlicer } from "../windows/slicer.js";
import { BatchBuilder, type EncodingTally } from "./batch.js";
import { Committer } from "./committer.js";
import {
  type DecodedPage,
  type DecoderThreads,
  InlinePageDecoder,
  type OutputEncoding,
  type PageDecoder,
  WorkerPageDecoder,
} from "./page-decoder.js";
import { readAhead } from "./readahead.js";
import { retrySessions } from "./restarts.js";

/** A source: one stream of one tenant, with its own identity, state, topics and schema. */
export interface SourceUnit {
  tenantId: string;
  stream: StreamDefinition;
  /** Names the connector among others on the same tenant and stream (CONNECTOR_NAME). */
  name: string;
  topics: SourceTopics;
  /** Where a first run begins (fixed by the identity's first run). */
  start: Date;
  /**
   * Set when several tenants share the process and the topics: the tenant's series carry
   * `tenant="<id>"`, and each record it writes the header `pstn.tenant`.
   */
  tenantTag?: string;
  /** The privacy policy its rows are written under, when PRIVACY_POLICY_FILE gives one. */
  privacy?: UnitPrivacy;
}

/** A unit's privacy policy: per output, in the order of `topics.outputs`, what it does to a row. */
export interface UnitPrivacy {
  /** The policy's version, in every record's POLICY_VERSION_HEADER. */
  version: string;
  outputs: readonly { policy: OutputPolicy; keyId?: string }[];
}

/** The identity of a source: the prefix of its state keys and of its transactional id. */
export function identityOf(unit: Pick<SourceUnit, "tenantId" | "stream" | "name">): string {
  return `${unit.tenantId}/${unit.stream.name}/${unit.name}`;
}

/**
 * The transactional id (and the election group) of an identity: per state topic too, so that two
 * deployments of the same tenant and name writing to different topics never fence each other.
 */
export function transactionalIdOf(stateTopic: string, identity: string): string {
  return `pstn-connector:${stateTopic}:${identity}`;
}

export interface SourceOptions {
  unit: SourceUnit;
  pollIntervalMs: number;
  /**
   * How long `run` waits before its first poll: the sources of many tenants start spread over
   * POLL_INTERVAL instead of all at once, and so poll spread over it from then on.
   */
  firstPollDelayMs?: number;
  lookbackMs: number;
  sliceMs: number;
  /** A transaction is committed at the latest after this many rows (and at every slice's end). */
  maxBatchRows?: number;
  /**
   * Where pages are parsed and rows encoded: a worker thread (default), so that the main thread's
   * event loop stays free for Graph's and Kafka's I/O, or inline on the main thread.
   */
  pageDecoder?: "worker" | "inline";
  /** The process's decoder threads, one per stream, shared with the other tenants' sources. */
  decoderThreads?: DecoderThreads;
  graph: GraphClient;
  sink: Sink;
  registry: SchemaRegistrar;
  metrics: Metrics;
  logger: Logger;
  health?: Health;
  /** Longest wait before a new session after failures in a row (CONNECTOR_MAX_RESTART_BACKOFF). */
  maxRestartBackoffMs?: number;
  /** The first wait before a new session, at most (tests shorten it). */
  firstRestartBackoffMs?: number;
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

/** The header naming a record's tenant, when several tenants share the topics. */
export const TENANT_HEADER = "pstn.tenant";
/** The headers naming the privacy policy a record was written under, and the key of its tokens. */
export const POLICY_VERSION_HEADER = "pstn.policy.version";
export const POLICY_KEY_HEADER = "pstn.policy.key";

/** Windows fetched at once; the pacer keeps their requests within Graph's budget. */
const READ_AHEAD_WINDOWS = 4;
/**
 * Pages (of up to 1,000 rows) the windows ahead may hold: enough that they keep fetching while the
 * current window waits for each of its pages in turn, few enough to bound the memory.
 */
const READ_AHEAD_PAGES = 12;

/** CONNECTOR_MAX_RESTART_BACKOFF's default, for connectors built without it (tests, tools). */
const DEFAULT_MAX_RESTART_BACKOFF_MS = 5 * 60_000;

/**
 * Graph → windows → dedupe → Avro → Kafka. A session is one transactional producer with the state
 * it restored; any failure while a batch is open ends the session, and the next one rebuilds what
 * was committed from Kafka, so an uncommitted row is never taken for published.
 */
export class Source {
  readonly health: Health;
  readonly unit: SourceUnit;
  private readonly options: SourceOptions;
  /** Graph at the API version this stream reads (apiVersionFor), in this stream's turn. */
  readonly graph: GraphClient;
  /** This stream's series of the connector's metrics. */
  readonly metrics: StreamMetrics;
  /** Headers every record of this source carries (its tenant's, when tenants share the topics). */
  private readonly recordHeaders: Record<string, string> | undefined;
  /** Per output, the headers of its records: the tenant's, and the policy's version and key. */
  private readonly outputHeaders: readonly (Record<string, string> | undefined)[];
  private readonly now: () => number;
  private decoder: PageDecoder | undefined;
  private schemaIds: number[] | undefined;
  private session: SinkSession | undefined;
  /** Rows per millisecond in the last window read: how long the next poll's windows are. */
  private density: number | undefined;
  private readonly progress: Progress = {
    start: undefined,
    fetched: 0,
    published: 0,
    duplicates: 0,
    deadLettered: 0,
    watermark: undefined,
  };

  constructor(options: SourceOptions) {
    const { stream } = options.unit;
    // Every line of a source says which stream it is about.
    const logger = options.logger.child(
      options.unit.tenantTag === undefined
        ? { stream: stream.name }
        : { tenant: options.unit.tenantTag, stream: stream.name },
    );
    const apiVersion = apiVersionFor(stream, options.graph.apiVersion);
    if (apiVersion !== options.graph.apiVersion) {
      logger.info(
        { apiVersion, configured: options.graph.apiVersion },
        `${stream.function} is served by ${stream.apiVersions.join(" and ")} only: the ${stream.name} stream reads ${apiVersion}`,
      );
    }
    this.metrics = options.metrics.forStream(stream.name, options.unit.tenantTag);
    this.graph = options.graph.forStream({ lane: stream.name, apiVersion, metrics: this.metrics, logger });
    this.options = { ...options, logger };
    const tenant = options.unit.tenantTag;
    this.recordHeaders = tenant === undefined ? undefined : { [TENANT_HEADER]: tenant };
    const privacy = options.unit.privacy;
    if (privacy !== undefined && privacy.outputs.length !== options.unit.topics.outputs.length)
      throw new Error("a unit's privacy policy has one entry per output topic");
    this.outputHeaders = options.unit.topics.outputs.map((_, index) => {
      const output = privacy?.outputs[index];
      const headers = {
        ...this.recordHeaders,
        ...(privacy === undefined ? {} : { [POLICY_VERSION_HEADER]: privacy.version }),
        ...(output?.keyId === undefined ? {} : { [POLICY_KEY_HEADER]: output.keyId }),
      };
      return Object.keys(headers).length === 0 ? undefined : headers;
    });
    this.unit = options.unit;
    this.now = options.now ?? Date.now;
    this.health = options.health ?? new Health();
  }

  identity(suffix = ""): string {
    return `${identityOf(this.unit)}${suffix}`;
  }

  /** The subjects of the output topics' values, per the registry's topic-name strategy. */
  get subjects(): string[] {
    return this.unit.topics.outputs.map((topic) => `${topic}-value`);
  }

  /** Topics exist and the schema is registered; safe to call again. */
  async prepare(): Promise<void> {
    if (this.schemaIds !== undefined) return;
    const created = await this.options.sink.ensureTopics(this.unit.topics);
    if (created.length > 0) this.options.logger.info({ topics: created }, "created topics");
    this.health.set("kafka", true);
    try {
      // Each output registers the stream's record type under its own subject: a transformed
      // output keeps every field's type, so its consumers read it with the same code.
      const text = rowSchema(this.unit.stream.schemaFile).text;
      const ids: number[] = [];
      for (const subject of this.subjects) ids.push(await this.options.registry.register(subject, text));
      this.schemaIds = ids;
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
    const stream = this.unit.stream.name as StreamName;
    const outputs: OutputEncoding[] = this.schemaIds.map((schemaId, index) => {
      const policy = this.unit.privacy?.outputs[index]?.policy;
      return policy === undefined || policy.changes.length === 0 ? { schemaId } : { schemaId, policy };
    });
    this.decoder =
      this.options.pageDecoder === "inline"
        ? new InlinePageDecoder(outputs, stream)
        : (this.options.decoderThreads?.decoderFor(outputs, stream) ??
          new WorkerPageDecoder(outputs, stream));
    this.options.logger.info({ schemaIds: this.schemaIds, subjects: this.subjects }, "schema registered");
  }

  /**
   * Polls until `signal` aborts. A failed poll ends the session; the next one starts after a wait
   * that grows with each failure in a row (retrySessions). Final errors (isFinal) end the run.
   */
  async run(signal: AbortSignal): Promise<void> {
    const identity = this.identity();
    this.metrics.announce();
    try {
      const offset = this.options.firstPollDelayMs ?? 0;
      if (offset > 0) await sleep(offset, undefined, { signal }).catch(() => undefined);
      while (!signal.aborted) {
        await this.retrySessions("poll", signal, async () => {
          await this.prepare();
          const session = await this.openSession(identity, this.options.lookbackMs);
          const range = planPoll({
            watermark: session.state.watermark,
            start: session.state.start,
            now: new Date(this.now()),
            lookbackMs: this.options.lookbackMs,
          });
          await this.readWindows(session, this.slicer(range.from, range.to), this.options.lookbackMs, signal);
          this.metrics.lastSuccess.set(this.now() / 1000);
        });
        await sleep(this.options.pollIntervalMs, undefined, { signal }).catch(() => undefined);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      await this.endSession();
    }
  }

  /**
   * Reads `[from, to]` once, under its own identity so that a restart resumes it. Resolves true
   * when the range is done, false when `signal` stopped it first.
   */
  async backfill(from: Date, to: Date, signal: AbortSignal): Promise<boolean> {
    const identity = this.identity(`/backfill/${from.toISOString()}/${to.toISOString()}`);
    this.metrics.announce();
    try {
      await this.retrySessions("backfill", signal, async () => {
        await this.prepare();
        const session = await this.openSession(identity, 0, from);
        const watermark = session.state.watermark;
        if (watermark && watermark >= to) return;
        const resumeAt = watermark && watermark > from ? watermark : from;
        await this.readWindows(session, this.slicer(resumeAt, to), 0, signal);
        this.metrics.lastSuccess.set(this.now() / 1000);
      });
      return true;
    } catch (error) {
      if (signal.aborted) return false;
      throw error;
    } finally {
      await this.endSession();
    }
  }

  /** The parts a wrapper (standby election) shares with the source. */
  get settings(): Pick<SourceOptions, "sink" | "logger"> {
    return this.options;
  }

  get stats(): Readonly<Progress> {
    return this.progress;
  }

  async close(): Promise<void> {
    await this.endSession();
    await this.decoder?.close();
  }

  private retrySessions(what: string, signal: AbortSignal, session: () => Promise<void>): Promise<void> {
    return retrySessions(session, {
      what,
      signal,
      metrics: this.metrics,
      health: this.health,
      logger: this.options.logger,
      maxBackoffMs: this.options.maxRestartBackoffMs ?? DEFAULT_MAX_RESTART_BACKOFF_MS,
      firstBackoffMs: this.options.firstRestartBackoffMs,
      onFailure: () => this.endSession(),
    });
  }

  private async openSession(
    identity: string,
    lookbackMs: number,
    start = this.unit.start,
  ): Promise<SinkSession> {
    if (this.session) return this.session;
    this.session = await this.options.sink.openSession({
      identity,
      transactionalId: transactionalIdOf(this.unit.topics.state, identity),
      topics: this.unit.topics,
      lookbackMs,
      start,
      metrics: this.metrics,
    });
    this.health.set("kafka", true);
    const state = this.session.state;
    if (!state.watermark) {
      // Fix a first run's start now, so that a start given as a duration ago stays where it was.
      await this.session.commit({ outputs: [], dlq: [], state: [state.checkpointRecord()] });
    }
    this.progress.start = state.start;
    this.progress.watermark = state.watermark;
    if (state.watermark) this.metrics.watermark.set(state.watermark.getTime() / 1000);
    this.metrics.dedupeIds.set(state.ids.size);
    return this.session;
  }

  private async endSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.close().catch(() => undefined);
  }

  /** Windows over `[from, to]` sized by the density this source saw last (WindowSlicer). */
  private slicer(from: Date, to: Date): WindowSlicer {
    return new WindowSlicer(from, to, { initialMs: this.options.sliceMs, density: this.density });
  }

  /**
   * Reads each window's pages into batches. A finished window's checkpoint (the watermark moved to
   * its end) is committed with the batch that holds its last rows: at once when no transaction is
   * in flight, else with the next one (full batches, or the poll's end), so that window ends do not
   * cut transactions short. One transaction is in flight while the next batch is fetched and
   * encoded; transactions commit one after another, in order.
   */
  private async readWindows(
    session: SinkSession,
    windows: WindowSlicer,
    lookbackMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const { logger } = this.options;
    const metrics = this.metrics;
    const graph = this.graph;
    const decoder = this.decoder!;
    const maxBatchRows = this.options.maxBatchRows ?? 5000;
    const tracker = session.state;
    const committer = new Committer(session, (tally) => this.countEncoded(tally));
    let batch = new BatchBuilder(tracker, this.now, this.recordHeaders, this.outputHeaders);
    // The checkpoint of the last finished window, until a transaction carries it.
    let checkpoint: { records: StateRecord[]; watermark: Date } | undefined;
    const commit = async () => {
      const committed = batch;
      const carried = checkpoint;
      batch = new BatchBuilder(tracker, this.now, this.recordHeaders, this.outputHeaders);
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
    const stream = this.unit.stream;
    // Pages fetched ahead and not yet taken: released when a split drops the windows ahead.
    const ahead = new Set<DecodedPage>();
    const fetchWindow = async function* (window: Window, fetchSignal: AbortSignal) {
      for await (const page of graph.decodedPages(
        stream.function,
        window.from,
        window.to,
        (body) => decoder.decode(body, { fromMs: window.from.getTime(), toMs: window.to.getTime() }),
        fetchSignal,
      )) {
        ahead.add(page);
        yield page;
      }
    };
    try {
      let split = true;
      while (split) {
        split = false;
        for (const page of ahead) decoder.release(page);
        ahead.clear();
        // Pages come in window order: the rows and pages Graph sent for the window being read.
        let windowRows = 0;
        let windowPages = 0;
        const pages = readAhead<DecodedPage>(windows, fetchWindow, {
          windows: READ_AHEAD_WINDOWS,
          pagesAhead: READ_AHEAD_PAGES,
          signal,
        });
        for await (const item of pages) {
          const window = item.window;
          if (item.kind === "page") {
            this.health.set("graph", true);
            const page = item.page;
            ahead.delete(page);
            windowRows += page.keys.length;
            windowPages++;
            const fresh = batch.select(page);
            this.countSelected(page.keys.length, page.keys.length - fresh.length);
            if (fresh.length === 0) decoder.release(page);
            else {
              const windowText = { from: window.from.toISOString(), to: window.to.toISOString() };
              batch.add(page, fresh, decoder.encode(page, fresh, windowText));
            }
            if (batch.size >= maxBatchRows) await commit();
            if (
              windowRows >= SPLIT_AFTER_ROWS &&
              page.nextLink !== undefined &&
              windows.split(window, windowRows)
            ) {
              // The rows read so far stay in the batch (dedupe drops them when read again); the
              // windows ahead are dropped, and the slicer starts again at this window's start.
              logger.info(
                { from: window.from, to: window.to, rows: windowRows, pages: windowPages },
                "a window holds more rows than the last one foretold: reading it again in shorter windows",
              );
              split = true;
              break;
            }
            continue;
          }
          windows.observe(window, windowRows);
          this.density = windows.density;
          windowRows = 0;
          windowPages = 0;
          const watermark =
            tracker.watermark && tracker.watermark > window.to ? tracker.watermark : window.to;
          const horizon = new Date(Math.max(tracker.start.getTime(), watermark.getTime() - lookbackMs));
          checkpoint = { records: tracker.advance(watermark, horizon), watermark };
          logger.debug({ from: window.from, to: window.to, watermark }, "window done");
          if (committer.idle) await commit();
        }
      }
      if (checkpoint || batch.size > 0) await commit();
      await committer.drain();
    } catch (error) {
      if (isPstnError(error) && error.code.startsWith("PSTN_GRAPH")) {
        this.health.set("graph", false);
        // Kafka is fine: what was read before Graph failed is committed, the checkpoint of the
        // windows that ended with it. Otherwise a window that always fails would hold back, for
        // ever, the rows batched after the last commit (a commit in flight at the previous
        // window's end defers its checkpoint to the next one).
        if (checkpoint || batch.size > 0) {
          await commit()
            .then(() => committer.drain())
            .catch(() => undefined);
        }
      }
      throw error;
    } finally {
      // A failure above ends the session: let the transaction in flight settle before it closes.
      await committer.drain().catch(() => undefined);
      // Pages read ahead but never reached, or reached and not encoded, are forgotten.
      decoder.releaseAll();
    }
  }

  private published(batch: BatchBuilder): void {
    this.metrics.rowsPublished.inc(batch.published);
    this.progress.published += batch.published;
    this.progress.deadLettered += batch.dlq.length;
    this.options.onProgress?.(this.progress);
  }

  private countSelected(fetched: number, duplicates: number): void {
    const metrics = this.metrics;
    metrics.rowsFetched.inc(fetched);
    if (duplicates > 0) metrics.rowsDuplicate.inc(duplicates);
    this.progress.fetched += fetched;
    this.progress.duplicates += duplicates;
  }

  private countEncoded(tally: EncodingTally): void {
    const metrics = this.metrics;
    if (tally.unknownProperties > 0) metrics.rowsUnknownProperties.inc(tally.unknownProperties);
    for (const reason of tally.deadReasons) metrics.rowsDeadLettered.inc({ reason: reasonLabel(reason) });
  }
}

/** Reasons read `<field>: ...`: the field is a bounded label. */
function reasonLabel(reason: string): string {
  const field = /^([A-Za-z]+)[:\s]/.exec(reason)?.[1];
  return field && field.length <= 40 ? field : "other";
}
