import type { Metrics } from "../../src/metrics/index.js";
import type { Progress } from "../../src/pipeline/source.js";

/** A row the demo read back from a data topic, with the fields its stream's line shows. */
export type DemoEvent =
  | {
      stream: "pstn";
      id: string;
      at: string;
      callType: string;
      callerNumber: string;
      calleeNumber: string;
      duration: string;
      charge: string;
    }
  | {
      stream: "directRouting";
      id: string;
      at: string;
      callerNumber: string;
      calleeNumber: string;
      finalSipCode: string;
      trunk: string;
    }
  | {
      stream: "sms";
      id: string;
      at: string;
      smsType: string;
      sourceNumber: string;
      destinationNumber: string;
      callCharge: string;
    };

/** One stream's line of the view. */
export interface StreamView {
  /** The stream's name (CONNECTOR_STREAMS). */
  name: string;
  progress: Progress;
  rowsPerSecond: number;
  /** Graph requests of this stream, all answers (429s and 503s included). */
  graphRequests: number;
  /** This stream's 429s. */
  throttled: number;
}

export interface ViewState {
  header: string;
  /** Where each stream's rows go: `stream -> topic`, in CONNECTOR_STREAMS order. */
  topics: ReadonlyArray<{ stream: string; topic: string }>;
  streams: readonly StreamView[];
  /** The Graph budget all streams share (one per tenant). */
  budget: {
    /** Requests in the last minute, all streams together (inLastMinute). */
    requestsLastMinute: number;
    /** GRAPH_MAX_REQUESTS_PER_MINUTE. */
    maxRequestsPerMinute: number;
    /** Requests since start-up, all streams, by HTTP status. */
    graphByCode: Record<string, number>;
    /** 429s since start-up, all streams. */
    throttled: number;
  };
  tokensIssued: number;
  unknownProperties: number;
  /** The latest events, newest first (any stream order: the view groups them by stream). */
  events: readonly DemoEvent[];
  now: number;
  logFile: string;
}

const number = new Intl.NumberFormat("en-US");

