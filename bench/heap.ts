/**
 * What a heap snapshot holds: self size by kind and constructor (what takes the memory), largest first.
 *   npx tsx bench/heap.ts bench/results/tmp/<topic>.heapsnapshot [top]
 * The snapshot comes from `npm run bench -- --only memory --profile` (taken at half the rows).
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [path, topArg] = process.argv.slice(2);
if (!path) {
  process.stderr.write("usage: npx tsx bench/heap.ts <file.heapsnapshot> [top]\n");
  process.exit(2);
}
const top = Number(topArg ?? 30);
const heap = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
const fields = heap.snapshot.meta.node_fields;
const kinds = heap.snapshot.meta.node_types[0];
const width = fields.length;
const at = { type: fields.indexOf("type"), name: fields.indexOf("name"), size: fields.indexOf("self_size") };

const groups = new Map<string, { bytes: number; count: number }>();
let totalBytes = 0;
for (let i = 0; i < heap.nodes.length; i += width) {
  const kind = kinds[heap.nodes[i + at.type] as number] as string;
  const bytes = heap.nodes[i + at.size] as number;
  let name = heap.strings[heap.nodes[i + at.name] as number] ?? "";
  // Strings are grouped by kind, not by their text; other names are constructors or V8's own labels.
  if (kind === "string" || kind === "concatenated string" || kind === "sliced string") name = "";
  else if (name.length > 60) name = `${name.slice(0, 57)}…`;
  const key = `${kind}${name ? ` ${name}` : ""}`;
  const group = groups.get(key) ?? { bytes: 0, count: 0 };
  group.bytes += bytes;
  group.count++;
  groups.set(key, group);
  totalBytes += bytes;
}
process.stdout.write(`${path}: ${(totalBytes / 2 ** 20).toFixed(1)} MB reachable\n\n`);
for (const [key, { bytes, count }] of [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) {
  process.stdout.write(
    `${(bytes / 2 ** 20).toFixed(1).padStart(7)} MB ${String(count).padStart(9)}  ${key}\n`,
  );
}
