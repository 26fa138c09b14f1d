/**
 * One pstnCallLogRow: what it contains (derived from the seed and the row's coordinates) and its
 * JSON text as Graph serves it.
 */
import { type Country, OTHER_COUNTRIES, phoneNumber, population } from "./population.js";
import { fmix32, guid, hash, Random, Weighted } from "./random.js";
import { applyRowFaults, type FaultFields, hasRowFaults, type RowFaultRates, unquote } from "./row-faults.js";
import { formatInstant } from "./time.js";

/**
 * A row exactly as served, with Graph's JSON property names. `charge` and `connectionCharge` hold
 * the exact decimal text that the body carries as a JSON number (`"charge":0.0123` is served,
 * `"0.0123"` is kept here). On v1.0 `administrativeUnitInfos` is not served (it is beta).
 *
 * Fault rows break this shape on purpose: with `faults.malformedRowRate` a row may lack `id` or
 * carry a `startDateTime` that is not a date; with `faults.extraPropertyRate` it carries a property
 * Graph does not document.
 */
export interface SimulatedRow {
  id: string;
  callId: string;
  userId: string | null;
  userPrincipalName: string | null;
  userDisplayName: string | null;
  startDateTime: string;
  endDateTime: string;
  duration: number;
  charge: string | null;
  callType: string;
  currency: string;
  calleeNumber: string;
  usageCountryCode: string;
  tenantCountryCode: string;
  connectionCharge: string | null;
  callerNumber: string;
  destinationContext: string | null;
  destinationName: string;
  conferenceId: string | null;
  licenseCapability: string;
  inventoryType: string;
  operator: string;
  callDurationSource: string;
  otherPartyCountryCode: string | null;
  clientPublicIpV4Address: string | null;
  clientPublicIpV6Address: string | null;
  clientLocalIpV4Address: string | null;
  clientLocalIpV6Address: string | null;
  administrativeUnitInfos?: { id: string }[];
  [unknownProperty: string]: unknown;
}

/** Where a row sits: its hour bucket, its number within the bucket's draw and its start. */
export interface RowSlot {
  hour: number;
  gen: number;
  ms: number;
  sub: number;
  digits: number;
}

export {
  hasRowFaults,
  MISPLACED_START_MS,
  OVERLONG_ID_LENGTH,
  type RowFaultRates,
} from "./row-faults.js";

const CALL_TYPES = new Weighted([
  ["user_in", 34],
  ["user_out", 32],
  ["user_out_transfer", 2],
  ["user_out_forwarding", 2],
  ["ucap_in", 6],
  ["ucap_out", 3],
  ["conf_in", 9],
  ["conf_out", 5],
  ["conf_out_transfer", 1],
  ["emergency_out", 0.2],
]);
const MONEY_DIGITS = new Weighted([
  [2, 5],
  [4, 3],
  [3, 1],
  [1, 0.5],
  [0, 0.5],
]);
const IP_SHAPES = new Weighted([
  [2, 75],
  [1, 10],
  [0, 15],
]);

const PSTN_FAULT_FIELDS: FaultFields = { start: "startDateTime", money: "charge" };

const SALT_ROW = 0x51;
const SALT_FAULT = 0x52;
const SALT_ID_1 = 0x5bd1e995;
const SALT_ID_2 = 0x27d4eb2f;
const SALT_ID_3 = 0x165667b1;

/**
 * The row's id: unique by construction. A three-round Feistel network over (hour, number) is a
 * bijection on 64 bits, so two rows never share the two words it fills; the rest is noise.
 */
export function rowId(seed: number, hour: number, gen: number): string {
  let left = hour >>> 0;
  let right = gen >>> 0;
  left = (left ^ fmix32((right + hash(seed, SALT_ID_1)) >>> 0)) >>> 0;
  right = (right ^ fmix32((left + hash(seed, SALT_ID_2)) >>> 0)) >>> 0;
  left = (left ^ fmix32((right + hash(seed, SALT_ID_3)) >>> 0)) >>> 0;
  return guid(left, hash(seed, hour, gen, 0x1d1), hash(seed, hour, gen, 0x1d2), right);
}

/** Callers' SBC-style call ids (`1835317186_112562680@61.221.3.176`); equal numbers give equal ids. */
function callId(seed: number, hour: number, gen: number): string {
  const a = hash(seed, hour, gen, 0xca1);
  const b = hash(seed, hour, gen, 0xca2);
  return `${a}_${b >>> 4}@${(b & 0xff) | 1}.${(a >>> 8) & 0xff}.${(a >>> 16) & 0xff}.${((b >>> 8) & 0xfe) + 1}`;
}