/** The demo's screen, as lines of text; the caller decides how to paint them. */
export function renderView(state: ViewState): string[] {
  const width = Math.max(6, ...state.streams.map((s) => s.name.length));
  const head = [
    "stream".padEnd(width),
    "fetched".padStart(12),
    "published".padStart(12),
    "duplicates".padStart(12),
    "dead-letters".padStart(14),
    "rows/s".padStart(8),
    "Graph req".padStart(10),
    "429".padStart(6),
    "  watermark (lag)",
  ].join("");
  const lines = [
    state.header,
    `  topics: ${state.topics.map(({ stream, topic }) => `${stream} -> ${topic}`).join(", ")}`,
    "",
    `  ${head}`,
  ];
  for (const stream of state.streams) {
    const { progress } = stream;
    const watermark = progress.watermark;
    lines.push(
      `  ${[
        stream.name.padEnd(width),
        pad(progress.fetched, 12),
        pad(progress.published, 12),
        pad(progress.duplicates, 12),
        pad(progress.deadLettered, 14),
        pad(Math.round(stream.rowsPerSecond), 8),
        pad(stream.graphRequests, 10),
        pad(stream.throttled, 6),
        `  ${watermark ? `${watermark.toISOString()} (${formatLag(state.now - watermark.getTime())})` : "(first poll running)"}`,
      ].join("")}`,
    );
  }
  const { budget } = state;
  const requests = sum(Object.values(budget.graphByCode));
  const byCode = Object.entries(budget.graphByCode)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code}: ${number.format(count)}`)
    .join(", ");
  lines.push(
    "",
    `  Graph budget (one for all streams): ${number.format(budget.requestsLastMinute)} requests in the last minute of ${number.format(budget.maxRequestsPerMinute)}/min   429s ${number.format(budget.throttled)}`,
    `  Graph requests    ${number.format(requests)} (${byCode || "none yet"})    tokens issued ${number.format(state.tokensIssued)}    unknown properties ${number.format(state.unknownProperties)}`,
    "",
    "  latest events on the topics (read_committed, decoded with the registry's schema):",
  );
  const events = [...state.events].sort((a, b) => streamRank(state, a.stream) - streamRank(state, b.stream));
  if (events.length === 0) lines.push("    (waiting for the first committed transaction)");
  for (const event of events) lines.push(`    ${event.stream.padEnd(width)}  ${eventLine(event)}`);
  lines.push(
    "",
    `  logs: ${state.logFile}`,
    "  Ctrl-C stops the connector, the simulator and the stack it started.",
  );
  return lines;
}

/** The progress line printed every few seconds when stdout is not a terminal. */
export function renderProgressLine(state: Pick<ViewState, "streams" | "budget">): string {
  const streams = state.streams.map(
    ({ name, progress }) =>
      `${name}: fetched ${progress.fetched} published ${progress.published} duplicates ${progress.duplicates} ` +
      `dead-lettered ${progress.deadLettered} watermark ${progress.watermark?.toISOString() ?? "-"}`,
  );
  const { budget } = state;
  return `${streams.join(" | ")} | Graph ${budget.requestsLastMinute} requests in the last minute of ${budget.maxRequestsPerMinute}/min, 429s ${budget.throttled}`;
}

/**
 * The line printed on stop: `published <total> (<stream> <n>, ...)`, then the rest, totals across
 * the streams unless per stream.
 */
export function renderSummary(state: {
  streams: ReadonlyArray<{ name: string; progress: Progress }>;
  graphByCode: Record<string, number>;
  logFile: string;
}): string {
  const total = (pick: (progress: Progress) => number) =>
    sum(state.streams.map(({ progress }) => pick(progress)));
  const perStream = (format: (progress: Progress) => string) =>
    state.streams.map(({ name, progress }) => `${name} ${format(progress)}`).join(", ");
  return (
    `demo: stopped. fetched ${total((p) => p.fetched)}, ` +
    `published ${total((p) => p.published)} (${perStream((p) => String(p.published))}), ` +
    `duplicates dropped ${total((p) => p.duplicates)}, dead-lettered ${total((p) => p.deadLettered)}, ` +
    `Graph requests ${JSON.stringify(state.graphByCode)}, ` +
    `watermark ${perStream((p) => p.watermark?.toISOString() ?? "-")}; logs in ${state.logFile}`
  );
}

function eventLine(event: DemoEvent): string {
  const head = `${event.id.slice(0, 8)}  ${event.at}`;
  switch (event.stream) {
    case "pstn":
      return `${head}  ${event.callType.padEnd(9)} ${event.callerNumber} -> ${event.calleeNumber}  ${event.duration.padStart(5)} s  ${event.charge}`;
    case "directRouting":
      return `${head}  ${event.callerNumber} -> ${event.calleeNumber}  SIP ${event.finalSipCode}  ${event.trunk}`;
    case "sms":
      return `${head}  ${event.sourceNumber} -> ${event.destinationNumber}  ${event.smsType}  ${event.callCharge}`;
  }
}

function streamRank(state: Pick<ViewState, "streams">, stream: string): number {
  const index = state.streams.findIndex((s) => s.name === stream);
  return index === -1 ? state.streams.length : index;
}

/**
 * The event of a row read back from `stream`'s topic (in Graph's JSON form, decodedToGraphJson);
 * undefined for a stream the view does not know.
 */
export function eventOf(stream: string, row: Record<string, unknown>): DemoEvent | undefined {
  const text = (value: unknown) => (value === null || value === undefined ? "-" : String(value));
  const money = (amount: unknown, currency: unknown) =>
    amount === null || amount === undefined ? "-" : `${amount} ${text(currency)}`;
  const id = text(row.id);
  switch (stream) {
    case "pstn":
      return {
        stream,
        id,
        at: text(row.startDateTime),
        callType: text(row.callType),
        callerNumber: text(row.callerNumber),
        calleeNumber: text(row.calleeNumber),
        duration: text(row.duration),
        charge: money(row.charge, row.currency),
      };
    case "directRouting":
      return {
        stream,
        id,
        at: text(row.startDateTime),
        callerNumber: text(row.callerNumber),
        calleeNumber: text(row.calleeNumber),
        finalSipCode: text(row.finalSipCode),
        trunk: text(row.trunkFullyQualifiedDomainName),
      };
    case "sms":
      return {
        stream,
        id,
        at: text(row.sentDateTime),
        smsType: text(row.smsType),
        sourceNumber: text(row.sourceNumber),
        destinationNumber: text(row.destinationNumber),
        callCharge: money(row.callCharge, row.currency),
      };
    default:
      return undefined;
  }
}

/** `events` with `event` in front, keeping the newest `perStream` of each stream. */
export function withEvent(events: readonly DemoEvent[], event: DemoEvent, perStream: number): DemoEvent[] {
  const kept: DemoEvent[] = [];
  const counts = new Map<string, number>();
  for (const e of [event, ...events]) {
    const count = counts.get(e.stream) ?? 0;
    if (count >= perStream) continue;
    counts.set(e.stream, count + 1);
    kept.push(e);
  }
  return kept;
}

/**
 * The increase of a running total over the minute before `now`, from its samples ({at, total},
 * oldest first): from the newest sample a minute old or older (the oldest one during the first
 * minute) to the newest. Not scaled: a burst at start-up does not read as a rate above the budget.
 */
export function inLastMinute(samples: ReadonlyArray<{ at: number; total: number }>, now: number): number {
  const last = samples[samples.length - 1];
  if (!last) return 0;
  let from = samples[0] ?? last;
  for (const sample of samples) if (sample.at <= now - 60_000) from = sample;
  return last.total - from.total;
}

/** "6 s", "4 min 12 s", "70 d 1 h": the two largest units. */
export function formatLag(ms: number): string {
  let seconds = Math.max(0, Math.round(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ] as const) {
    if (seconds >= size || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(seconds / size)} ${unit}`);
      seconds %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}

