/**
 * Graph row → Avro binary, the per-row hot path. The avsc Type is built once WITHOUT avsc's logical
 * types (decimals are raw bytes, timestamps raw longs) and the conversions happen here, exactly, with
 * a reason instead of an exception when a row cannot be carried: the connector dead-letters it.
 */
import avsc from "avsc";
import { DecimalProblem, parseDecimal, unscaledToBytes } from "./decimal.js";
import { type RecordPlan, recordPlan, type ValuePlan } from "./plan.js";
import { PSTN_ROW_SCHEMA } from "./schema.js";
import { isoToMicros } from "./timestamp.js";

export type EncodeResult =
  | { ok: true; value: Buffer; unknownProperties: number }
  | { ok: false; reason: string };

export interface RowCodec {
  /**
   * Encodes one Graph row (as parsed from JSON, with charge/connectionCharge kept as exact decimal
   * TEXT strings or JSON numbers or null) to Avro binary, after `header` when given (the wire
   * format's five bytes: one buffer per row, not two). Never throws for bad data: returns a reason.
   */
  encode(row: Record<string, unknown>, header?: Uint8Array): EncodeResult;
}

type AvroSchema = Parameters<typeof avsc.Type.forSchema>[0];

/**
 * The longest `id` carried. Graph's ids are GUIDs (36 characters); a longer one is not a call
 * record's id, and it would be the Kafka key and the dedupe state's entry.
 */
export const MAX_ID_LENGTH = 256;

const MIN_INT = -(2 ** 31);
const MAX_INT = 2 ** 31 - 1;
const MAX_SHOWN = 64;

/** Returned by a conversion that failed; the why is in the Failure it was given. */
const INVALID: unique symbol = Symbol("invalid");
type Converted = unknown;

/** Reused per codec: where and why the current row failed, and what it carried that we don't know. */
class Failure {
  /** Path below the top-level field, e.g. "[1].id", built only when something fails. */
  where = "";
  problem = "";
  unknownProperties = 0;

  fail(problem: string): typeof INVALID {
    this.where = "";
    this.problem = problem;
    return INVALID;
  }
}

function bounded(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

/** A short rendering of an offending value for a reason string (bounded: reasons go to the DLQ). */
function show(value: unknown): string {
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "bigint") text = `${value}n`;
  else if (value === undefined) text = "undefined";
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return bounded(text);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** OData annotations ("@odata.type", "charge@odata.type", "@microsoft.graph.tips") are not properties. */
function isAnnotation(key: string): boolean {
  return key.includes("@");
}

function convertDecimal(
  plan: { precision: number; scale: number },
  value: unknown,
  failure: Failure,
): Converted {
  let text: string;
  if (typeof value === "string") text = value;
  else if (typeof value === "number") {
    if (!Number.isFinite(value)) return failure.fail(`${value} is not a decimal number`);
    text = String(value); // the shortest text that round-trips to this double
  } else if (typeof value === "bigint") text = value.toString();
  else return failure.fail(`expected a decimal as text or number, got ${kindOf(value)}`);
  const parsed = parseDecimal(text, plan.scale, plan.precision);
  if (typeof parsed === "bigint") return unscaledToBytes(parsed);
  switch (parsed) {
    case DecimalProblem.NOT_A_NUMBER:
      return failure.fail(`${show(text)} is not a decimal number`);
    case DecimalProblem.TOO_MANY_FRACTION_DIGITS:
      return failure.fail(`${bounded(text)} has more than ${plan.scale} fractional digits; not rounded`);
    default:
      return failure.fail(
        `${bounded(text)} has more than ${plan.precision - plan.scale} integer digits; does not fit decimal(${plan.precision}, ${plan.scale})`,
      );
  }
}

function convertValue(plan: ValuePlan, value: unknown, failure: Failure): Converted {
  switch (plan.kind) {
    case "string":
      return typeof value === "string" ? value : failure.fail(`expected a string, got ${kindOf(value)}`);
    case "timestampMicros": {
      if (typeof value !== "string")
        return failure.fail(`expected an ISO-8601 instant, got ${kindOf(value)}`);
      const micros = isoToMicros(value);
      return micros === undefined ? failure.fail(`${show(value)} is not a valid ISO-8601 instant`) : micros;
    }
    case "decimal":
      return convertDecimal(plan, value, failure);
    case "int":
      return typeof value === "number" && Number.isInteger(value) && value >= MIN_INT && value <= MAX_INT
        ? value
        : failure.fail(`${show(value)} is not a 32-bit integer`);
    case "long":
      if (typeof value === "number" && Number.isSafeInteger(value)) return value;
      if (typeof value === "bigint" && value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER) {
        return Number(value);
      }
      return failure.fail(`${show(value)} is not an integer within ±2^53`);
    case "boolean":
      return typeof value === "boolean" ? value : failure.fail(`expected a boolean, got ${kindOf(value)}`);
    case "double":
      return typeof value === "number" ? value : failure.fail(`expected a number, got ${kindOf(value)}`);
    case "array": {
      if (!Array.isArray(value)) return failure.fail(`expected an array, got ${kindOf(value)}`);
      const out: unknown[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        const converted = convertValue(plan.items, value[i], failure);
        if (converted === INVALID) {
          failure.where = `[${i}]${failure.where}`;
          return INVALID;
        }
        out[i] = converted;
      }
      return out;
    }
    case "record":
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        return failure.fail(`expected an object, got ${kindOf(value)}`);
      }
      return convertRecord(plan, value as Record<string, unknown>, failure);
  }
}

