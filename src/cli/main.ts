#!/usr/bin/env node
import { ErrorCode, isPstnError } from "../errors.js";
import type { Command } from "./command.js";
import { stackCommand } from "./stack.js";

const commands: readonly Command[] = [stackCommand];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return `Usage: pstn-connector <command> [options]

Microsoft Teams PSTN call logs (Graph getPstnCalls) into Kafka as Avro.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Run 'pstn-connector <command> --help' for a command's options.
`;
}

async function main(argv: string[]): Promise<number> {
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
      process.stderr.write(`pstn-connector ${name}: ${error.message}\n`);
      return error.code === ErrorCode.USAGE || error.code === ErrorCode.CONFIG_INVALID ? 2 : 1;
    }
    process.stderr.write(`pstn-connector ${name}: ${(error as Error)?.stack ?? String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
