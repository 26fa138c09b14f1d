/**
 * A set of row ids in little memory. Graph's ids are GUIDs: one in its canonical lower-case text
 * (`8-4-4-4-12` hex digits) is kept as its 16 bytes in an open-addressing table, about a third of
 * what its string in a `Set` takes; every other id (another shape, upper case, the nil GUID, a
 * content hash) is kept as text. The mapping is exact: two ids share an entry only if their text
 * is equal.
 */
export class IdTable {
  /** Four 32-bit words per slot; a slot of four zeros is free (the nil GUID goes to `texts`). */
  private words = new Uint32Array(INITIAL_SLOTS * 4);
  private guids = 0;
  private texts: Set<string> | undefined;

  get size(): number {
    return this.guids + (this.texts?.size ?? 0);
  }

  has(id: string): boolean {
    if (!parseGuid(id)) return this.texts?.has(id) ?? false;
    return find(this.words, parsed, 0) >= 0;
  }

  /** Returns false when the id was already there. */
  add(id: string): boolean {
    if (!parseGuid(id)) {
      this.texts ??= new Set();
      if (this.texts.has(id)) return false;
      this.texts.add(id);
      return true;
    }
    if (find(this.words, parsed, 0) >= 0) return false;
    if ((this.guids + 1) * 4 > (this.words.length / 4) * 3) this.grow();
    insert(this.words, parsed, 0);
    this.guids++;
    return true;
  }

  private grow(): void {
    const old = this.words;
    this.words = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += 4) if (!isFree(old, at)) insert(this.words, old, at);
  }
}

const INITIAL_SLOTS = 16;

/** The GUID `parseGuid` read last, as four words. */
const parsed = new Uint32Array(4);

function isFree(words: Uint32Array, at: number): boolean {
  return (
    ((words[at] as number) |
      (words[at + 1] as number) |
      (words[at + 2] as number) |
      (words[at + 3] as number)) ===
    0
  );
}

function sameGuid(words: Uint32Array, at: number, guid: Uint32Array, from: number): boolean {
  for (let i = 0; i < 4; i++) if (words[at + i] !== guid[from + i]) return false;
  return true;
}

/** Where in `words` the GUID at `guid[from]` lies, or -1. */
function find(words: Uint32Array, guid: Uint32Array, from: number): number {
  const mask = words.length / 4 - 1;
  for (let slot = slotOf(guid, from, mask); ; slot = (slot + 1) & mask) {
    if (isFree(words, slot * 4)) return -1;
    if (sameGuid(words, slot * 4, guid, from)) return slot * 4;
  }
}

/** Puts the GUID at `guid[from]` into the first free slot of its probe sequence. */
function insert(words: Uint32Array, guid: Uint32Array, from: number): void {
  const mask = words.length / 4 - 1;
  let slot = slotOf(guid, from, mask);
  while (!isFree(words, slot * 4)) slot = (slot + 1) & mask;
  words.set(guid.subarray(from, from + 4), slot * 4);
}

/** Where the probe for a GUID starts: its four words mixed (GUIDs are not all random). */
function slotOf(guid: Uint32Array, from: number, mask: number): number {
  let h = Math.imul((guid[from] as number) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (guid[from + 1] as number) ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (guid[from + 2] as number) ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (guid[from + 3] as number) ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

/** Dashes of the canonical text, and where each word's eight hex digits lie around them. */
const WORD_DIGITS: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7],
  [9, 10, 11, 12, 14, 15, 16, 17],
  [19, 20, 21, 22, 24, 25, 26, 27],
  [28, 29, 30, 31, 32, 33, 34, 35],
];

/**
 * Parses a canonical lower-case GUID other than the nil one into `parsed`; false for any other
 * text, which then keeps its own entry.
 */
export function parseGuid(id: string): boolean {
  if (id.length !== 36) return false;
  if (
    id.charCodeAt(8) !== 45 ||
    id.charCodeAt(13) !== 45 ||
    id.charCodeAt(18) !== 45 ||
    id.charCodeAt(23) !== 45
  )
    return false;
  let any = 0;
  for (let w = 0; w < 4; w++) {
    let word = 0;
    for (const at of WORD_DIGITS[w] as readonly number[]) {
      const c = id.charCodeAt(at);
      const digit = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1;
      if (digit < 0) return false;
      word = (word << 4) | digit;
    }
    parsed[w] = word >>> 0;
    any |= word;
  }
  return any !== 0;
}
