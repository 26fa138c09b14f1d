/**
 * Deterministic, allocation-free randomness for the simulator: every value is a pure function of
 * the seed and the coordinates of what it describes (hour bucket, row number, request number), so
 * a bucket can be rebuilt at any time and comes out identical.
 */

/** murmur3's 32-bit finaliser: a bijection on uint32 with good avalanche. */
export function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of a few integers (each taken modulo 2^32). */
export function hash(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    h = fmix32(h ^ fmix32((part >>> 0) + 0x7f4a7c15));
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  return fmix32(h);
}

/** A small seeded generator (mulberry32): `next()` returns a float in [0, 1). */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Next uint32. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks from a weighted table. */
  weighted<T>(table: Weighted<T>): T {
    return table.pick(this.next());
  }

  /** A standard normal deviate (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A Poisson deviate: exact (Knuth) for small means, normal approximation above 60. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 60) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let count = 0;
    let product = this.next();
    while (product > limit) {
      count++;
      product *= this.next();
    }
    return count;
  }
}

/** Values with weights, prepared once so that picking allocates nothing. */
export class Weighted<T> {
  private readonly values: readonly T[];
  private readonly bounds: Float64Array;

  constructor(choices: readonly (readonly [T, number])[]) {
    this.values = choices.map(([value]) => value);
    this.bounds = new Float64Array(choices.length);
    let total = 0;
    for (const [i, [, weight]] of choices.entries()) {
      total += weight;
      this.bounds[i] = total;
    }
    for (let i = 0; i < this.bounds.length; i++) this.bounds[i] = (this.bounds[i] as number) / total;
  }

  /** The value whose share of [0, 1) holds `roll`. */
  pick(roll: number): T {
    const last = this.values.length - 1;
    for (let i = 0; i < last; i++) if (roll < (this.bounds[i] as number)) return this.values[i] as T;
    return this.values[last] as T;
  }
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex32(value: number): string {
  return (
    (HEX[(value >>> 24) & 0xff] as string) +
    (HEX[(value >>> 16) & 0xff] as string) +
    (HEX[(value >>> 8) & 0xff] as string) +
    (HEX[value & 0xff] as string)
  );
}

/**
 * A version-4-shaped GUID from four uint32 words. The first word and the first 32 bits of the last
 * group are kept intact, so callers that put a bijection of their coordinates there get ids that
 * are unique by construction.
 */
export function guid(a: number, b: number, c: number, d: number): string {
  const bHex = hex32(b);
  const cHex = hex32(((c & 0x0fffffff) | 0x40000000) >>> 0);
  const variant = (((c >>> 28) & 0x3) | 0x8).toString(16);
  return `${hex32(a)}-${bHex.slice(0, 4)}-${cHex.slice(0, 4)}-${variant}${bHex.slice(4, 7)}-${hex32(d)}${cHex.slice(4, 8)}`;
}

/**
 * A row id unique within a stream by construction: a Feistel bijection over (hour, number) fills
 * two of the GUID's words, under the stream's own `key`.
 */
export function feistelRowId(key: number, hour: number, gen: number): string {
  let left = hour >>> 0;
  let right = gen >>> 0;
  left = (left ^ fmix32((right + hash(key, 1)) >>> 0)) >>> 0;
  right = (right ^ fmix32((left + hash(key, 2)) >>> 0)) >>> 0;
  left = (left ^ fmix32((right + hash(key, 3)) >>> 0)) >>> 0;
  return guid(left, hash(key, hour, gen, 4), hash(key, hour, gen, 5), right);
}
