/** What the figures were measured on. */
import { cpus, release, totalmem } from "node:os";

export interface Machine {
  cores: number;
  cpuModel: string;
  ramGiB: number;
  os: string;
  node: string;
  kafka: string;
  kcat: string;
}

export function describeMachine(kafka: string, kcat: string | undefined): Machine {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()}`,
    node: process.version,
    kafka,
    kcat: kcat ?? "not installed",
  };
}
