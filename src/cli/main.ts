#!/usr/bin/env node
import { ErrorCode, isPstnError } from "../errors.js";
import { checkCommand } from "./check.js";
import type { Command } from "./command.js";
import { backfillCommand, runCommand } from "./run.js";
import { loadToolCommands, TOOL_COMMAND_NAMES, toolMissingLine } from "./tool-commands.js";

const commands: readonly Command[] = [runCommand, backfillCommand, checkCommand];

function usage(tools: readonly Command[] | undefined): string {
  const width = Math.max(...[...commands, ...(tools ?? [])].map((c) => c.name.length)) + 2;
  const list = (group: readonly Command[]) =>
    group.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n");
  const toolSection = tools ? `\n\nDevelopment tools (from a clone):\n${list(tools)}` : "";
  return `Usage: pstn-connector <command> [options]

Microsoft Teams PSTN call logs (Graph getPstnCalls) into Kafka as Avro.

Commands:
${list(commands)}${toolSection}

Run 'pstn-connector <command> --help' for a command's options.
`;
}

/** Node 24 LTS is the runtime supported and tested; Node 20 is past its end of life. */
const MIN_NODE_MAJOR = 24;

/** The runtime command of that name, else the tools' (loaded only then); undefined if neither has it. */
async function findCommand(name: string): Promise<Command | undefined> {
  const command = commands.find((c) => c.name === name);
  if (command || !TOOL_COMMAND_NAMES.includes(name)) return command;
  return (await loadToolCommands())?.find((c) => c.name === name);
}

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
    process.stdout.write(usage(await loadToolCommands()));
    return name === undefined ? 2 : 0;
  }
  const command = await findCommand(name);
  if (!command) {
    if (TOOL_COMMAND_NAMES.includes(name)) {
      process.stderr.write(toolMissingLine(name));
      return 2;
    }
    process.stderr.write(`pstn-connector: unknown command "${name}"\n\n${usage(await loadToolCommands())}`);
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
