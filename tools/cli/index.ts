/**
 * The commands of the development tools, loaded by src/cli/main.ts through src/cli/tool-commands.ts
 * when this directory is present (a clone), never imported by src/.
 */
import type { Command } from "../../src/cli/command.js";
import { demoCommand } from "./demo.js";
import { simulateCommand } from "./simulate.js";
import { stackCommand } from "./stack.js";

export const toolCommands: readonly Command[] = [demoCommand, simulateCommand, stackCommand];
