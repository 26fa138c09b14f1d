#!/usr/bin/env node
import { ErrorCode, isPstnError } from "../errors.js";
import { checkCommand } from "./check.js";
import type { Command } from "./command.js";
import { demoCommand } from "./demo.js";
import { backfillCommand, runCommand } from "./run.js";
import { simulateCommand } from "./simulate.js";
import { stackCommand } from "./stack.js";

const commands: readonly Command[] = [
  runCommand,
  backfillCommand,
  demoCommand,
  simulateCommand,
  checkCommand,
  stackCommand,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return `Usage: pstn-connector <command> [options]

Microsoft Teams PSTN call logs (Graph getPstnCalls) into Kafka as Avro.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Run 'pstn-connector <command> --help' for a command's options.
`;
}

/** Node 24 LTS is the runtime supported and tested; Node 20 is past its end of life. */
const MIN_NODE_MAJOR = 24;

async function main(argv: string[]): Promise<number> {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    process.stderr.write(
      `pstn-connector: needs Node.js ${MIN_NODE_MAJOR} or newer, this is ${process.version}; from a clone, \`npm ci\` installs it and \`npx pstn-connector\` uses it\n`,
    );
    return 1;
  }
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`pstn-connector: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (isPstnError(error)) {
      // A configuration error lists every problem, one line each.
      for (const line of error.message.split("\n")) process.stderr.write(`pstn-connector ${name}: ${line}\n`);
      return error.code === ErrorCode.USAGE || error.code === ErrorCode.CONFIG_INVALID ? 2 : 1;
    }
    process.stderr.write(`pstn-connector ${name}: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
