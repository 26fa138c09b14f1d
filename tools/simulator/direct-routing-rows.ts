/**
 * One directRoutingLogRow (a call through the tenant's own session border controllers): what it
 * contains, derived from the seed and the row's coordinates, and its JSON text as Graph serves it.
 * A failed call carries `failureDateTime` and no `endDateTime`; a successful one the reverse: the
 * property that does not apply is absent from the JSON, not null.
 */
import { type Country, OTHER_COUNTRIES, phoneNumber, population } from "./population.js";
import { feistelRowId, guid, hash, Random, Weighted } from "./random.js";
import { applyRowFaults, hasRowFaults, type RowFaultRates } from "./row-faults.js";
import type { RowSlot } from "./rows.js";
import { formatInstant } from "./time.js";

/**
 * A row exactly as served, with Graph's JSON property names. The last four properties are beta's:
 * v1.0 does not serve them. Row faults break this shape on purpose, as for PSTN rows.
 */
export interface DirectRoutingRow {
  id: string;
  correlationId: string;
  callType: string;
  userId: string | null;
  userPrincipalName: string | null;
  userDisplayName: string | null;
  startDateTime: string;
  inviteDateTime: string;
  /** Failed calls only. */
  failureDateTime?: string;
  /** Successful calls only. */
  endDateTime?: string;
  duration: number;
  successfulCall: boolean;
  callerNumber: string;
  calleeNumber: string;
  mediaBypassEnabled: boolean;
  /** Null for a call whose media bypassed Microsoft's datacenters. */
  mediaPathLocation: string | null;
  signalingLocation: string;
  trunkFullyQualifiedDomainName: string;
  finalSipCode: number;
  finalSipCodePhrase: string;
  callEndSubReason: number;
  transferorCorrelationId?: string | null;
  userCountryCode?: string;
  otherPartyCountryCode?: string | null;
  administrativeUnitInfos?: { id: string }[];
  [unknownProperty: string]: unknown;
}

/** The properties v1.0 leaves out. */
const BETA_ONLY = [
  "transferorCorrelationId",
  "userCountryCode",
  "otherPartyCountryCode",
  "administrativeUnitInfos",
];

const CALL_TYPES = new Weighted([
  ["ByotIn", 46],
  ["ByotOut", 40],
  ["ByotInUserForwarded", 6],
  ["ByotOutUserForwarding", 4],
  ["ByotOutUserTransfer", 4],
]);

/** Share of calls that are never fully established. */
const FAILURE_RATE = 0.15;

/** How failed calls end: SIP code, Graph's phrase, Microsoft's subcode. */
const FAILURES = new Weighted<readonly [number, string, number]>([
  [[487, "Request Terminated", 540487], 35],
  [[486, "Busy Here", 560486], 25],
  [[480, "Temporarily Unavailable", 560480], 12],
  [[408, "Request Timeout", 510408], 10],
  [[404, "Not Found", 560404], 8],
  [[503, "Service Unavailable", 560503], 6],
  [[500, "Server Internal Error", 500001], 4],
]);

/** Datacenters by region of the user: signaling and (without bypass) media go through one. */
const LOCATIONS: Record<string, readonly string[]> = {
  US: ["USEA", "USWE", "USCE"],
  EU: ["EUWE", "EUNO"],
  other: ["APSE", "APEA", "AUEA"],
};
const EUROPE = new Set(["GB", "DE", "FR", "NL", "IE", "ES", "IT"]);

interface Trunk {
  fqdn: string;
  mediaBypass: boolean;
}

const SALT_ROW = 0xd201;
const SALT_FAULT = 0xd202;
const SALT_ID = 0xd203;
const SALT_TRUNKS = 0xd204;

/** Trunks by seed, the oldest dropped past the bound (a pure function of the seed: rebuilt the same). */
const trunkCache = new Map<number, readonly Trunk[]>();
const MAX_TRUNK_SEEDS = 1024;

/** The tenant's session border controllers, named in its own domain. */
function trunks(seed: number): readonly Trunk[] {
  const known = trunkCache.get(seed);
  if (known) return known;
  const world = population(seed);
  const domain = world.users[0]?.userPrincipalName.split("@")[1] ?? "contoso.com";
  const random = new Random(hash(seed, SALT_TRUNKS));
  const count = random.int(2, 4);
  // Every tenant has trunks of both kinds, so both shapes of media path show up.
  const list = Array.from({ length: count }, (_, i) => ({
    fqdn: `sbc${i + 1}.${domain}`,
    mediaBypass: i < 2 ? i === 0 : random.chance(0.4),
  }));
  if (trunkCache.size >= MAX_TRUNK_SEEDS) trunkCache.delete(trunkCache.keys().next().value as number);
  trunkCache.set(seed, list);
  return list;
}

