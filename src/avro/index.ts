/**
 * Avro encoding of the call-log rows: the schemas, the per-row codec, and the exact conversions
 * (decimal text ↔ Avro decimal bytes, ISO instants ↔ timestamp-micros) it is built from.
 */
export { createRowCodec, type EncodeResult, MAX_ID_LENGTH, type RowCodec } from "./codec.js";
export { bytesToDecimalText, decimalToUnscaled, unscaledToBytes } from "./decimal.js";
export { decodedToGraphJson, normaliseGraphRow } from "./json.js";
export { decimalFields, type FieldPlan, type RecordPlan, recordPlan } from "./plan.js";
export {
  PSTN_ROW_SCHEMA,
  PSTN_ROW_SCHEMA_PATH,
  PSTN_ROW_SCHEMA_TEXT,
  type RowSchema,
  rowSchema,
} from "./schema.js";
export { isoToMicros, microsToIso } from "./timestamp.js";