/** 10^0 to 10^12: money has up to 12 fractional digits (decimal(38, 12)). */
const POWERS: readonly number[] = Array.from({ length: 13 }, (_, i) => 10 ** i);

/** `units` hundredths/thousandths/... as decimal text with exactly `digits` fractional digits. */
export function decimalText(units: number, digits: number): string {
  if (digits === 0) return String(units);
  const scale = POWERS[digits] ?? 1e12;
  const whole = Math.floor(units / scale);
  return `${whole}.${String(units - whole * scale).padStart(digits, "0")}`;
}

function money(random: Random, amount: number): string {
  const digits = random.weighted(MONEY_DIGITS);
  return decimalText(Math.round(amount * (POWERS[digits] ?? 1)), digits);
}

/** Builds the row in slot `slot` of the tenant `seed`, with the row faults drawn against `faults`. */
export function buildRow(seed: number, slot: RowSlot, faults: RowFaultRates): SimulatedRow {
  const world = population(seed);
  const random = new Random(hash(seed, slot.hour, slot.gen, SALT_ROW));
  const callType = random.weighted(CALL_TYPES);
  const inbound = callType.endsWith("_in");
  const bot = callType.startsWith("ucap_");
  const conference = callType.startsWith("conf_");
  const user = random.pick(world.users);

  const usage: Country = bot || conference ? world.tenantCountry : user.country;
  const other: Country = random.chance(0.75) ? usage : random.pick(OTHER_COUNTRIES);
  const domestic = other.code === usage.code;
  const ownNumber = bot
    ? random.pick(world.serviceNumbers)
    : conference
      ? random.pick(world.bridgeNumbers)
      : user.number;
  const otherNumber =
    callType === "emergency_out" ? (usage.code === "US" ? "+1911" : "+112") : phoneNumber(random, other);

  // Seconds connected: mostly a few minutes, a long tail, a few calls never connected.
  const duration = random.chance(0.03) ? 0 : Math.min(14_400, Math.round(-Math.log(1 - random.next()) * 210));
  const endMs = slot.ms + duration * 1000;

  let charge: string;
  if (inbound || callType === "emergency_out" || random.chance(0.4)) {
    charge = random.chance(0.92) ? "0.00" : money(random, (duration / 60) * 0.012);
  } else {
    const perMinute = domestic ? 0.01 + random.next() * 0.04 : 0.05 + random.next() * 0.45;
    charge = money(random, Math.max(1, Math.ceil(duration / 60)) * perMinute);
  }
  const connectionCharge = random.chance(0.85) ? "0.00" : money(random, 0.01 + random.next() * 0.09);

  let destinationContext: string | null = domestic ? "Domestic" : "International";
  if ((inbound && random.chance(0.4)) || random.chance(0.04)) destinationContext = null;

  const botUser = random.chance(0.5) ? null : "";
  const ipShape = bot || conference ? (random.chance(0.9) ? 0 : 2) : random.weighted(IP_SHAPES);
  const operator = bot || conference ? "Microsoft" : user.operator;

  const row: SimulatedRow = {
    id: rowId(seed, slot.hour, slot.gen),
    callId: callId(seed, slot.hour, slot.gen > 0 && random.chance(0.04) ? slot.gen - 1 : slot.gen),
    userId: bot ? botUser : user.id,
    userPrincipalName: bot ? botUser : user.userPrincipalName,
    userDisplayName: bot ? botUser : user.displayName,
    startDateTime: formatInstant(slot.ms, slot.sub, slot.digits),
    endDateTime: formatInstant(endMs, slot.sub, slot.digits),
    duration,
    charge,
    callType,
    currency: usage.currency,
    calleeNumber: inbound ? ownNumber : otherNumber,
    usageCountryCode: usage.code,
    tenantCountryCode: world.tenantCountry.code,
    connectionCharge,
    callerNumber: inbound ? otherNumber : ownNumber,
    destinationContext,
    destinationName: inbound ? usage.name : other.name,
    conferenceId: conference
      ? String(100_000_000 + (hash(seed, slot.hour, slot.gen, 0xc0f) % 900_000_000))
      : null,
    licenseCapability: bot ? "MCOEV_VIRTUALUSER" : conference ? "MCOMEETADV" : user.licenseCapability,
    inventoryType: bot || conference ? (random.chance(0.2) ? "Toll free" : "Service") : "Subscriber",
    operator,
    callDurationSource: operator === "Microsoft" ? "microsoft" : "operator",
    otherPartyCountryCode: random.chance(0.03) ? null : other.code,
    clientPublicIpV4Address: ipShape >= 1 ? user.publicIpV4 : null,
    clientPublicIpV6Address: ipShape >= 2 ? user.publicIpV6 : null,
    clientLocalIpV4Address: ipShape >= 1 ? user.localIpV4 : null,
    clientLocalIpV6Address: ipShape >= 2 ? user.localIpV6 : null,
    administrativeUnitInfos: bot ? [] : user.administrativeUnitIds.map((id) => ({ id })),
  };

  if (hasRowFaults(faults)) {
    applyRowFaults(row, new Random(hash(seed, slot.hour, slot.gen, SALT_FAULT)), faults, PSTN_FAULT_FIELDS);
  }
  return row;
}