function locations(country: Country): readonly string[] {
  if (country.code === "US" || country.code === "CA") return LOCATIONS.US as readonly string[];
  return (EUROPE.has(country.code) ? LOCATIONS.EU : LOCATIONS.other) as readonly string[];
}

/** The row's id: unique within the stream, under this stream's own key. */
export function directRoutingRowId(seed: number, hour: number, gen: number): string {
  return feistelRowId(hash(seed, SALT_ID), hour, gen);
}

function correlation(seed: number, hour: number, gen: number, salt: number): string {
  return guid(
    hash(seed, hour, gen, salt),
    hash(seed, hour, gen, salt + 1),
    hash(seed, hour, gen, salt + 2),
    hash(seed, hour, gen, salt + 3),
  );
}

/** Builds the row in slot `slot` of the tenant `seed`, with the row faults drawn against `faults`. */
export function buildDirectRoutingRow(seed: number, slot: RowSlot, faults: RowFaultRates): DirectRoutingRow {
  const world = population(seed);
  const random = new Random(hash(seed, slot.hour, slot.gen, SALT_ROW));
  const callType = random.weighted(CALL_TYPES);
  const inbound = callType.startsWith("ByotIn");
  const user = random.pick(world.users);
  const other: Country = random.chance(0.8) ? user.country : random.pick(OTHER_COUNTRIES);
  const external = phoneNumber(random, other);
  const forwardedTo = phoneNumber(random, random.chance(0.8) ? user.country : random.pick(OTHER_COUNTRIES));
  const trunk = random.pick(trunks(seed));
  const sites = locations(user.country);
  const signalingLocation = random.pick(sites);
  const mediaPathLocation = trunk.mediaBypass
    ? null
    : random.chance(0.8)
      ? signalingLocation
      : random.pick(sites);

  const successful = !random.chance(FAILURE_RATE);
  // A successful call starts when answered, after the invite; a failed one starts at its invite.
  const ringMs = Math.round(500 + random.next() * 14_500);
  const duration = successful
    ? Math.max(1, Math.min(14_400, Math.round(-Math.log(1 - random.next()) * 190)))
    : 0;
  const failure = random.weighted(FAILURES);
  const successCode = random.chance(0.7) ? 200 : 0;
  const at = (offsetMs: number): string => formatInstant(slot.ms + offsetMs, slot.sub, slot.digits);

  const callerNumber = inbound ? external : user.number;
  let calleeNumber = inbound ? user.number : external;
  if (callType === "ByotInUserForwarded" || callType === "ByotOutUserForwarding") calleeNumber = forwardedTo;
  const transferred = callType === "ByotOutUserTransfer" || callType === "ByotInUserForwarded";

  const row: DirectRoutingRow = {
    id: directRoutingRowId(seed, slot.hour, slot.gen),
    correlationId: correlation(seed, slot.hour, slot.gen, 0xc00),
    callType,
    userId: user.id,
    userPrincipalName: user.userPrincipalName,
    userDisplayName: user.displayName,
    startDateTime: at(0),
    inviteDateTime: at(successful ? -ringMs : 0),
    ...(successful ? { endDateTime: at(duration * 1000) } : { failureDateTime: at(ringMs) }),
    duration,
    successfulCall: successful,
    callerNumber,
    calleeNumber,
    mediaBypassEnabled: trunk.mediaBypass,
    mediaPathLocation,
    signalingLocation,
    trunkFullyQualifiedDomainName: trunk.fqdn,
    finalSipCode: successful ? successCode : failure[0],
    finalSipCodePhrase: successful ? "BYE" : failure[1],
    callEndSubReason: successful ? (successCode === 200 ? 540200 : 0) : failure[2],
    transferorCorrelationId: transferred ? correlation(seed, slot.hour, slot.gen, 0xc10) : null,
    userCountryCode: user.country.code,
    otherPartyCountryCode: random.chance(0.03) ? null : other.code,
    administrativeUnitInfos: user.administrativeUnitIds.map((id) => ({ id })),
  };

  if (hasRowFaults(faults)) {
    applyRowFaults(row, new Random(hash(seed, slot.hour, slot.gen, SALT_FAULT)), faults, {
      start: "startDateTime",
      money: undefined,
    });
  }
  return row;
}

/** The row as v1.0 serves it: without beta's properties. */
export function v1DirectRoutingRow(row: DirectRoutingRow): DirectRoutingRow {
  const copy: Record<string, unknown> = { ...row };
  for (const key of BETA_ONLY) delete copy[key];
  return copy as DirectRoutingRow;
}

/** The row's JSON text as the version serves it (it has no money: JSON.stringify writes it all). */
export function serializeDirectRoutingRow(row: DirectRoutingRow, beta: boolean): string {
  return JSON.stringify(beta ? row : v1DirectRoutingRow(row));
}
