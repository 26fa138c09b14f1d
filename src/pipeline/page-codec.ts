/**
 * The CPU-heavy half of the pipeline, free of any state that must stay on the main thread: a
 * page's body → rows, their dedupe keys and start hours; chosen rows → wire-format Avro values or
 * dead letters. The main thread decides which rows are new (the dedupe set is its own, rebuilt
 * from Kafka with each session); this runs in a worker thread (page-decoder.ts) or inline.
 */
import { createHash } from "node:crypto";
import { isoToMicros, type RowCodec } from "../avro/index.js";
import { parseCallLogPage } from "../graph/body.js";

/** A page as the main thread needs it to dedupe: one key and one start per row. */
export interface PageKeys {
  nextLink: string | undefined;
  /** The row's id; `sha256:<hash of its content>` when it has none. */
  keys: string[];
  /**
   * The row's start in ms (the dedupe hour), or NaN when it has no usable id and start time: then
   * it is remembered under the hour it was seen, and looked for in every hour.
   */
  starts: Float64Array;
}

export interface DecodedRows extends PageKeys {
  rows: Record<string, unknown>[];
}

export function decodePage(body: string | Uint8Array): DecodedRows {
  const text = typeof body === "string" ? body : UTF8.decode(body);
  const { rows, nextLink } = parseCallLogPage(text);
  const keys: string[] = new Array(rows.length);
  const starts = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>;
    const id = row.id;
    const start = row.startDateTime;
    const startMicros = typeof start === "string" ? isoToMicros(start) : undefined;
    const hasId = typeof id === "string" && id !== "";
    keys[i] = hasId ? id : `sha256:${contentHash(row)}`;
    starts[i] = hasId && startMicros !== undefined ? Math.floor(startMicros / 1000) : Number.NaN;
  }
  return { rows, nextLink, keys, starts };
}

const UTF8 = new TextDecoder("utf-8", { fatal: false });

function contentHash(row: Record<string, unknown>): string {
  return createHash("sha256").update(JSON.stringify(row)).digest("hex").slice(0, 32);
}

/** Confluent wire format's header: magic byte 0, then the schema id (4 bytes, big-endian). */
export function wireHeader(schemaId: number): Uint8Array {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(schemaId, 1);
  return header;
}

export interface DeadRow {
  /** Position in the `indexes` asked for. */
  at: number;
  reason: string;
  /** The dead-letter topic's value: the reason, the row as Graph sent it, the window. */
  value: string;
}

/** The chosen rows encoded: values back to back in one buffer (one transfer from a worker). */
export interface EncodedRows {
  buffer: ArrayBuffer;
  /** Per asked-for row, where its value ends in `buffer` (it begins where the previous one ended). */
  ends: Uint32Array;
  /** Rows that cannot be carried; their `ends` entry repeats the previous end (no bytes). */
  dead: DeadRow[];
  unknownProperties: number;
}

export interface WindowText {
  from: string;
  to: string;
}

/** Encodes `rows[indexes[i]]` after `header`, in that order; a row that cannot be encoded is a dead letter. */
export function encodeRows(
  codec: RowCodec,
  header: Uint8Array,
  rows: readonly Record<string, unknown>[],
  indexes: ArrayLike<number>,
  window: WindowText,
): EncodedRows {
  const values: Buffer[] = [];
  const ends = new Uint32Array(indexes.length);
  const dead: DeadRow[] = [];
  let unknownProperties = 0;
  let length = 0;
  for (let at = 0; at < indexes.length; at++) {
    const row = rows[indexes[at] as number] as Record<string, unknown>;
    const encoded = codec.encode(row, header);
    if (encoded.ok) {
      unknownProperties += encoded.unknownProperties;
      values.push(encoded.value);
      length += encoded.value.length;
    } else {
      dead.push({ at, reason: encoded.reason, value: deadLetterValue(row, encoded.reason, window) });
    }
    ends[at] = length;
  }
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const value of values) {
    joined.set(value, offset);
    offset += value.length;
  }
  return { buffer: joined.buffer, ends, dead, unknownProperties };
}

function deadLetterValue(row: Record<string, unknown>, reason: string, window: WindowText): string {
  return JSON.stringify({ reason, row, window, deadLetteredAt: new Date().toISOString() });
}
