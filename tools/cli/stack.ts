import { type Command, parseCommandArgs, parseIntegerOption } from "../../src/cli/command.js";
import { ErrorCode, PstnError } from "../../src/errors.js";
import { DEFAULT_PORTS, DEFAULT_START_TIMEOUT_MS, stackDown, stackStatus, stackUp } from "../stack/index.js";

const help = `Usage: pstn-connector stack <up|down|status> [options]

Runs a real Apache Kafka (KRaft) and a Confluent-compatible schema registry (Apicurio Registry) as
local JVM processes, for the demo and the tests. The first 'up' resolves them from Maven Central into
the cache (PSTN_STACK_CACHE, default ~/.cache/pstn-connector); later starts are offline.

  up        start the stack, or reuse the running one; waits until both answer, then prints
            KAFKA_BROKERS=... and SCHEMA_REGISTRY_URL=... on stdout (nothing else): eval "$(... stack up)"
            A fresh start begins with empty servers.
  down      stop the processes a stack started, by PID (all stacks, or the one of --nodes)
  status    show what runs where, with PIDs and log files, and the secure listeners with the
            file holding their certificates and credentials

Options:
  --nodes <1|3>          1 (default) or a 3-node cluster (replication factor 3, min ISR 2)
  --kafka-port <port>    first broker port; node i uses port+2i, its controller port+2i+1
                         (default ${DEFAULT_PORTS[1].kafka}; ${DEFAULT_PORTS[3].kafka} with --nodes 3)
  --sasl-ssl-port <port> single node: the SASL_SSL listener (SCRAM-SHA-512/256, PLAIN, OAUTHBEARER)
                         (default kafka port + 2)
  --mtls-port <port>     single node: the SSL listener requiring a client certificate
                         (default kafka port + 3)
  --registry-port <port> registry HTTP port, management on port+10
                         (default ${DEFAULT_PORTS[1].registry}; ${DEFAULT_PORTS[3].registry} with --nodes 3)
  --timeout <seconds>    how long 'up' waits for the servers (default ${DEFAULT_START_TIMEOUT_MS / 1000})
  -h, --help             this help
`;

export const stackCommand: Command = {
  name: "stack",
  summary: "start, stop or show the local Kafka and schema registry (up | down | status)",
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      nodes: { type: "string" },
      "kafka-port": { type: "string" },
      "registry-port": { type: "string" },
      "sasl-ssl-port": { type: "string" },
      "mtls-port": { type: "string" },
      timeout: { type: "string" },
    });
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const [action, ...extra] = positionals;
    if (extra.length > 0) throw new PstnError(ErrorCode.USAGE, `unexpected argument: ${extra.join(" ")}`);
    const nodesOption = parseIntegerOption("nodes", values.nodes, 1, 3);
    if (nodesOption !== undefined && nodesOption !== 1 && nodesOption !== 3) {
      throw new PstnError(ErrorCode.USAGE, `--nodes: ${nodesOption} is not supported; use 1 or 3`);
    }
    const nodes = nodesOption as 1 | 3 | undefined;

    switch (action) {
      case "up": {
        const timeout = parseIntegerOption("timeout", values.timeout, 1, 3600);
        const info = await stackUp({
          nodes: nodes ?? 1,
          kafkaPort: parseIntegerOption("kafka-port", values["kafka-port"], 1024, 65_000),
          registryPort: parseIntegerOption("registry-port", values["registry-port"], 1024, 65_000),
          saslSslPort: parseIntegerOption("sasl-ssl-port", values["sasl-ssl-port"], 1024, 65_000),
          mtlsPort: parseIntegerOption("mtls-port", values["mtls-port"], 1024, 65_000),
          timeoutMs: timeout === undefined ? undefined : timeout * 1000,
          progress: (message) => process.stderr.write(`stack: ${message}\n`),
        });
        if (info.reused)
          process.stderr.write(`stack: ${info.state.name} already running since ${info.state.startedAt}\n`);
        process.stdout.write(
          `KAFKA_BROKERS=${info.brokers.join(",")}\nSCHEMA_REGISTRY_URL=${info.registryUrl}\n`,
        );
        return 0;
      }
      case "down": {
        const results = await stackDown({ nodes });
        if (results.length === 0) process.stderr.write("stack: nothing to stop\n");
        for (const result of results) {
          const stopped =
            result.stopped.map((s) => `${s.role} (pid ${s.pid})`).join(", ") || "no process was running";
          process.stderr.write(`stack: ${result.name} stopped: ${stopped}\n`);
        }
        return 0;
      }
      case "status": {
        const statuses = await stackStatus();
        if (statuses.length === 0) process.stdout.write("no stack is running\n");
        for (const status of statuses) {
          const up = status.servers.every((server) => server.running);
          process.stdout.write(`${status.name}: ${up ? "running" : "DEGRADED"} since ${status.startedAt}\n`);
          process.stdout.write(
            `  KAFKA_BROKERS=${status.brokers.join(",")}\n  SCHEMA_REGISTRY_URL=${status.registryUrl}\n`,
          );
          if (status.security !== undefined) {
            process.stdout.write(
              `  SASL_SSL ${status.security.saslSsl} (SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, OAUTHBEARER)\n  mTLS     ${status.security.mtls} (client certificate required)\n  certificates and credentials: ${status.securityFile}\n`,
            );
          }
          for (const server of status.servers) {
            process.stdout.write(
              `  ${server.role.padEnd(16)} ${server.running ? "up  " : "DOWN"} pid ${String(server.pid).padEnd(8)} ${server.address}  log ${server.logFile}\n`,
            );
          }
        }
        return 0;
      }
      case undefined:
        throw new PstnError(ErrorCode.USAGE, "stack: say up, down or status (see --help)");
      default:
        throw new PstnError(ErrorCode.USAGE, `stack: unknown action "${action}"; use up, down or status`);
    }
  },
};
