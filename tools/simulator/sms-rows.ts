/**
 * One smsLogRow (Teams Phone SMS, served by beta only): what it contains, derived from the seed and
 * the row's coordinates, and its JSON text as Graph serves it. Two awkward parts: `callCharge` is a
 * JSON number with up to 12 fractional digits, written with its exact text; and for some countries
 * the external number (the destination of an outbound SMS, the source of an inbound one) is masked,
 * its last digits replaced with asterisks after a space behind the calling code (`+33 612345***`).
 */
import { type Country, OTHER_COUNTRIES, phoneNumber, population } from "./population.js";
import { feistelRowId, guid, hash, Random, Weighted } from "./random.js";
import { applyRowFaults, hasRowFaults, type RowFaultRates, unquote } from "./row-faults.js";
import { decimalText, type RowSlot } from "./rows.js";
import { formatInstant } from "./time.js";

/**
 * A row exactly as served, with Graph's JSON property names. `callCharge` holds the exact decimal
 * text the body carries as a JSON number. Row faults break this shape on purpose, as for PSTN rows.
 */
export interface SmsRow {
  id: string;
  smsId: string;
  sentDateTime: string;
  smsType: string;
  smsUnits: number;
  sourceNumber: string;
  destinationNumber: string;
  callCharge: string | null;
  currency: string;
  licenseCapability: string;
  destinationContext: string;
  destinationName: string;
  otherPartyCountryCode: string;
  tenantCountryCode: string;
  userCountryCode: string;
  userId: string;
  userPrincipalName: string;
  userDisplayName: string;
  administrativeUnitInfos: { id: string }[];
  [unknownProperty: string]: unknown;
}

/** Countries whose numbers Graph masks in the SMS log, and how many trailing digits. */
export const MASKED_DIGITS: ReadonlyMap<string, number> = new Map([
  ["FR", 3],
  ["DE", 4],
  ["IT", 3],
  ["ES", 4],
]);

const UNITS = new Weighted([
  [1, 80],
  [2, 15],
  [3, 5],
]);
/** Fractional digits of a charge: Graph writes anything from cents to the 12 digits it keeps. */
const CHARGE_DIGITS = new Weighted([
  [2, 3],
  [4, 2],
  [6, 2],
  [12, 3],
]);

const SALT_ROW = 0x5301;
const SALT_FAULT = 0x5302;
const SALT_ID = 0x5303;
const SALT_SMS_ID = 0x5304;

/** The row's id: unique within the stream, under this stream's own key. */
export function smsRowId(seed: number, hour: number, gen: number): string {
  return feistelRowId(hash(seed, SALT_ID), hour, gen);
}

/** The SMS's id: the parts of one message share it, so it repeats. */
function smsId(seed: number, hour: number, gen: number): string {
  return guid(
    hash(seed, hour, gen, SALT_SMS_ID),
    hash(seed, hour, gen, SALT_SMS_ID + 1),
    hash(seed, hour, gen, SALT_SMS_ID + 2),
    hash(seed, hour, gen, SALT_SMS_ID + 3),
  );
}

/** `number` (E.164 in `country`) as the SMS log shows it: masked for the countries that mask. */
export function maskedNumber(number: string, country: Country): string {
  const digits = MASKED_DIGITS.get(country.code);
  if (digits === undefined) return number;
  const national = number.slice(country.callingCode.length + 1);
  return `+${country.callingCode} ${national.slice(0, -digits)}${"*".repeat(digits)}`;
}

function charge(random: Random, outbound: boolean, domestic: boolean, units: number): string {
  const digits = random.weighted(CHARGE_DIGITS);
  if (!outbound) return random.chance(0.9) ? "0.00" : decimalText(Math.round(0.0075 * 10 ** digits), digits);
  const perUnit = domestic ? 0.0075 + random.next() * 0.005 : 0.04 + random.next() * 0.08;
  return decimalText(Math.round(perUnit * units * 10 ** digits), digits);
}

/** Builds the row in slot `slot` of the tenant `seed`, with the row faults drawn against `faults`. */
export function buildSmsRow(seed: number, slot: RowSlot, faults: RowFaultRates): SmsRow {
  const world = population(seed);
  const random = new Random(hash(seed, slot.hour, slot.gen, SALT_ROW));
  const outbound = random.chance(0.65);
  const user = random.pick(world.users);
  const other: Country = random.chance(0.7) ? user.country : random.pick(OTHER_COUNTRIES);
  const domestic = other.code === user.country.code;
  const external = maskedNumber(phoneNumber(random, other), other);
  const units = random.weighted(UNITS);
  const repeatsId = slot.gen > 0 && random.chance(0.05);

  const row: SmsRow = {
    id: smsRowId(seed, slot.hour, slot.gen),
    smsId: smsId(seed, slot.hour, repeatsId ? slot.gen - 1 : slot.gen),
    sentDateTime: formatInstant(slot.ms, slot.sub, slot.digits),
    smsType: outbound ? "outbound" : "inbound",
    smsUnits: units,
    sourceNumber: outbound ? user.number : external,
    destinationNumber: outbound ? external : user.number,
    callCharge: charge(random, outbound, domestic, units),
    currency: user.country.currency,
    licenseCapability: user.licenseCapability,
    destinationContext: domestic ? "Domestic" : "International",
    destinationName: outbound ? other.name : user.country.name,
    otherPartyCountryCode: other.code,
    tenantCountryCode: world.tenantCountry.code,
    userCountryCode: user.country.code,
    userId: user.id,
    userPrincipalName: user.userPrincipalName,
    userDisplayName: user.displayName,
    administrativeUnitInfos: user.administrativeUnitIds.map((id) => ({ id })),
  };

  if (hasRowFaults(faults)) {
    applyRowFaults(row, new Random(hash(seed, slot.hour, slot.gen, SALT_FAULT)), faults, {
      start: "sentDateTime",
      money: "callCharge",
    });
  }
  return row;
}

/**
 * The row's JSON text as served: `callCharge` a JSON number with its exact decimal text (unquoted
 * in place after JSON.stringify; it comes before any property a fault adds).
 */
export function serializeSmsRow(row: SmsRow): string {
  const json = JSON.stringify(row);
  return row.callCharge === null ? json : unquote(json, "callCharge");
}
