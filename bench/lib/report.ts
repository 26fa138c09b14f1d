/** results.json (everything) and RESULTS.md (the table), both under bench/results/. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { BenchResult, Figure, FigureTable } from "./figures.js";
import type { Machine } from "./machine.js";

export interface Report {
  command: string;
  date: string;
  /** The commit measured (src/ is compiled when the run starts). */
  source: string;
  machine: Machine;
  mode: "full" | "quick" | "custom";
  elapsedSeconds: number;
  results: BenchResult[];
  /** Benchmarks that failed, with why. */
  errors: { benchmark: string; error: string }[];
}

const ORDER = ["cpu-bound pipeline", "graph-bound backfill", "memory"];
const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));

function cell(figure: Figure): string {
  const value = `${figure.value}${figure.unit ? ` ${figure.unit}` : ""}`;
  return value.replaceAll("|", "\\|");
}

export function table(report: Report): string {
  const lines = ["| benchmark | figure | value | target |", "| --- | --- | --- | --- |"];
  for (const result of report.results) {
    for (const figure of result.figures) {
      const verdict = figure.pass === undefined ? "" : figure.pass ? " ✅" : " ❌";
      lines.push(
        `| ${result.benchmark} | ${figure.name} | ${cell(figure)} | ${figure.target ?? ""}${verdict} |`,
      );
    }
    lines.push(
      `| ${result.benchmark} | (benchmark's own wall time, setup included) | ${result.elapsedSeconds} s | |`,
    );
  }
  for (const { benchmark, error } of report.errors) {
    const firstLine = error.split("\n")[0] ?? "";
    lines.push(`| ${benchmark} | FAILED | ${firstLine.replaceAll("|", "\\|")} | |`);
  }
  for (const result of report.results) {
    for (const extra of result.tables ?? []) lines.push("", ...subTable(result.benchmark, extra));
  }
  return lines.join("\n");
}

function subTable(benchmark: string, t: FigureTable): string[] {
  const row = (cells: (number | string)[]) =>
    `| ${cells.map((c) => String(c).replaceAll("|", "\\|")).join(" | ")} |`;
  return [
    row([`${benchmark}: ${t.title}`, ...t.columns]),
    row(Array.from({ length: t.columns.length + 1 }, () => "---")),
    ...t.rows.map((r) => row([r.name, ...r.values])),
  ];
}

export function markdown(report: Report): string {
  const m = report.machine;
  return [
    "# Benchmark results",
    "",
    `\`${report.command}\` (${report.mode}) on ${report.source}, ${report.date}, ${report.elapsedSeconds} s in all.`,
    "",
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.ramGiB} GiB, ${m.os}, Node ${m.node}, Kafka ${m.kafka}, ${m.kcat}.`,
    "",
    ...report.results.map(
      (r) =>
        `- ${r.benchmark}: \`${r.command}\` on ${r.source}, ${r.date}, load average before: ${r.loadAverageBefore}`,
    ),
    "",
    table(report),
    "",
    "Every figure, with how it was measured: `results.json`; what each means: `../README.md`.",
    "",
  ].join("\n");
}

/**
 * Writes both files with the given base name (results / results-quick). A run of some of the
 * benchmarks (--only) keeps the others' last results, each with its own command and date.
 */
export function writeReport(report: Report, base: string): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const json = `${RESULTS_DIR}${base}.json`;
  const md = `${RESULTS_DIR}${base === "results" ? "RESULTS" : base.toUpperCase()}.md`;
  if (existsSync(json)) {
    const previous = JSON.parse(readFileSync(json, "utf8")) as Report;
    // A benchmark that failed this time keeps its last result (dated, with its commit) beside the error.
    const ran = new Set(report.results.map((r) => r.benchmark));
    const kept = (previous.results ?? []).filter((r) => !ran.has(r.benchmark));
    report.results = [...kept, ...report.results].sort(
      (a, b) => ORDER.indexOf(a.benchmark) - ORDER.indexOf(b.benchmark),
    );
  }
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(md, markdown(report));
  return [json, md];
}
