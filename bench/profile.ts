/**
 * Where a CPU profile's time went: self time by package (or src/ file) and by function.
 *   npx tsx bench/profile.ts bench/results/tmp/<topic>.cpuprofile [top]
 * The profile comes from `npm run bench -- --only cpu --profile` (the pipeline's main thread).
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [path, topArg] = process.argv.slice(2);
if (!path) {
  process.stderr.write("usage: npx tsx bench/profile.ts <file.cpuprofile> [top]\n");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** node_modules/<package>, src/<file>, node:<module>, or what V8 calls it ((garbage collector), …). */
function owner(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1] as string;
  const source = /\/((?:src|bench)\/.+)$/.exec(url);
  if (source) return (source[1] as string).replace(/\.js$/, "");
  return url.replace(/^file:\/\//, "");
}

const byOwner = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = (byId.get(id) as ProfileNode).callFrame;
  const who = owner(frame.url, frame.functionName);
  byOwner.set(who, (byOwner.get(who) ?? 0) + us);
  const fn = `${frame.functionName || "(anonymous)"} ${who}:${frame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
}
const print = (title: string, entries: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, us] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(
      `${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s  ${name}\n`,
    );
  }
};
process.stdout.write(`${path}: ${(totalUs / 1e6).toFixed(1)} s sampled on the main thread\n`);
print("self time by owner", byOwner);
print("self time by function", byFunction);
