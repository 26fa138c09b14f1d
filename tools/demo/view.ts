import type { Metrics } from "../../src/metrics/index.js";
import type { Progress } from "../../src/pipeline/source.js";

/**
 * A row the demo read back from a data topic, with the fields its stream's line shows, and the
 * name of its tenant when several share the topics (the record's `pstn.tenant` header).
 */
export type DemoEvent = { tenant?: string } & (
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
    }
);

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

/** One tenant's line of the view, when the demo runs several tenants. */
export interface TenantView {
  /** Its name in the tenants file. */
  name: string;
  tenantId: string;
  /** Its streams' lines, in CONNECTOR_STREAMS order (summed on its line: combineStreams). */
  streams: readonly StreamView[];
  /** Its Graph requests in the last minute: each tenant has a budget of its own. */
  requestsLastMinute: number;
}

/**
 * One row as two outputs of a privacy policy wrote it, read back from both topics (read_committed)
 * and decoded with the registry's schema: the raw record and the SIEM one of the same id.
 */
export interface PrivacyPair {
  stream: string;
  /** Its tenant's name, when several share the topics. */
  tenant?: string;
  /** The row's id (both records' key). */
  id: string;
  topics: { raw: string; siem: string };
  /** Both rows in Graph's JSON form (decodedToGraphJson). */
  raw: Readonly<Record<string, unknown>>;
  siem: Readonly<Record<string, unknown>>;
  /** Each record's `pstn.policy.*` headers. */
  rawHeaders: Readonly<Record<string, string>>;
  siemHeaders: Readonly<Record<string, string>>;
  /** What the policy does to the fields it changes ("hash, country code kept", "drop", ...). */
  actions?: Readonly<Record<string, string>>;
}

/** The demo's privacy policy, when it runs with one (not --no-privacy). */
export interface PrivacyView {
  /** The policy file (PRIVACY_POLICY_FILE). */
  file: string;
  /** Its version (`pstn.policy.version`). */
  version: string;
  /** The id of the key the SIEM outputs hash with (its bytes are never shown). */
  keyId: string;
  /** One recent row raw and as the SIEM output wrote it; undefined until both are read back. */
  pair?: PrivacyPair;
}

export interface ViewState {
  header: string;
  /**
   * Where each stream's rows go: `stream -> topic`, in CONNECTOR_STREAMS order; `siem`, its SIEM
   * output's topic under the demo's privacy policy.
   */
  topics: ReadonlyArray<{ stream: string; topic: string; siem?: string }>;
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
  /**
   * With several tenants (demo --tenants): a line per tenant, its streams summed, above `streams`
   * (then each stream's totals over the tenants). Absent or empty: the one-tenant view.
   */
  tenants?: readonly TenantView[];
  /** Where the tenants come from (the demo's tenants file), shown with `tenants`. */
  tenantsFile?: string;
  /** The latest events, newest first (any stream order: the view groups them by stream). */
  events: readonly DemoEvent[];
  /** The privacy policy and a raw and a SIEM record of one row, side by side; absent: no policy. */
  privacy?: PrivacyView;
  now: number;
  logFile: string;
}

const number = new Intl.NumberFormat("en-US");