/**
 * `out` (a new plain object unless given) filled with exactly the record's fields, converted; or
 * INVALID with the failing field's path.
 */
function convertRecord(
  plan: RecordPlan,
  value: Record<string, unknown>,
  failure: Failure,
  out: Record<string, unknown> = {},
): Converted {
  const fields = plan.fields;
  let present = 0;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const raw = value[field.name];
    let converted: Converted;
    if (raw === undefined) {
      converted = field.nullable ? null : failure.fail("missing");
    } else {
      present++;
      if (raw === null) converted = field.nullable ? null : failure.fail("null is not allowed");
      else converted = convertValue(field.value, raw, failure);
    }
    if (converted === INVALID) {
      failure.where = `.${field.name}${failure.where}`;
      return INVALID;
    }
    out[field.name] = converted;
  }
  const keys = Object.keys(value);
  // Only a row carrying more keys than the known fields it has needs the (rare) scan for unknown ones.
  if (keys.length !== present) {
    for (const key of keys) {
      if (!plan.fieldsByName.has(key) && !isAnnotation(key)) failure.unknownProperties++;
    }
  }
  return out;
}

class AvroRowCodec implements RowCodec {
  readonly #plan: RecordPlan;
  readonly #type: avsc.Type;
  readonly #failure = new Failure();
  /**
   * The converted row handed to avsc, reused for every row: toBuffer copies it out synchronously, and
   * overwriting existing properties is much cheaper than building a 29-property object per row.
   */
  readonly #record: Record<string, unknown> = {};
  /** Rows are written here first, then copied out at their exact size: one allocation per row. */
  #scratch = Buffer.allocUnsafe(16 * 1024);

  readonly #keyField: string;

  constructor(plan: RecordPlan, type: avsc.Type, keyField: string) {
    this.#plan = plan;
    this.#type = type;
    this.#keyField = keyField;
    for (const field of plan.fields) this.#record[field.name] = null;
  }

  encode(row: Record<string, unknown>, header?: Uint8Array): EncodeResult {
    const failure = this.#failure;
    failure.unknownProperties = 0;
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      return { ok: false, reason: `row: expected an object, got ${kindOf(row)}` };
    }
    const id = row[this.#keyField];
    if (typeof id === "string" && id.length > MAX_ID_LENGTH) {
      return {
        ok: false,
        reason: `${this.#keyField}: ${id.length} characters (${show(id)}), more than the ${MAX_ID_LENGTH} an id may have`,
      };
    }
    let record: Converted;
    try {
      record = convertRecord(this.#plan, row, failure, this.#record);
    } catch (error) {
      return { ok: false, reason: `row: could not be read (${String(error)})` };
    }
    if (record === INVALID) return { ok: false, reason: `${failure.where.slice(1)}: ${failure.problem}` };
    try {
      return { ok: true, value: this.#write(record, header), unknownProperties: failure.unknownProperties };
    } catch (error) {
      return {
        ok: false,
        reason: `row: Avro encoding failed (${error instanceof Error ? error.message : String(error)})`,
      };
    }
  }

  #write(record: unknown, header: Uint8Array | undefined): Buffer {
    const start = header?.length ?? 0;
    for (;;) {
      const scratch = this.#scratch;
      // avsc's encode returns the end, or minus the bytes that did not fit.
      const end = this.#type.encode(record, scratch, start);
      if (end >= 0) {
        const value = Buffer.allocUnsafe(end);
        if (header) value.set(header, 0);
        scratch.copy(value, start, start, end);
        return value;
      }
      this.#scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
    }
  }
}

/**
 * A codec for rows of `schema` (default: schemas/pstnCallLogRow.avsc) identified by `keyField`, whose
 * length is bounded by MAX_ID_LENGTH. Throws at once if the schema
 * is not valid Avro or holds a shape the codec does not convert (anything but primitives, decimal
 * bytes, timestamp-micros, arrays, records and ["null", T] unions).
 */
export function createRowCodec(schema: object = PSTN_ROW_SCHEMA, keyField = "id"): RowCodec {
  const plan = recordPlan(schema);
  const type = avsc.Type.forSchema(schema as AvroSchema, { wrapUnions: false });
  return new AvroRowCodec(plan, type, keyField);
}
