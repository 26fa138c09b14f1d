/**
 * The CPU-heavy half of the pipeline, free of any state that must stay on the main thread: a
 * page's body → rows, their dedupe keys and start hours; chosen rows → wire-format Avro values or
 * dead letters. The main thread decides which rows are new (the dedupe set is its own, rebuilt
 * from Kafka with each session); this runs in a worker thread (page-decoder.ts) or inline.
 */
import { createHash } from "node:crypto";
import { decimalFields, isoToMicros, MAX_ID_LENGTH, type RowCodec, rowSchema } from "../avro/index.js";
import { type MoneyKeys, moneyKeys, parseCallLogPage } from "../graph/body.js";
import type { RowTransform } from "../privacy/policy.js";
import { STREAMS, type StreamDefinition } from "../streams/index.js";

/** What the engine reads of a stream's rows itself: key, start, and the schema naming its money. */
export type RowFields = Pick<StreamDefinition, "keyField" | "startField" | "schemaFile">;

/** Each schema's money (its decimal fields), compiled for the body's scan once. */
const moneyBySchema = new Map<string, MoneyKeys>();

function moneyKeysOf(fields: RowFields): MoneyKeys {
  let money = moneyBySchema.get(fields.schemaFile);
  if (money === undefined) {
    money = moneyKeys(decimalFields(rowSchema(fields.schemaFile).schema));
    moneyBySchema.set(fields.schemaFile, money);
  }
  return money;
}

/** A page as the main thread needs it to dedupe: one key and one start per row. */
export interface PageKeys {
  nextLink: string | undefined;
  /** The row's id; `sha256:<hash of its content>` when it has none. */
  keys: string[];
  /**
   * The row's start in ms (the dedupe hour), or NaN when it has no usable id and start time: then
   * it is remembered under the hour it was seen, and looked for in every hour. A start outside
   * the window asked for (beyond ROW_START_SLACK_MS) is not usable: its hour may be one the dedupe
   * does not keep (long past) or would keep for ever (far ahead).
   */
  starts: Float64Array;
}

/** The window a page was asked for, in ms. */
export interface WindowBounds {
  fromMs: number;
  toMs: number;
}

/**
 * How far a row's start may lie outside the window asked for (Graph selects rows by start time):
 * clocks and rounding, not a row of another window.
 */
export const ROW_START_SLACK_MS = 3_600_000;

/** Why a row's start (in ms) is refused for `window`, or undefined when it belongs there. */
export function startOutsideWindow(startMs: number, window: WindowBounds): string | undefined {
  if (startMs < window.fromMs - ROW_START_SLACK_MS) return "more than 1 h before the window asked for";
  if (startMs > window.toMs + ROW_START_SLACK_MS) return "more than 1 h after the window asked for";
  return undefined;
}

export interface DecodedRows extends PageKeys {
  rows: Record<string, unknown>[];
}

/**
 * A body → rows, keys and starts. With `window`, a row whose start lies outside it is keyed as
 * having no usable start (encodeRows dead-letters it); an id longer than MAX_ID_LENGTH is keyed by
 * its hash, so that the dedupe state never holds it (the codec dead-letters it).
 */
export function decodePage(
  body: string | Uint8Array,
  window?: WindowBounds,
  fields: RowFields = STREAMS.pstn,
): DecodedRows {
  const text = typeof body === "string" ? body : UTF8.decode(body);
  const { rows, nextLink } = parseCallLogPage(text, moneyKeysOf(fields));
  const keys: string[] = new Array(rows.length);
  const starts = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>;
    const id = row[fields.keyField];
    const start = row[fields.startField];
    const startMicros = typeof start === "string" ? isoToMicros(start) : undefined;
    const startMs = startMicros === undefined ? Number.NaN : Math.floor(startMicros / 1000);
    const hasId = typeof id === "string" && id !== "" && id.length <= MAX_ID_LENGTH;
    if (hasId) keys[i] = id;
    else if (typeof id === "string" && id !== "") keys[i] = `sha256:${textHash(id)}`;
    else keys[i] = `sha256:${contentHash(row)}`;
    const inWindow = window === undefined || startOutsideWindow(startMs, window) === undefined;
    starts[i] = hasId && inWindow ? startMs : Number.NaN;
  }
  return { rows, nextLink, keys, starts };
}

const UTF8 = new TextDecoder("utf-8", { fatal: false });

function contentHash(row: Record<string, unknown>): string {
  return textHash(JSON.stringify(row));
}

function textHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 32);
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

/** One output's values of the chosen rows, back to back in one buffer (one transfer from a worker). */
export interface EncodedValues {
  buffer: ArrayBuffer;
  /** Per asked-for row, where its value ends in `buffer` (it begins where the previous one ended). */
  ends: Uint32Array;
}

