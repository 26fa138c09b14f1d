/**
 * Row faults, the same for every stream: an undocumented property, a row without id or with a
 * start that is not a date, a charge too big for decimal(38, 12), an over-long id, a start that
 * lies far from the one the row is selected by. Streams differ only in the names of their start
 * and money properties.
 */
import type { Random } from "./random.js";

export interface RowFaultRates {
  extraPropertyRate: number;
  malformedRowRate: number;
  oversizedChargeRate: number;
  /** Rows refused at the connector's door (see SimulatorFaults). */
  overlongIdRate?: number;
  misplacedStartRate?: number;
}

/** The properties a fault rewrites: the start the row is selected by, and its money (if any). */
export interface FaultFields {
  start: string;
  money: string | undefined;
}

/** Whether any row fault is on: rows then leave the plain shape. */
export function hasRowFaults(faults: RowFaultRates): boolean {
  return (
    faults.extraPropertyRate > 0 ||
    faults.malformedRowRate > 0 ||
    faults.oversizedChargeRate > 0 ||
    (faults.overlongIdRate ?? 0) > 0 ||
    (faults.misplacedStartRate ?? 0) > 0
  );
}

/** The length of an over-long id: far beyond any Graph id, within a page. */
export const OVERLONG_ID_LENGTH = 5000;
/** How far a misplaced start lies before the real one: outside any window that selects the row. */
export const MISPLACED_START_MS = 400 * 86_400_000;

const EXTRA_PROPERTIES: readonly (readonly [string, unknown])[] = [
  ["futureProperty", { kind: "preview", version: 2, tags: ["a", "b"] }],
  ["callQualityIndicator", "good"],
  ["trunkGroupId", null],
  ["emergencyLocation", { city: "Redmond", countryOrRegion: "US" }],
  ["transferredFromCallId", "4f2b9c1e_1@10.0.0.1"],
];

function oversizedCharge(random: Random): string {
  if (random.chance(0.5)) {
    let fraction = "";
    for (let i = 0; i < 13; i++) fraction += String(random.int(0, 9));
    return `0.${fraction.slice(0, 12)}${random.int(1, 9)}`;
  }
  let whole = String(random.int(1, 9));
  for (let i = 1; i < 27; i++) whole += String(random.int(0, 9));
  return `${whole}.${random.int(10, 99)}`;
}

/** Applies the faults the row meets, drawn from `random` (seeded by the row's coordinates). */
export function applyRowFaults(
  row: Record<string, unknown>,
  random: Random,
  faults: RowFaultRates,
  fields: FaultFields,
): void {
  // Every draw is made whatever the rates, so a row's fate under one rate does not depend on another.
  const extra = random.next() < faults.extraPropertyRate;
  const extraChoice = random.pick(EXTRA_PROPERTIES);
  const malformed = random.next() < faults.malformedRowRate;
  const malformedKind = random.int(0, 2);
  const oversized = random.next() < faults.oversizedChargeRate;
  const oversizedText = oversizedCharge(random);
  if (oversized && fields.money !== undefined) row[fields.money] = oversizedText;
  if (malformed) {
    if (malformedKind === 0) delete row.id;
    else row[fields.start] = malformedKind === 1 ? "not-a-date" : "2019-13-45T25:61:00Z";
  }
  if (extra) row[extraChoice[0]] = structuredClone(extraChoice[1]);
  // Drawn last, so that the faults above meet the same rows for a seed as before these existed.
  const overlong = random.next() < (faults.overlongIdRate ?? 0);
  const misplaced = random.next() < (faults.misplacedStartRate ?? 0);
  if (overlong && typeof row.id === "string") row.id = `${row.id}-`.padEnd(OVERLONG_ID_LENGTH, "0");
  const startText = row[fields.start];
  if (misplaced && typeof startText === "string") {
    const start = Date.parse(startText);
    if (!Number.isNaN(start)) {
      row[fields.start] = startText.replace(
        /^.{19}/,
        new Date(start - MISPLACED_START_MS).toISOString().slice(0, 19),
      );
    }
  }
}

/** Rewrites `"key":"text"` (the first one) as `"key":text`: a JSON number with that exact text. */
export function unquote(json: string, key: string): string {
  const marker = `"${key}":"`;
  const at = json.indexOf(marker);
  if (at < 0) return json;
  const valueStart = at + marker.length;
  const valueEnd = json.indexOf('"', valueStart);
  return `${json.slice(0, valueStart - 1)}${json.slice(valueStart, valueEnd)}${json.slice(valueEnd + 1)}`;
}
