/** "Did you mean …?" for misspelled variable names and values. */

/** Edit distance counting insertions, deletions, substitutions and swaps of neighbours as one edit each. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * Whether `candidate` reads as a misspelling of `known`: at most two edits, and the edits are a small
 * part of what differs. A shared first word is left out of that comparison, so `KAFKA_URL` (another
 * tool's variable) is not taken for `KAFKA_SSL`, while `LOOKBAK` and `POLL_INTERVALL` are caught.
 */
export function isMisspelling(candidate: string, known: string): boolean {
  const distance = editDistance(candidate, known);
  if (distance === 0 || distance > 2) return false;
  const [a, b] = withoutSharedFirstWord(candidate, known);
  return distance * 3 <= Math.max(a.length, b.length);
}

/** The known name `candidate` most likely misspells, if any. */
export function closestName(candidate: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    if (!isMisspelling(candidate, name)) continue;
    const distance = editDistance(candidate, name);
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * For a name that is no misspelling: the known names under the same `prefix` sharing the most words
 * with it (`KAFKA_SSL_CA_LOCATION` → `KAFKA_SSL_CA_FILE`), closest spelling first, at most `limit`;
 * none when no word beyond the prefix is shared.
 */
export function relatedNames(
  candidate: string,
  known: Iterable<string>,
  prefix: string,
  limit = 3,
): string[] {
  const words = (name: string): string[] => name.slice(prefix.length).split("_").filter(Boolean);
  const wanted = words(candidate);
  // A word counts as shared when equal or a short inflection of it: BROKER and BROKERS.
  const same = (a: string, b: string): boolean =>
    a === b ||
    (Math.min(a.length, b.length) >= 3 &&
      Math.abs(a.length - b.length) <= 2 &&
      (a.startsWith(b) || b.startsWith(a)));
  const scored = [...known]
    .filter((name) => name.startsWith(prefix))
    .map((name) => ({
      name,
      shared: words(name).filter((word) => wanted.some((w) => same(w, word))).length,
      distance: editDistance(candidate, name),
    }))
    .filter((entry) => entry.shared > 0);
  const most = Math.max(0, ...scored.map((entry) => entry.shared));
  return scored
    .filter((entry) => entry.shared === most)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit)
    .map((entry) => entry.name);
}

function withoutSharedFirstWord(a: string, b: string): [string, string] {
  const cutA = a.indexOf("_");
  const cutB = b.indexOf("_");
  if (cutA > 0 && cutA === cutB && a.slice(0, cutA) === b.slice(0, cutB))
    return [a.slice(cutA + 1), b.slice(cutB + 1)];
  return [a, b];
}
