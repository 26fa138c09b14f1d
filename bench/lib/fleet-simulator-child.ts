/**
 * The fleet benchmark's Graph simulator in its own process: one simulator serving every tenant of
 * the fleet (option `tenants`, one multi-tenant app), its rows coming as the clock moves (no
 * `dataEnd`). Started by fleet-simulator.ts with its spec as JSON in argv[2]; answers over IPC:
 * "sample" (its CPU time and the fleet's Graph stats) and "truth" (every row visible now, with
 * the instant it became visible); exits on "close" or when the parent goes.
 */
import { STREAMS, type StreamName, startGraphSimulator } from "../../tools/simulator/index.js";
import type {
  FleetChildRequest,
  FleetChildResponse,
  FleetSimulatorSpec,
  TruthUnit,
} from "./fleet-simulator.js";

const spec = JSON.parse(process.argv[2] ?? "{}") as FleetSimulatorSpec;
const [main, ...others] = spec.tenants;
if (main === undefined) throw new Error("the fleet simulator needs at least one tenant");
const delay = { min: spec.visibilityDelayMs, max: spec.visibilityDelayMs };
const sim = await startGraphSimulator({
  seed: spec.seed,
  tenantId: main.tenantId,
  clientSecret: spec.clientSecret,
  dataStart: new Date(spec.dataStart),
  callsPerHour: main.callsPerHour,
  pageSize: 1000,
  visibilityDelayMs: delay,
  tenants: others.map((tenant) => ({ tenantId: tenant.tenantId, callsPerHour: tenant.callsPerHour })),
});

const send = (message: FleetChildResponse) => process.send?.(message);

/**
 * Every row visible now, per tenant and stream, with its visible-at instant. The delivery model
 * makes a row visible at its start + a delay drawn in `visibilityDelayMs`; the benchmark gives that
 * range no width, so the instant is exactly start + the delay.
 */
function truth(): TruthUnit[] {
  const units: TruthUnit[] = [];
  for (const tenantId of sim.tenants()) {
    const tenant = sim.tenant(tenantId);
    for (const stream of Object.keys(STREAMS) as StreamName[]) {
      const field = STREAMS[stream].startField;
      const rows = tenant.streams[stream].visibleRows() as unknown as Record<string, unknown>[];
      units.push({
        tenant: tenantId,
        stream,
        ids: rows.map((row) => String(row.id)),
        visibleAt: rows.map((row) => Date.parse(String(row[field])) + spec.visibilityDelayMs),
      });
    }
  }
  return units;
}

send({ type: "ready", url: sim.url, caCertificatePem: sim.caCertificatePem, clientId: sim.clientId });
process.on("message", (message: FleetChildRequest) => {
  if (message.type === "sample") {
    const cpu = process.cpuUsage();
    send({ type: "sample", cpuMs: (cpu.user + cpu.system) / 1000, stats: sim.totalStats() });
  } else if (message.type === "truth") {
    send({ type: "truth", units: truth(), atMs: Date.now() });
  } else if (message.type === "close") {
    void sim.close().finally(() => process.exit(0));
  }
});
process.on("disconnect", () => process.exit(0));
