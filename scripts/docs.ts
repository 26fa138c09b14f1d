/** Writes the generated documentation: docs/configuration.md from the configuration's variables. */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configurationReference } from "../src/config/reference.js";

const target = fileURLToPath(new URL("../docs/configuration.md", import.meta.url));
writeFileSync(target, configurationReference());
process.stdout.write(`wrote ${target}\n`);
