/**
 * The development tools' commands (the Graph simulator, the local Kafka + registry, the demo) live in
 * tools/, which a clone has and the npm package and the image do not. They are found at a fixed place
 * beside this module's own tree: dist/src/cli/ -> dist/tools/cli/, and src/cli/ -> tools/cli/ under
 * tsx. Only a dynamic import reaches them, so the connector's own modules never depend on the tools.
 */
import { existsSync } from "node:fs";
import type { Command } from "./command.js";

/** The names main.ts answers for even without the tools, to say where they run. */
export const TOOL_COMMAND_NAMES: readonly string[] = ["demo", "simulate", "stack"];

const TOOLS_CLI = new URL("../../tools/cli/", import.meta.url);

export interface ToolCommandsModule {
  toolCommands: readonly Command[];
}

/** The tools' commands, or undefined where the tools are not installed (a package, the image). */
export async function loadToolCommands(): Promise<readonly Command[] | undefined> {
  if (!existsSync(TOOLS_CLI)) return undefined;
  const module = (await import(new URL("index.js", TOOLS_CLI).href)) as ToolCommandsModule;
  return module.toolCommands;
}

export function toolMissingLine(name: string): string {
  return `pstn-connector: \`${name}\` is a development tool; it runs from a clone: npm ci && npx pstn-connector ${name}\n`;
}
