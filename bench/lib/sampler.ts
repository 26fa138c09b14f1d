/** Samples this process every 250 ms (RSS, heap, and whatever the benchmark adds) and its CPU time. */

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
  /** User + system CPU of this process (main thread and libuv pool: gzip, TLS) over the run. */
  cpuMs: number;
  peakRssMb: number;
  peakHeapUsedMb: number;
  samples: Sample[];
}

const MB = 2 ** 20;
const round1 = (n: number) => Math.round(n * 10) / 10;

export class Probe {
  private readonly samples: Sample[] = [];
  private readonly started = performance.now();
  private readonly cpu = process.cpuUsage();
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
    return {
      wallMs: Math.round(performance.now() - this.started),
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
