/**
 * The simulated tenant: its home country, users, administrative units and carriers, all derived
 * from the seed. Rows pick from these pools, so the same people keep calling.
 */
import { guid, hash, Random, Weighted } from "./random.js";

export interface Country {
  code: string;
  name: string;
  callingCode: string;
  nationalDigits: number;
  currency: "USD" | "EUR" | "GBP";
}

const c = (
  code: string,
  name: string,
  callingCode: string,
  nationalDigits: number,
  currency: Country["currency"],
): Country => ({
  code,
  name,
  callingCode,
  nationalDigits,
  currency,
});

/** Countries users call from (their usage country decides the currency). */
export const HOME_COUNTRIES: readonly Country[] = [
  c("US", "United States", "1", 10, "USD"),
  c("GB", "United Kingdom", "44", 10, "GBP"),
  c("DE", "Germany", "49", 11, "EUR"),
  c("FR", "France", "33", 9, "EUR"),
  c("NL", "Netherlands", "31", 9, "EUR"),
  c("IE", "Ireland", "353", 9, "EUR"),
];

/** Countries on the other end of a call. */
export const OTHER_COUNTRIES: readonly Country[] = [
  ...HOME_COUNTRIES,
  c("CA", "Canada", "1", 10, "USD"),
  c("IN", "India", "91", 10, "USD"),
  c("JP", "Japan", "81", 10, "USD"),
  c("AU", "Australia", "61", 9, "USD"),
  c("BR", "Brazil", "55", 11, "USD"),
  c("ES", "Spain", "34", 9, "EUR"),
  c("IT", "Italy", "39", 10, "EUR"),
  c("MX", "Mexico", "52", 10, "USD"),
];

const FIRST_NAMES: readonly string[] = (
  "Richard Adele Alex Allan Megan Diego Grady Henrietta Isaiah Johanna Joni Lee Lidia Lynne Miriam " +
  "Nestor Patti Pradeep Aiko Bjorn Chiara Dmitri Elif Fatima Gunnar Hana Ines Jonas Kenji Leila Mateo " +
  "Noor Oskar Priya Quentin Rosa Sven Tomasz Ulla Yusuf"
).split(" ");

const LAST_NAMES: readonly string[] = (
  "Malk Vance Wilber Deyoung Bowen Siciliani Archie Cerveny Langer Lauer Sherman Gu Holloway Robbins " +
  "Graham Wilke Fernandez Gupta Tanaka Nilsson Rossi Ivanov Yilmaz Haddad Berg Novak Moreau Becker Sato " +
  "Karimi Garcia Rahman Lindqvist Sharma Dubois Alvarez Olsen Kowalski Virtanen Demir"
).split(" ");

export const CARRIERS = ["Microsoft", "Contoso Telecom", "Fabrikam Voice", "Northwind Networks"] as const;

export interface User {
  id: string;
  userPrincipalName: string;
  displayName: string;
  country: Country;
  number: string;
  operator: string;
  licenseCapability: string;
  administrativeUnitIds: readonly string[];
  publicIpV4: string;
  publicIpV6: string;
  localIpV4: string;
  localIpV6: string;
}

export interface Population {
  tenantCountry: Country;
  users: readonly User[];
  /** Resource accounts of auto attendants and call queues (the ucap_* rows). */
  serviceNumbers: readonly string[];
  /** Dial-in numbers of audio conferencing (the conf_* rows). */
  bridgeNumbers: readonly string[];
}

const USER_COUNT = 400;
const UNIT_COUNTS = new Weighted([
  [0, 5],
  [1, 3.5],
  [2, 1.5],
]);
const LICENSES = new Weighted([
  ["MCOPSTNU", 3],
  ["MCOPSTN1", 3],
  ["MCOPSTN2", 2],
  ["MCOPSTNEAU2", 1],
]);

