import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { configurationReference } from "../../../src/config/reference.js";
import { CONFIG_VARIABLES } from "../../../src/config/variables.js";

test("docs/configuration.md is what `npm run docs` generates (run it after changing a variable)", () => {
  const committed = readFileSync(new URL("../../../docs/configuration.md", import.meta.url), "utf8");
  assert.equal(committed, configurationReference());
});

test("the reference lists every variable once", () => {
  const text = configurationReference();
  for (const variable of CONFIG_VARIABLES) {
    assert.equal(text.split(`| \`${variable.name}\` |`).length, 2, variable.name);
  }
});