/** The chosen rows encoded for each output, in the order of the outputs. */
export interface EncodedRows {
  outputs: EncodedValues[];
  /** Rows that cannot be carried (in any output); their `ends` entries repeat the previous end. */
  dead: DeadRow[];
  unknownProperties: number;
}

/** How one output writes a row: its schema's wire header, and what its policy does to the row first. */
export interface OutputEncoder {
  header: Uint8Array;
  transform?: RowTransform;
}

export interface WindowText {
  from: string;
  to: string;
}

/**
 * Encodes `rows[indexes[i]]` for each output, in that order; a row that cannot be encoded for any
 * of them, or whose start lies outside `window` (see startOutsideWindow), is a dead letter, in
 * none of the outputs: every output holds the same rows.
 */
export function encodeRows(
  codec: RowCodec,
  outputs: readonly OutputEncoder[],
  rows: readonly Record<string, unknown>[],
  indexes: ArrayLike<number>,
  window: WindowText,
  fields: RowFields = STREAMS.pstn,
): EncodedRows {
  const values: Buffer[][] = outputs.map(() => []);
  const ends = outputs.map(() => new Uint32Array(indexes.length));
  const lengths = outputs.map(() => 0);
  const rowValues: Buffer[] = new Array(outputs.length);
  const dead: DeadRow[] = [];
  let unknownProperties = 0;
  const bounds: WindowBounds = { fromMs: Date.parse(window.from), toMs: Date.parse(window.to) };
  const checkWindow = Number.isFinite(bounds.fromMs) && Number.isFinite(bounds.toMs);
  for (let at = 0; at < indexes.length; at++) {
    const row = rows[indexes[at] as number] as Record<string, unknown>;
    let failure = checkWindow ? misplacedStart(row, bounds, fields.startField) : undefined;
    for (let output = 0; failure === undefined && output < outputs.length; output++) {
      const { header, transform } = outputs[output] as OutputEncoder;
      const encoded = codec.encode(transform === undefined ? row : transform(row), header);
      if (!encoded.ok) failure = encoded;
      else {
        // Unknown properties are the row's, not an output's: counted once.
        if (output === 0) unknownProperties += encoded.unknownProperties;
        rowValues[output] = encoded.value;
      }
    }
    if (failure === undefined) {
      for (let output = 0; output < outputs.length; output++) {
        const value = rowValues[output] as Buffer;
        (values[output] as Buffer[]).push(value);
        lengths[output] = (lengths[output] as number) + value.length;
      }
    } else {
      dead.push({
        at,
        reason: failure.reason,
        value: deadLetterValue(boundedRow(row, fields.keyField), failure.reason, window),
      });
    }
    for (let output = 0; output < outputs.length; output++)
      (ends[output] as Uint32Array)[at] = lengths[output] as number;
  }
  return {
    outputs: values.map((list, output) => ({
      buffer: joined(list, lengths[output] as number),
      ends: ends[output] as Uint32Array,
    })),
    dead,
    unknownProperties,
  };
}

function joined(values: readonly Buffer[], length: number): ArrayBuffer {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const value of values) {
    out.set(value, offset);
    offset += value.length;
  }
  return out.buffer;
}

/** The dead letter of a row whose start lies outside the window, if it does. */
function misplacedStart(
  row: Record<string, unknown>,
  window: WindowBounds,
  startField: string,
): { ok: false; reason: string } | undefined {
  const start = row?.[startField];
  if (typeof start !== "string") return undefined;
  const micros = isoToMicros(start);
  if (micros === undefined) return undefined;
  const why = startOutsideWindow(Math.floor(micros / 1000), window);
  if (why === undefined) return undefined;
  const shown = start.length > 64 ? `${start.slice(0, 64)}…` : start;
  return {
    ok: false,
    reason: `${startField}: ${JSON.stringify(shown)} is ${why} (${new Date(window.fromMs).toISOString()} to ${new Date(window.toMs).toISOString()})`,
  };
}

function deadLetterValue(row: Record<string, unknown>, reason: string, window: WindowText): string {
  return JSON.stringify({ reason, row, window, deadLetteredAt: new Date().toISOString() });
}

/**
 * The row as the dead letter carries it: as Graph sent it, except an over-long id, cut to the
 * bound (its length is in the reason, its hash is the message key): a dead letter must fit the topic.
 */
function boundedRow(row: Record<string, unknown>, keyField: string): Record<string, unknown> {
  const id = row?.[keyField];
  if (typeof id !== "string" || id.length <= MAX_ID_LENGTH) return row;
  return { ...row, [keyField]: `${id.slice(0, MAX_ID_LENGTH)}…` };
}
