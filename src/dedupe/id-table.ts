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
    return this.find(this.words) >= 0;
  }

  /** Returns false when the id was already there. */
  add(id: string): boolean {
    if (!parseGuid(id)) {
      this.texts ??= new Set();
      if (this.texts.has(id)) return false;
      this.texts.add(id);
      return true;
    }
    if (this.find(this.words) >= 0) return false;
    if ((this.guids + 1) * 4 > (this.words.length / 4) * 3) {
      this.grow();
      // Growing moved every entry through `parsed`: this id is parsed again.
      parseGuid(id);
    }
    insert(this.words);
    this.guids++;
    return true;
  }

  /** The slot of the GUID in `parsed`, or -1. */
  private find(words: Uint32Array): number {
    const mask = words.length / 4 - 1;
    for (let slot = slotOf(mask); ; slot = (slot + 1) & mask) {
      const at = slot * 4;
      const w0 = words[at] as number;
      const w1 = words[at + 1] as number;
      const w2 = words[at + 2] as number;
      const w3 = words[at + 3] as number;
      if ((w0 | w1 | w2 | w3) === 0) return -1;
      if (w0 === parsed[0] && w1 === parsed[1] && w2 === parsed[2] && w3 === parsed[3]) return slot;
    }
  }

  private grow(): void {
    const old = this.words;
    const words = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += 4) {
      if (
        ((old[at] as number) |
          (old[at + 1] as number) |
          (old[at + 2] as number) |
          (old[at + 3] as number)) ===
        0
      )
        continue;
      parsed.set(old.subarray(at, at + 4));
      insert(words);
    }
    this.words = words;
  }
}

const INITIAL_SLOTS = 16;

/** The last GUID parsed, as four words: the table's methods read it (one parse per call). */
const parsed = new Uint32Array(4);

/** Puts the GUID in `parsed` into the first free slot of its probe sequence. */
function insert(words: Uint32Array): void {
  const mask = words.length / 4 - 1;
  let slot = slotOf(mask);
  while (
    ((words[slot * 4] as number) |
      (words[slot * 4 + 1] as number) |
      (words[slot * 4 + 2] as number) |
      (words[slot * 4 + 3] as number)) !==
    0
  )
    slot = (slot + 1) & mask;
  words.set(parsed, slot * 4);
}

/** Where the probe for the GUID in `parsed` starts: its words mixed (GUIDs are not all random). */
function slotOf(mask: number): number {
  let h = Math.imul((parsed[0] as number) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (parsed[1] as number) ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (parsed[2] as number) ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (parsed[3] as number) ^ (h >>> 13), 0xc2b2ae35);
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
