/**
 * One comparable, Graph-like JSON shape for both ends of the pipe: a record decoded from Kafka with
 * the registry's schema, and the Graph row it came from. Decimals become canonical exact text,
 * timestamps ISO text with six fractional digits, nested records plain objects. For tests, tools and
 * display; never on the hot path.
 */
import { bytesToDecimalText, parseDecimal, unscaledToDecimalText } from "./decimal.js";
import { type RecordPlan, recordPlan, type ValuePlan } from "./plan.js";
import { PSTN_ROW_SCHEMA } from "./schema.js";
import { isoToMicros, microsToIso } from "./timestamp.js";

/** A JSON object, or a record avsc decoded (an instance of a generated class). */
function isRecordLike(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

function fromAvro(plan: ValuePlan, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (plan.kind) {
    case "decimal":
      return value instanceof Uint8Array ? bytesToDecimalText(Buffer.from(value), plan.scale) : value;
    case "timestampMicros":
      if (typeof value === "number" && Number.isSafeInteger(value)) return microsToIso(value);
      if (typeof value === "bigint") return microsToIso(Number(value));
      return value;
    case "array":
      return Array.isArray(value) ? value.map((item: unknown) => fromAvro(plan.items, item)) : value;
    case "record":
      return isRecordLike(value) ? recordFromAvro(plan, value) : value;
    default:
      return value;
  }
}

function recordFromAvro(plan: RecordPlan, decoded: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(decoded)) {
    const field = plan.fieldsByName.get(key);
    out[key] = field === undefined ? decoded[key] : fromAvro(field.value, decoded[key]);
  }
  return out;
}

/**
 * Turns a record decoded by avsc with the REGISTRY's schema (no logical types applied: decimals come
 * back as Buffer, timestamps as numbers) into Graph-like JSON for comparison/display: decimals →
 * exact text, timestamps → ISO micros strings, everything else as is.
 */
export function decodedToGraphJson(
  decoded: Record<string, unknown>,
  schema: object = PSTN_ROW_SCHEMA,
): Record<string, unknown> {
  return recordFromAvro(recordPlan(schema), decoded);
}

function normaliseValue(plan: ValuePlan, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (plan.kind) {
    case "decimal": {
      const text =
        typeof value === "string"
          ? value
          : typeof value === "number" || typeof value === "bigint"
            ? String(value)
            : undefined;
      if (text === undefined) return value;
      const unscaled = parseDecimal(text, plan.scale, plan.precision);
      return typeof unscaled === "bigint" ? unscaledToDecimalText(unscaled, plan.scale) : value;
    }
    case "timestampMicros": {
      const micros = typeof value === "string" ? isoToMicros(value) : undefined;
      return micros === undefined ? value : microsToIso(micros);
    }
    case "array":
      return Array.isArray(value) ? value.map((item: unknown) => normaliseValue(plan.items, item)) : value;
    case "record":
      return isRecordLike(value) ? normaliseRecord(plan, value) : value;
    default:
      return value;
  }
}

function normaliseRecord(plan: RecordPlan, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of plan.fields) out[field.name] = normaliseValue(field.value, row[field.name]);
  return out;
}

/**
 * The same normalisation applied to a Graph row (what the row should look like after a round trip):
 * timestamps truncated to micros as ISO, decimals canonical text, absent → null, unknown properties
 * dropped. A value that cannot be converted (the codec would refuse the row) is left as it is.
 */
export function normaliseGraphRow(
  row: Record<string, unknown>,
  schema: object = PSTN_ROW_SCHEMA,
): Record<string, unknown> {
  return normaliseRecord(recordPlan(schema), row);
}