/** The demo's screen, as lines of text; the caller decides how to paint them. */
export function renderView(state: ViewState): string[] {
  if (state.tenants !== undefined && state.tenants.length > 0) return renderTenantsView(state, state.tenants);
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
  const lines = [state.header, `  topics: ${topicsLine(state)}`, "", `  ${head}`];
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
  if (state.privacy !== undefined) lines.push("", ...renderPrivacy(state.privacy));
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

/**
 * The screen with several tenants: a line per tenant (its streams summed, the watermark its slowest
 * stream's), then each stream's totals over the tenants and the grand total, the Graph budget of
 * each tenant, and the latest events with their tenant.
 */
function renderTenantsView(state: ViewState, tenants: readonly TenantView[]): string[] {
  const width = Math.max(
    "directRouting".length,
    ...tenants.map((t) => t.name.length),
    ...state.streams.map((s) => s.name.length),
  );
  const head = (first: string) =>
    `  ${[
      first.padEnd(width),
      "fetched".padStart(12),
      "published".padStart(12),
      "duplicates".padStart(12),
      "dead-letters".padStart(14),
      "rows/s".padStart(8),
      "Graph req".padStart(10),
      "req/min".padStart(9),
      "429".padStart(6),
      "  watermark (lag)",
    ].join("")}`;
  const row = (view: StreamView, requestsLastMinute: number | undefined) => {
    const { progress } = view;
    const watermark = progress.watermark;
    return `  ${[
      view.name.padEnd(width),
      pad(progress.fetched, 12),
      pad(progress.published, 12),
      pad(progress.duplicates, 12),
      pad(progress.deadLettered, 14),
      pad(Math.round(view.rowsPerSecond), 8),
      pad(view.graphRequests, 10),
      requestsLastMinute === undefined ? "".padStart(9) : pad(requestsLastMinute, 9),
      pad(view.throttled, 6),
      `  ${watermark ? `${watermark.toISOString()} (${formatLag(state.now - watermark.getTime())})` : "(first poll running)"}`,
    ].join("")}`;
  };
  const lines = [
    state.header,
    `  topics: ${topicsLine(state)} (the ${tenants.length} tenants share them; each record names its tenant in the header pstn.tenant)`,
    `  tenants: ${tenants.length}${state.tenantsFile ? ` from ${state.tenantsFile}` : ""}, each with a token and a Graph budget of its own`,
    "",
    head("tenant"),
  ];
  for (const tenant of tenants)
    lines.push(row(combineStreams(tenant.name, tenant.streams), tenant.requestsLastMinute));
  lines.push("", head("stream (all)"));
  for (const stream of state.streams) lines.push(row(stream, undefined));
  lines.push(row(combineStreams("total", state.streams), sum(tenants.map((t) => t.requestsLastMinute))));
  const { budget } = state;
  const requests = sum(Object.values(budget.graphByCode));
  const byCode = Object.entries(budget.graphByCode)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code}: ${number.format(count)}`)
    .join(", ");
  const busiest = [...tenants].sort((a, b) => b.requestsLastMinute - a.requestsLastMinute)[0];
  lines.push(
    "",
    `  Graph budget (one per tenant, ${number.format(budget.maxRequestsPerMinute)}/min each): busiest ${busiest?.name ?? "-"} ${number.format(busiest?.requestsLastMinute ?? 0)} requests in the last minute; all tenants ${number.format(budget.requestsLastMinute)}   429s ${number.format(budget.throttled)}`,
    `  Graph requests    ${number.format(requests)} (${byCode || "none yet"})    tokens issued ${number.format(state.tokensIssued)}    unknown properties ${number.format(state.unknownProperties)}`,
    "",
    "  latest events on the topics (read_committed, decoded with the registry's schema):",
  );
  const tenantWidth = Math.max(0, ...tenants.map((t) => t.name.length));
  const events = [...state.events].sort((a, b) => streamRank(state, a.stream) - streamRank(state, b.stream));
  if (events.length === 0) lines.push("    (waiting for the first committed transaction)");
  for (const event of events)
    lines.push(
      `    ${event.stream.padEnd(width)}  ${(event.tenant ?? "-").padEnd(tenantWidth)}  ${eventLine(event)}`,
    );
  if (state.privacy !== undefined) lines.push("", ...renderPrivacy(state.privacy));
  lines.push(
    "",
    `  logs: ${state.logFile}`,
    "  Ctrl-C stops the connector, the simulator and the stack it started.",
  );
  return lines;
}

/** The progress line printed every few seconds with several tenants, when stdout is not a terminal. */
export function renderTenantsProgressLine(state: {
  tenants: readonly TenantView[];
  budget: ViewState["budget"];
}): string {
  const tenants = state.tenants.map((tenant) => {
    const { progress, graphRequests } = combineStreams(tenant.name, tenant.streams);
    return (
      `${tenant.name}: published ${progress.published} duplicates ${progress.duplicates} ` +
      `requests ${graphRequests} watermark ${progress.watermark?.toISOString() ?? "-"}`
    );
  });
  const all = combineStreams(
    "all",
    state.tenants.flatMap((tenant) => tenant.streams),
  );
  return (
    `${tenants.join(" | ")} | all: fetched ${all.progress.fetched} published ${all.progress.published} ` +
    `duplicates ${all.progress.duplicates} dead-lettered ${all.progress.deadLettered}, ` +
    `Graph ${state.budget.requestsLastMinute} requests in the last minute, 429s ${state.budget.throttled}`
  );
}

/**
 * The lines printed on stop after the summary, one per tenant:
 * `demo: tenant <name> (<id>): published <n> (<stream> <n>, ...), ...`.
 */
export function renderTenantsSummary(tenants: readonly TenantView[], now: number): string[] {
  return tenants.map((tenant) => {
    const { progress, graphRequests, throttled } = combineStreams(tenant.name, tenant.streams);
    const watermark = progress.watermark;
    return (
      `demo: tenant ${tenant.name} (${tenant.tenantId}): published ${progress.published} ` +
      `(${tenant.streams.map((s) => `${s.name} ${s.progress.published}`).join(", ")}), ` +
      `duplicates dropped ${progress.duplicates}, dead-lettered ${progress.deadLettered}, ` +
      `Graph requests ${graphRequests} (429s ${throttled}), ` +
      `watermark ${watermark ? `${watermark.toISOString()} (lag ${formatLag(now - watermark.getTime())})` : "-"}`
    );
  });
}

/**
 * Several lines as one, under `name`: the counts summed, the watermark the oldest (none while any
 * has none: a first poll still running).
 */
export function combineStreams(name: string, views: readonly StreamView[]): StreamView {
  const total = (pick: (view: StreamView) => number) => sum(views.map(pick));
  return {
    name,
    progress: {
      start: oldest(views.map((view) => view.progress.start)),
      fetched: total((view) => view.progress.fetched),
      published: total((view) => view.progress.published),
      duplicates: total((view) => view.progress.duplicates),
      deadLettered: total((view) => view.progress.deadLettered),
      watermark: oldest(views.map((view) => view.progress.watermark)),
    },
    rowsPerSecond: total((view) => view.rowsPerSecond),
    graphRequests: total((view) => view.graphRequests),
    throttled: total((view) => view.throttled),
  };
}

/** Each stream's totals over the tenants, in the order the streams first come. */
export function streamTotals(tenants: readonly TenantView[]): StreamView[] {
  const names = [...new Set(tenants.flatMap((tenant) => tenant.streams.map((stream) => stream.name)))];
  return names.map((name) =>
    combineStreams(
      name,
      tenants.flatMap((tenant) => tenant.streams.filter((stream) => stream.name === name)),
    ),
  );
}

/** The oldest instant; undefined when there is none or any is undefined. */
function oldest(dates: ReadonlyArray<Date | undefined>): Date | undefined {
  let found: Date | undefined;
  for (const date of dates) {
    if (date === undefined) return undefined;
    if (found === undefined || date < found) found = date;
  }
  return found;
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

/** `stream -> topic` of each stream, with its SIEM output's topic under the demo's policy. */
function topicsLine(state: Pick<ViewState, "topics">): string {
  return state.topics
    .map(({ stream, topic, siem }) => `${stream} -> ${topic}${siem === undefined ? "" : ` + ${siem}`}`)
    .join(", ");
}

/** The longest value the side-by-side view shows in a column before cutting it with an ellipsis. */
const PAIR_CELL = 40;
const POLICY_HEADERS = ["pstn.policy.version", "pstn.policy.key"];

/**
 * The privacy section of the view: the policy, then one row raw next to the same row as its SIEM
 * output wrote it (renderPrivacyPair), or a line saying it is awaited.
 */
export function renderPrivacy(privacy: PrivacyView): string[] {
  return [
    `  privacy policy ${privacy.file} (version ${privacy.version}; hashing key ${privacy.keyId}, random for this run, never shown)`,
    "  each stream writes its topic raw and <topic>.siem pseudonymised, both in the same transactions",
    "  one event raw and as the SIEM output wrote it (both read back read_committed, decoded with the registry's schema):",
    ...(privacy.pair === undefined
      ? ["    (waiting for a row read back from both outputs)"]
      : renderPrivacyPair(privacy.pair)),
  ];
}

/**
 * One row as both outputs wrote it, a field per line: its id and start, each field the SIEM output
 * changed (`raw  →  siem`, and what the policy did), the records' policy headers, and how many
 * fields are alike. Tokens are cut to their key id and 8 hex digits with an ellipsis.
 */
export function renderPrivacyPair(pair: PrivacyPair): string[] {
  const changed = new Set(changedFields(pair));
  const context = ["id", "startDateTime", "sentDateTime"].filter(
    (name) => Object.hasOwn(pair.raw, name) && !changed.has(name),
  );
  const rows: Array<{ name: string; raw: string; siem: string; note: string }> = [];
  for (const name of [...context, ...changed])
    rows.push({
      name,
      raw: cell(pair.raw[name]),
      siem: cell(pair.siem[name]),
      note: changed.has(name) ? (pair.actions?.[name] ?? "") : "",
    });
  const headerNames = [
    ...new Set([...POLICY_HEADERS, ...Object.keys(pair.rawHeaders), ...Object.keys(pair.siemHeaders)]),
  ].filter((name) => pair.rawHeaders[name] !== undefined || pair.siemHeaders[name] !== undefined);
  for (const name of headerNames)
    rows.push({
      name: `header ${name}`,
      raw: cell(pair.rawHeaders[name] ?? "-"),
      siem: cell(pair.siemHeaders[name] ?? "-"),
      note: "",
    });
  const rawLabel = `${pair.topics.raw} (raw)`;
  const siemLabel = pair.topics.siem;
  const nameWidth = Math.max("field".length, ...rows.map((row) => row.name.length));
  const rawWidth = Math.max(rawLabel.length, ...rows.map((row) => row.raw.length));
  // The rows alike end with their value: only the changed ones (an action after) set the width.
  const siemWidth = Math.max(0, ...rows.filter((row) => row.raw !== row.siem).map((row) => row.siem.length));
  const alike =
    new Set([...Object.keys(pair.raw), ...Object.keys(pair.siem)]).size - changed.size - context.length;
  const line = (name: string, raw: string, mark: string, siem: string, note: string) =>
    `    ${name.padEnd(nameWidth)}  ${raw.padEnd(rawWidth)}  ${mark}  ${siem.padEnd(siemWidth)}  ${note}`.trimEnd();
  return [
    `    ${pair.stream} ${pair.id}${pair.tenant === undefined ? "" : ` (${pair.tenant})`}`,
    line("field", rawLabel, " ", siemLabel, ""),
    ...rows.map((row) => line(row.name, row.raw, row.raw === row.siem ? "=" : "→", row.siem, row.note)),
    `    (${alike} other field${alike === 1 ? "" : "s"} alike in both)`,
  ];
}

/** The fields whose values differ between the raw and the SIEM row, in the raw row's order. */
export function changedFields(pair: Pick<PrivacyPair, "raw" | "siem">): string[] {
  const names = [...new Set([...Object.keys(pair.raw), ...Object.keys(pair.siem)])];
  return names.filter(
    (name) => JSON.stringify(pair.raw[name] ?? null) !== JSON.stringify(pair.siem[name] ?? null),
  );
}

/**
 * A value as one cell of the side-by-side view: text as it is with each token (`k1:<64 hex>`) cut
 * to 8 hex digits and an ellipsis (empty text as `""`), null as `null`, the rest as JSON; at most
 * PAIR_CELL characters.
 */
export function cell(value: unknown): string {
  const text =
    value === null || value === undefined
      ? "null"
      : value === ""
        ? '""'
        : typeof value === "string"
          ? value
          : JSON.stringify(value);
  const short = text.replace(
    /\b([A-Za-z0-9][A-Za-z0-9._-]{0,31}):([0-9a-f]{64})\b/g,
    (_, id: string, hex: string) => `${id}:${hex.slice(0, 8)}…`,
  );
  return short.length > PAIR_CELL ? `${short.slice(0, PAIR_CELL - 1)}…` : short;
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

/** The counters of one tenant (the `tenant` label), when several share the process. */
export interface TenantCounters {
  /** Its streams, by the `stream` label. */
  streams: Record<string, StreamCounters>;
  graphRequests: number;
  throttled: number;
  tokensIssued: number;
}

export interface Counters {
  /** Per stream, by the `stream` label (every tenant's together). */
  streams: Record<string, StreamCounters>;
  /** Per tenant, by the `tenant` label; "" for series without one (a single tenant). */
  tenants: Record<string, TenantCounters>;
  /** Across the streams. */
  graphByCode: Record<string, number>;
  graphRequests: number;
  throttled: number;
  unknownProperties: number;
  /** Tokens are the tenant's, not a stream's: every tenant's. */
  tokensIssued: number;
}

/** Reads the counters the view shows from the metrics registry: per stream, and their totals. */
export async function readCounters(metrics: Metrics): Promise<Counters> {
  const counters: Counters = {
    streams: {},
    tenants: {},
    graphByCode: {},
    graphRequests: 0,
    throttled: 0,
    unknownProperties: 0,
    tokensIssued: 0,
  };
  const streamOf = (streams: Record<string, StreamCounters>, stream: unknown): StreamCounters => {
    const name = String(stream);
    let found = streams[name];
    if (found === undefined) {
      found = { graphByCode: {}, graphRequests: 0, throttled: 0, unknownProperties: 0 };
      streams[name] = found;
    }
    return found;
  };
  const tenantOf = (tenant: unknown): TenantCounters => {
    const id = tenant === undefined ? "" : String(tenant);
    let found = counters.tenants[id];
    if (found === undefined) {
      found = { streams: {}, graphRequests: 0, throttled: 0, tokensIssued: 0 };
      counters.tenants[id] = found;
    }
    return found;
  };
  for (const { labels, value } of (await metrics.graphRequests.get()).values) {
    const code = String(labels.code);
    const tenant = tenantOf(labels.tenant);
    for (const stream of [
      streamOf(counters.streams, labels.stream),
      streamOf(tenant.streams, labels.stream),
    ]) {
      stream.graphByCode[code] = (stream.graphByCode[code] ?? 0) + value;
      stream.graphRequests += value;
    }
    tenant.graphRequests += value;
    counters.graphByCode[code] = (counters.graphByCode[code] ?? 0) + value;
    counters.graphRequests += value;
  }
  for (const { labels, value } of (await metrics.graphThrottled.get()).values) {
    const tenant = tenantOf(labels.tenant);
    streamOf(counters.streams, labels.stream).throttled += value;
    streamOf(tenant.streams, labels.stream).throttled += value;
    tenant.throttled += value;
    counters.throttled += value;
  }
  for (const { labels, value } of (await metrics.rowsUnknownProperties.get()).values) {
    streamOf(counters.streams, labels.stream).unknownProperties += value;
    streamOf(tenantOf(labels.tenant).streams, labels.stream).unknownProperties += value;
    counters.unknownProperties += value;
  }
  for (const { labels, value } of (await metrics.tokenRequests.get()).values) {
    if (labels.outcome !== "issued") continue;
    tenantOf(labels.tenant).tokensIssued += value;
    counters.tokensIssued += value;
  }
  return counters;
}