function pad(value: number, width: number): string {
  return number.format(value).padStart(width);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The counters of one stream the view shows. */
export interface StreamCounters {
  graphByCode: Record<string, number>;
  graphRequests: number;
  throttled: number;
  unknownProperties: number;
}

export interface Counters {
  /** Per stream, by the `stream` label. */
  streams: Record<string, StreamCounters>;
  /** Across the streams. */
  graphByCode: Record<string, number>;
  graphRequests: number;
  throttled: number;
  unknownProperties: number;
  /** Tokens are the tenant's, not a stream's. */
  tokensIssued: number;
}

/** Reads the counters the view shows from the metrics registry: per stream, and their totals. */
export async function readCounters(metrics: Metrics): Promise<Counters> {
  const counters: Counters = {
    streams: {},
    graphByCode: {},
    graphRequests: 0,
    throttled: 0,
    unknownProperties: 0,
    tokensIssued: 0,
  };
  const of = (stream: unknown): StreamCounters => {
    const name = String(stream);
    let found = counters.streams[name];
    if (found === undefined) {
      found = { graphByCode: {}, graphRequests: 0, throttled: 0, unknownProperties: 0 };
      counters.streams[name] = found;
    }
    return found;
  };
  for (const { labels, value } of (await metrics.graphRequests.get()).values) {
    const code = String(labels.code);
    const stream = of(labels.stream);
    stream.graphByCode[code] = (stream.graphByCode[code] ?? 0) + value;
    stream.graphRequests += value;
    counters.graphByCode[code] = (counters.graphByCode[code] ?? 0) + value;
    counters.graphRequests += value;
  }
  for (const { labels, value } of (await metrics.graphThrottled.get()).values) {
    of(labels.stream).throttled += value;
    counters.throttled += value;
  }
  for (const { labels, value } of (await metrics.rowsUnknownProperties.get()).values) {
    of(labels.stream).unknownProperties += value;
    counters.unknownProperties += value;
  }
  counters.tokensIssued =
    (await metrics.tokenRequests.get()).values.find((v) => v.labels.outcome === "issued")?.value ?? 0;
  return counters;
}
