/** Samples this process every 250 ms (RSS, heap, and whatever the benchmark adds) and its CPU time. */
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

export interface Sample {
  /** Since the probe started. */
  ms: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  /** Memory outside the V8 heap held by JS objects: Buffers (messages, pages, gzip output). */
  externalMb: number;
  /** Benchmark-specific readings, e.g. rows published or the dedupe gauge. */
  [extra: string]: number;
}

export interface ProbeResult {
  wallMs: number;
  /**
   * Cores busy on the whole machine over the run (Linux /proc/stat): this process, its simulator,
   * Kafka and the registry, and anything else running; undefined elsewhere.
   */
  machineBusyCores: number | undefined;
  /** User + system CPU of this process (main thread and libuv pool: gzip, TLS) over the run. */
  cpuMs: number;
  peakRssMb: number;
  peakHeapUsedMb: number;
  samples: Sample[];
}

const MB = 2 ** 20;
const round1 = (n: number) => Math.round(n * 10) / 10;
const round2 = (n: number) => Math.round(n * 100) / 100;

/** Busy and total jiffies of all CPUs since boot, from /proc/stat; undefined off Linux. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return total > 0 ? { busy: total - idle, total } : undefined;
  } catch {
    return undefined;
  }
}

export class Probe {
  private readonly samples: Sample[] = [];
  private readonly started = performance.now();
  private readonly cpu = process.cpuUsage();
  private readonly machine = machineCpu();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly extra: () => Record<string, number> = () => ({}),
    intervalMs = 250,
  ) {
    this.take();
    this.timer = setInterval(() => this.take(), intervalMs);
  }

  /** Takes a last sample and returns the figures. */
  stop(): ProbeResult {
    clearInterval(this.timer);
    this.take();
    const cpu = process.cpuUsage(this.cpu);
    const machine = machineCpu();
    return {
      wallMs: Math.round(performance.now() - this.started),
      machineBusyCores:
        machine && this.machine
          ? round2(
              ((machine.busy - this.machine.busy) / (machine.total - this.machine.total)) * cpus().length,
            )
          : undefined,
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      peakRssMb: Math.max(...this.samples.map((s) => s.rssMb)),
      peakHeapUsedMb: Math.max(...this.samples.map((s) => s.heapUsedMb)),
      samples: this.samples,
    };
  }

  private take(): void {
    const memory = process.memoryUsage();
    this.samples.push({
      ms: Math.round(performance.now() - this.started),
      rssMb: round1(memory.rss / MB),
      heapUsedMb: round1(memory.heapUsed / MB),
      heapTotalMb: round1(memory.heapTotal / MB),
      externalMb: round1(memory.external / MB),
      ...this.extra(),
    });
  }
}

/** CPU time of this process spent in `fn` (synchronous work only). */
export function cpuOf(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}
