/**
 * The simulated call-log streams, one entry each: the Graph function that serves it, the versions
 * that know the function, the type its pages name, whether `toDateTime` is in the window, and what
 * its rows are. The endpoint and the store read these instead of branching on the function.
 */
import {
  buildDirectRoutingRow,
  type DirectRoutingRow,
  directRoutingRowId,
  serializeDirectRoutingRow,
  v1DirectRoutingRow,
} from "./direct-routing-rows.js";
import { buildRow, rowId, type SimulatedRow, serializePlainRow, serializeRow, v1Row } from "./rows.js";
import { buildSmsRow, type SmsRow, serializeSmsRow, smsRowId } from "./sms-rows.js";
import type { RowKind, RowStore } from "./store.js";

export type GraphVersion = "v1.0" | "beta";

export interface SimulatedStream<R> {
  readonly name: StreamName;
  /** The function under /communications/callRecords/. */
  readonly functionName: string;
  /** The row type `@odata.context` names (microsoft.graph.callRecords.<type>). */
  readonly rowType: string;
  readonly versions: readonly GraphVersion[];
  /** Whether a row that starts exactly at `toDateTime` is in the window; `fromDateTime` always is. */
  readonly toInclusive: boolean;
  /** The property rows are selected by. */
  readonly startField: string;
  readonly kind: RowKind<R>;
}

export type StreamName = "pstn" | "directRouting" | "sms";

/** The row type of each stream. */
export interface StreamRows {
  pstn: SimulatedRow;
  directRouting: DirectRoutingRow;
  sms: SmsRow;
}

/** A store per stream. */
export type StreamStores = { readonly [N in StreamName]: RowStore<StreamRows[N]> };

const PSTN_KIND: RowKind<SimulatedRow> = {
  // The salts PSTN rows were first drawn with: its rows stay what they were.
  bucketSalt: 0xb0c,
  thinSalt: 0x7417,
  id: rowId,
  build: buildRow,
  json: (row, beta, plain) => (plain ? serializePlainRow(row, beta) : serializeRow(row, beta)),
  served: (row, beta) => (beta ? row : v1Row(row)),
};

const DIRECT_ROUTING_KIND: RowKind<DirectRoutingRow> = {
  bucketSalt: 0xd0c,
  thinSalt: 0xd417,
  id: directRoutingRowId,
  build: buildDirectRoutingRow,
  json: (row, beta) => serializeDirectRoutingRow(row, beta),
  served: (row, beta) => (beta ? row : v1DirectRoutingRow(row)),
};

const SMS_KIND: RowKind<SmsRow> = {
  bucketSalt: 0x50c,
  thinSalt: 0x5417,
  id: smsRowId,
  build: buildSmsRow,
  json: (row) => serializeSmsRow(row),
  served: (row) => row,
};

export const STREAMS: { readonly [N in StreamName]: SimulatedStream<StreamRows[N]> } = {
  pstn: {
    name: "pstn",
    functionName: "getPstnCalls",
    rowType: "pstnCallLogRow",
    versions: ["v1.0", "beta"],
    toInclusive: true,
    startField: "startDateTime",
    kind: PSTN_KIND,
  },
  directRouting: {
    name: "directRouting",
    functionName: "getDirectRoutingCalls",
    rowType: "directRoutingLogRow",
    versions: ["v1.0", "beta"],
    toInclusive: false,
    startField: "startDateTime",
    kind: DIRECT_ROUTING_KIND,
  },
  sms: {
    name: "sms",
    functionName: "getSmsLog",
    rowType: "smsLogRow",
    versions: ["beta"],
    toInclusive: true,
    startField: "sentDateTime",
    kind: SMS_KIND,
  },
};

export const STREAM_NAMES = Object.keys(STREAMS) as StreamName[];

/** The stream a function name (any case, as Graph matches it) belongs to. */
export function streamOfFunction(name: string): SimulatedStream<StreamRows[StreamName]> | undefined {
  const lower = name.toLowerCase();
  return STREAM_NAMES.map((n) => STREAMS[n] as SimulatedStream<StreamRows[StreamName]>).find(
    (stream) => stream.functionName.toLowerCase() === lower,
  );
}

/** Whether `version` (any case) serves the stream's function. */
export function servesVersion(stream: SimulatedStream<unknown>, version: string): boolean {
  return stream.versions.some((v) => v.toLowerCase() === version.toLowerCase());
}
