/**
 * The long crash run: at least 50 SIGKILLs of `pstn-connector run` at random moments, half during a
 * backfill and half during live polling with late rows, against the local stack and the Graph
 * simulator; then a read_committed count of the topic against the simulator's ground truth.
 *
 *   npx tsx bench/crash-loop.ts [kills=50] [seed=1]      (needs `npm run build` first)
 *
 * Writes bench/results/crash-loop.json and prints a summary.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { crashLoop } from "../test/support/crash-loop.js";
import { stackDown, stackUp } from "../tools/stack/index.js";

const kills = Number(process.argv[2] ?? 50);
const seed = Number(process.argv[3] ?? 1);
const logDir = fileURLToPath(new URL(`./results/tmp/crash-loop-${seed}`, import.meta.url));
mkdirSync(logDir, { recursive: true });
const stack = await stackUp({ progress: (line) => process.stderr.write(`stack: ${line}\n`) });
try {
  const result = await crashLoop({
    stack: { brokers: stack.brokers, registryUrl: stack.registryUrl, stop: async () => undefined },
    backfillKills: Math.ceil(kills / 2),
    liveKills: Math.floor(kills / 2),
    historyDays: 90,
    callsPerHour: 120,
    seed,
    log: (line) => process.stderr.write(`${line}\n`),
    logDir,
  });
  const summary = {
    command: `npx tsx bench/crash-loop.ts ${kills} ${seed}`,
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    date: new Date().toISOString(),
    kills: result.kills.length,
    killsDuringBackfill: result.kills.filter((k) => k.phase === "backfill").length,
    killsDuringLive: result.kills.filter((k) => k.phase === "live").length,
    rowsExpected: result.rowsExpected,
    rowsOnTopic: result.rowsOnTopic,
    duplicates: result.duplicates,
    missing: result.missing,
    extra: result.extra,
    retryAfterViolations: result.retryAfterViolations,
    graphRequests: result.graphRequests,
    elapsedSeconds: Math.round(result.elapsedMs / 1000),
    killLog: result.kills,
  };
  writeFileSync(
    fileURLToPath(new URL("./results/crash-loop.json", import.meta.url)),
    `${JSON.stringify(summary, null, 2)}\n`,
  );
  const { killLog: _, ...short } = summary;
  process.stdout.write(`${JSON.stringify(short, null, 2)}\n`);
  process.exitCode = result.duplicates === 0 && result.missing === 0 && result.extra === 0 ? 0 : 1;
} finally {
  if (!stack.reused) await stackDown({ nodes: 1 });
}
