/**
 * Another process's figures from Linux's /proc: its memory (VmRSS, and VmHWM, the peak the kernel
 * kept), its CPU time (utime + stime of all its threads) and its established TCP connections to a
 * set of endpoints (its socket inodes in /proc/<pid>/fd matched against /proc/net/tcp and tcp6).
 */
import { spawnSync } from "node:child_process";
import { lookup } from "node:dns/promises";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const TCP_ESTABLISHED = "01";

/** Clock ticks a second (utime and stime are counted in them); 100 on Linux unless told otherwise. */
const CLOCK_TICKS = (() => {
  const ticks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim());
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
})();

export interface ProcMemory {
  rssMb: number;
  /** The resident set's high-water mark since the process started. */
  hwmMb: number;
}

/** VmRSS and VmHWM; undefined once the process is gone. */
export function procMemory(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN);
  return { rssMb: round1(kb("VmRSS") / 1024), hwmMb: round1(kb("VmHWM") / 1024) };
}

/** User + system CPU seconds of every thread of the process so far; undefined once it is gone. */
export function procCpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/** `ip:port` of each endpoint, the host names resolved (all their addresses). */
export async function resolveEndpoints(hostPorts: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const hostPort of hostPorts) {
    const at = hostPort.lastIndexOf(":");
    const host = hostPort.slice(0, at).replace(/^\[|\]$/g, "");
    const port = hostPort.slice(at + 1);
    const addresses = await lookup(host, { all: true }).catch(() => [{ address: host }]);
    for (const { address } of addresses) out.add(`${address}:${port}`);
  }
  return out;
}

/** An address of /proc/net/tcp (little-endian words, hex) as text; v4-mapped v6 as plain v4. */
function decodeAddress(hex: string): string {
  const [ip = "", port = "0"] = hex.split(":");
  const words = (ip.match(/.{8}/g) ?? []).map((word) =>
    (word.match(/../g) ?? []).reverse().map((byte) => Number.parseInt(byte, 16)),
  );
  const bytes = words.flat();
  let text: string;
  if (bytes.length === 4) text = bytes.join(".");
  else if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    text = bytes.slice(12).join(".");
  else {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
    text = groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
  }
  return `${text}:${Number.parseInt(port, 16)}`;
}

/** Socket inode → remote `ip:port` of every established TCP connection of this network namespace. */
export function establishedConnections(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== TCP_ESTABLISHED) continue;
      out.set(fields[9] as string, decodeAddress(fields[2] as string));
    }
  }
  return out;
}

/**
 * How many of the process's sockets are established connections to one of `endpoints`;
 * undefined once it is gone. `connections` from {@link establishedConnections}, read once for all
 * the processes sampled at one instant.
 */
export function connectionsTo(
  pid: number,
  endpoints: ReadonlySet<string>,
  connections: ReadonlyMap<string, string>,
): number | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  let count = 0;
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode === undefined) continue;
    const remote = connections.get(inode);
    if (remote !== undefined && endpoints.has(remote)) count++;
  }
  return count;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
