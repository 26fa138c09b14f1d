import type { Metrics } from "../../src/metrics/index.js";
import type { Progress } from "../../src/pipeline/source.js";

export interface DemoEvent {
  id: string;
  startDateTime: string;
  callType: string;
  callerNumber: string;
  calleeNumber: string;
  duration: string;
  charge: string;
}

export interface ViewState {
  header: string;
  progress: Progress;
  graphByCode: Record<string, number>;
  throttled: number;
  tokensIssued: number;
  unknownProperties: number;
  rowsPerSecond: number;
  events: readonly DemoEvent[];
  now: number;
  logFile: string;
}

const number = new Intl.NumberFormat("en-US");

/** The demo's screen, as lines of text; the caller decides how to paint them. */
export function renderView(state: ViewState): string[] {
  const { progress } = state;
  const watermark = progress.watermark;
  const lag = watermark ? formatLag(state.now - watermark.getTime()) : "-";
  const requests = Object.values(state.graphByCode).reduce((a, b) => a + b, 0);
  const byCode = Object.entries(state.graphByCode)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code}: ${number.format(count)}`)
    .join(", ");
  const lines = [
    state.header,
    "",
    `  rows fetched      ${pad(progress.fetched)}    rows/s             ${pad(Math.round(state.rowsPerSecond))}`,
    `  rows published    ${pad(progress.published)}    duplicates dropped ${pad(progress.duplicates)}`,
    `  dead-lettered     ${pad(progress.deadLettered)}    unknown properties ${pad(state.unknownProperties)}`,
    `  watermark         ${watermark ? watermark.toISOString() : "(first poll running)"}   lag ${lag}`,
    `  Graph requests    ${number.format(requests)} (${byCode || "none yet"})`,
    `  throttled (429)   ${number.format(state.throttled)}    tokens issued ${number.format(state.tokensIssued)}`,
    "",
    "  latest events on the topic (read_committed, decoded with the registry's schema):",
  ];
  if (state.events.length === 0) lines.push("    (waiting for the first committed transaction)");
  for (const event of state.events) {
    lines.push(
      `    ${event.id.slice(0, 8)}  ${event.startDateTime}  ${event.callType.padEnd(9)} ${event.callerNumber} -> ${event.calleeNumber}  ${event.duration.padStart(5)} s  ${event.charge}`,
    );
  }
  lines.push(
    "",
    `  logs: ${state.logFile}`,
    "  Ctrl-C stops the connector, the simulator and the stack it started.",
  );
  return lines;
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

function pad(value: number): string {
  return number.format(value).padStart(10);
}

/** Reads the counters the view shows from the metrics registry. */
export async function readCounters(metrics: Metrics): Promise<{
  graphByCode: Record<string, number>;
  throttled: number;
  tokensIssued: number;
  unknownProperties: number;
}> {
  const graphByCode: Record<string, number> = {};
  for (const value of (await metrics.graphRequests.get()).values) {
    graphByCode[String(value.labels.code)] = value.value;
  }
  const tokens =
    (await metrics.tokenRequests.get()).values.find((v) => v.labels.outcome === "issued")?.value ?? 0;
  return {
    graphByCode,
    throttled: (await metrics.graphThrottled.get()).values[0]?.value ?? 0,
    tokensIssued: tokens,
    unknownProperties: (await metrics.rowsUnknownProperties.get()).values[0]?.value ?? 0,
  };
}