/** An E.164 number in `country`, its digits drawn from `random`. */
export function phoneNumber(random: Random, country: Country): string {
  const rest = country.nationalDigits - 1; // 8 to 10 digits: two draws of up to 5 each
  const high = String(random.int(0, 99_999)).padStart(rest - 5, "0");
  const low = String(random.int(0, 99_999)).padStart(5, "0");
  return `+${country.callingCode}${random.int(2, 9)}${high.slice(-(rest - 5))}${low}`;
}

function ipv4(random: Random): string {
  return `${random.int(20, 223)}.${random.int(0, 255)}.${random.int(0, 255)}.${random.int(1, 254)}`;
}

function hex16(random: Random): string {
  return random.int(0, 0xffff).toString(16);
}

function ipv6(random: Random): string {
  return `2${random.int(0, 0xfff).toString(16).padStart(3, "0")}:${hex16(random)}:${hex16(random)}:${hex16(random)}::${hex16(random)}`;
}

/**
 * Populations (about half a MB each) of the seeds read lately, the least recently used dropped
 * past the bound: a simulator of many tenants keeps those it serves, not one per tenant ever read.
 * A population is a pure function of its seed, so one dropped comes back the same.
 */
const cache = new Map<number, Population>();
const MAX_POPULATIONS = 64;
let lastSeed: number | undefined;

export function population(seed: number): Population {
  const known = cache.get(seed);
  if (known) {
    if (seed !== lastSeed) {
      cache.delete(seed);
      cache.set(seed, known);
      lastSeed = seed;
    }
    return known;
  }
  const random = new Random(hash(seed, 0x7e4a));
  const tenantCountry = random.weighted(
    new Weighted(HOME_COUNTRIES.map((country, i) => [country, i === 0 ? 6 : 1])),
  );
  const unitIds = Array.from({ length: 6 }, (_, i) =>
    guid(hash(seed, 0xa0, i), hash(seed, 0xa1, i), hash(seed, 0xa2, i), hash(seed, 0xa3, i)),
  );
  const domain = random.pick(["contoso.com", "fabrikam.onmicrosoft.com", "northwindtraders.com"]);
  const tenantOperator = random.chance(0.7) ? "Microsoft" : random.pick(CARRIERS);
  const users: User[] = [];
  const names = new Set<string>();
  for (let i = 0; i < USER_COUNT; i++) {
    const first = random.pick(FIRST_NAMES);
    const last = random.pick(LAST_NAMES);
    let alias = `${first.toLowerCase()}.${last.toLowerCase()}`;
    if (names.has(alias)) alias += String(i);
    names.add(alias);
    const country = random.chance(0.7) ? tenantCountry : random.pick(HOME_COUNTRIES);
    const units = random.weighted(UNIT_COUNTS);
    const unitStart = random.int(0, unitIds.length - 1);
    users.push({
      id: guid(hash(seed, 0xb0, i), hash(seed, 0xb1, i), hash(seed, 0xb2, i), hash(seed, 0xb3, i)),
      userPrincipalName: `${alias}@${domain}`,
      displayName: `${first} ${last}`,
      country,
      number: phoneNumber(random, country),
      operator: random.chance(0.85) ? tenantOperator : random.pick(CARRIERS),
      licenseCapability: random.weighted(LICENSES),
      administrativeUnitIds: Array.from(
        { length: units },
        (_, k) => unitIds[(unitStart + k) % unitIds.length] as string,
      ),
      publicIpV4: ipv4(random),
      publicIpV6: ipv6(random),
      localIpV4: `192.168.${random.int(0, 20)}.${random.int(2, 254)}`,
      localIpV6: ipv6(random),
    });
  }
  const serviceNumbers = Array.from({ length: 6 }, () => phoneNumber(random, tenantCountry));
  const bridgeNumbers = Array.from({ length: 3 }, () => phoneNumber(random, tenantCountry));
  const result: Population = { tenantCountry, users, serviceNumbers, bridgeNumbers };
  if (cache.size >= MAX_POPULATIONS) cache.delete(cache.keys().next().value as number);
  cache.set(seed, result);
  lastSeed = seed;
  return result;
}
