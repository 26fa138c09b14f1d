/**
 * The Graph simulator in its own process, so that the benchmark's process measures the connector
 * alone. Started by simulator-process.ts with its options as JSON in argv[2]; answers "sample"
 * with its CPU time and the simulator's stats over IPC; exits on "close" or when the parent goes.
 */
import { startGraphSimulator } from "../../tools/simulator/index.js";
import type { ChildRequest, ChildResponse, SimulatorSpec } from "./simulator-process.js";

const spec = JSON.parse(process.argv[2] ?? "{}") as SimulatorSpec;
const sim = await startGraphSimulator({
  seed: spec.seed,
  dataStart: new Date(spec.dataStart),
  dataEnd: new Date(spec.dataEnd),
  callsPerHour: spec.callsPerHour,
  pageSize: spec.pageSize,
  clientSecret: spec.clientSecret,
  cachePages: spec.cachePages,
  faults: {
    ...(spec.pageLatencyMs ? { pageLatencyMs: spec.pageLatencyMs } : {}),
    ...(spec.budget ? { budget: spec.budget } : {}),
  },
});

const send = (message: ChildResponse) => process.send?.(message);
send({
  type: "ready",
  url: sim.url,
  caCertificatePem: sim.caCertificatePem,
  tenantId: sim.tenantId,
  clientId: sim.clientId,
});
process.on("message", (message: ChildRequest) => {
  if (message.type === "sample") {
    const cpu = process.cpuUsage();
    send({ type: "sample", cpuMs: (cpu.user + cpu.system) / 1000, stats: sim.stats() });
  } else if (message.type === "close") {
    void sim.close().finally(() => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