/**
 * The row's JSON text as served: money as JSON numbers written with their exact decimal text,
 * `administrativeUnitInfos` only on beta. Works for any row (faults included): JSON.stringify, then
 * the two money values are unquoted in place. Unquoting finds the top-level properties: they come
 * before any property a fault adds, and an unescaped `"` only delimits strings.
 */
export function serializeRow(row: SimulatedRow, beta: boolean): string {
  let json: string;
  if (beta || row.administrativeUnitInfos === undefined) {
    json = JSON.stringify(row);
  } else {
    const units = row.administrativeUnitInfos;
    row.administrativeUnitInfos = undefined;
    json = JSON.stringify(row);
    row.administrativeUnitInfos = units;
  }
  if (row.charge !== null) json = unquote(json, "charge");
  if (row.connectionCharge !== null) json = unquote(json, "connectionCharge");
  return json;
}

const text = (value: string | null): string => (value === null ? "null" : `"${value}"`);
const raw = (value: string | null): string => (value === null ? "null" : value);

/**
 * {@link serializeRow} for rows as {@link buildRow} makes them without faults (all properties in
 * their order, strings that need no escaping), about twice as fast. Tests hold the two equal.
 */
export function serializePlainRow(row: SimulatedRow, beta: boolean): string {
  let units = "";
  if (beta && row.administrativeUnitInfos !== undefined) {
    units = ',"administrativeUnitInfos":[';
    for (const [i, unit] of row.administrativeUnitInfos.entries())
      units += `${i > 0 ? "," : ""}{"id":"${unit.id}"}`;
    units += "]";
  }
  return `{"id":"${row.id}","callId":"${row.callId}","userId":${text(row.userId)},"userPrincipalName":${text(
    row.userPrincipalName,
  )},"userDisplayName":${text(row.userDisplayName)},"startDateTime":"${row.startDateTime}","endDateTime":"${
    row.endDateTime
  }","duration":${row.duration},"charge":${raw(row.charge)},"callType":"${row.callType}","currency":"${
    row.currency
  }","calleeNumber":"${row.calleeNumber}","usageCountryCode":"${row.usageCountryCode}","tenantCountryCode":"${
    row.tenantCountryCode
  }","connectionCharge":${raw(row.connectionCharge)},"callerNumber":"${row.callerNumber}","destinationContext":${text(
    row.destinationContext,
  )},"destinationName":"${row.destinationName}","conferenceId":${text(row.conferenceId)},"licenseCapability":"${
    row.licenseCapability
  }","inventoryType":"${row.inventoryType}","operator":"${row.operator}","callDurationSource":"${
    row.callDurationSource
  }","otherPartyCountryCode":${text(row.otherPartyCountryCode)},"clientPublicIpV4Address":${text(
    row.clientPublicIpV4Address,
  )},"clientPublicIpV6Address":${text(row.clientPublicIpV6Address)},"clientLocalIpV4Address":${text(
    row.clientLocalIpV4Address,
  )},"clientLocalIpV6Address":${text(row.clientLocalIpV6Address)}${units}}`;
}

/** The row without `administrativeUnitInfos`, as v1.0 serves it. */
export function v1Row(row: SimulatedRow): SimulatedRow {
  const { administrativeUnitInfos: _beta, ...rest } = row;
  return rest as SimulatedRow;
}
