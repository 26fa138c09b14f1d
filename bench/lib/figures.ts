/** One line of the results table. */
export interface Figure {
  name: string;
  value: number | string;
  unit?: string;
  /** What the issue asks, e.g. "≥ 0.8". */
  target?: string;
  /** Whether the value meets the target, when there is one. */
  pass?: boolean;
}

/** A small table of its own under a benchmark's figures (one row per variant measured). */
export interface FigureTable {
  /** The first column's heading: what the rows vary, e.g. "compression". */
  title: string;
  /** The other columns' headings. */
  columns: string[];
  /** Each row: its name (the first column), then one value per column. */
  rows: { name: string; values: (number | string)[] }[];
}

export interface BenchResult {
  benchmark: string;
  /** The command and date of the run that measured it (set by run.ts). */
  command?: string;
  /** The commit measured. */
  source?: string;
  date?: string;
  /** The machine's 1-minute load average just before it started: > 0.5 means something else ran. */
  loadAverageBefore?: number;
  /** Wall time of the whole benchmark, setup included. */
  elapsedSeconds: number;
  figures: Figure[];
  /** Further tables, shown after the results table. */
  tables?: FigureTable[];
  /** Everything measured, for results.json. */
  details: Record<string, unknown>;
}

export const round = (value: number, digits = 0) => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};
