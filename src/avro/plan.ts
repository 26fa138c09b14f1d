/**
 * A record schema compiled once into the per-field conversions the codec applies: which fields are
 * decimals, timestamps, nested records, which may be null. Only the shapes a Graph row needs are
 * supported; anything else is refused when the codec is built, not when a row arrives.
 */

export type ValuePlan =
  | { readonly kind: "string" }
  | { readonly kind: "boolean" }
  | { readonly kind: "int" }
  | { readonly kind: "long" }
  | { readonly kind: "double" }
  | { readonly kind: "decimal"; readonly precision: number; readonly scale: number }
  | { readonly kind: "timestampMicros" }
  | { readonly kind: "array"; readonly items: ValuePlan }
  | RecordPlan;

export interface RecordPlan {
  readonly kind: "record";
  readonly name: string;
  readonly fields: readonly FieldPlan[];
  readonly fieldsByName: ReadonlyMap<string, FieldPlan>;
}

export interface FieldPlan {
  readonly name: string;
  /** A union with "null": null (and an absent property) is a valid value. */
  readonly nullable: boolean;
  readonly value: ValuePlan;
}

/** Logical types that change nothing about the value a row carries. */
const TRANSPARENT_LOGICAL_TYPES: ReadonlySet<string> = new Set(["uuid"]);

function unsupported(path: string, what: string): Error {
  return new Error(`Avro schema: ${path}: ${what} is not supported by the row codec`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function planDecimal(type: Record<string, unknown>, path: string): ValuePlan {
  const precision = type.precision;
  const scale = type.scale ?? 0;
  if (
    typeof precision !== "number" ||
    typeof scale !== "number" ||
    !Number.isInteger(precision) ||
    !Number.isInteger(scale) ||
    precision < 1 ||
    scale < 0 ||
    scale > precision
  ) {
    throw unsupported(path, `decimal(${String(precision)}, ${String(scale)})`);
  }
  return { kind: "decimal", precision, scale };
}

function planValue(type: unknown, path: string): ValuePlan {
  if (typeof type === "string") return planValue({ type }, path);
  if (!isObject(type)) throw unsupported(path, JSON.stringify(type));
  const base = type.type;
  const logicalType = type.logicalType;
  if (logicalType !== undefined && !TRANSPARENT_LOGICAL_TYPES.has(String(logicalType))) {
    if (base === "bytes" && logicalType === "decimal") return planDecimal(type, path);
    if (base === "long" && logicalType === "timestamp-micros") return { kind: "timestampMicros" };
    throw unsupported(path, `logical type ${String(logicalType)} on ${String(base)}`);
  }
  switch (base) {
    case "string":
      return { kind: "string" };
    case "boolean":
      return { kind: "boolean" };
    case "int":
      return { kind: "int" };
    case "long":
      return { kind: "long" };
    case "float":
    case "double":
      return { kind: "double" };
    case "array":
      return { kind: "array", items: planValue(type.items, `${path}[]`) };
    case "record":
      return planRecord(type, path);
    default:
      throw unsupported(path, `type ${JSON.stringify(base)}`);
  }
}

function planField(field: unknown, path: string): FieldPlan {
  if (!isObject(field) || typeof field.name !== "string") throw unsupported(path, "a field without a name");
  const fieldPath = path === "" ? field.name : `${path}.${field.name}`;
  const type = field.type;
  if (!Array.isArray(type)) return { name: field.name, nullable: false, value: planValue(type, fieldPath) };
  const branches = type.filter((branch) => branch !== "null");
  if (branches.length !== 1 || branches.length === type.length) {
    throw unsupported(fieldPath, 'a union other than ["null", T]');
  }
  return { name: field.name, nullable: true, value: planValue(branches[0], fieldPath) };
}

function planRecord(schema: Record<string, unknown>, path: string): RecordPlan {
  if (!Array.isArray(schema.fields)) throw unsupported(path, "a record without fields");
  const fields = schema.fields.map((field: unknown) => planField(field, path));
  return {
    kind: "record",
    name: String(schema.name),
    fields,
    fieldsByName: new Map(fields.map((field) => [field.name, field])),
  };
}

const plans = new WeakMap<object, RecordPlan>();

/** The compiled plan of a record schema (cached per schema object). Throws for unsupported shapes. */
export function recordPlan(schema: object): RecordPlan {
  let plan = plans.get(schema);
  if (plan === undefined) {
    if (!isObject(schema) || schema.type !== "record")
      throw unsupported("(top)", "a schema that is not a record");
    plan = planRecord(schema, "");
    plans.set(schema, plan);
  }
  return plan;
}

/** The top-level fields of `schema` that are decimals: a row's money, kept exact from the JSON on. */
export function decimalFields(schema: object): string[] {
  return recordPlan(schema)
    .fields.filter((field) => field.value.kind === "decimal")
    .map((field) => field.name);
}
