/**
 * The import direction of the connector's own code: each module imports only modules of its own
 * layer or of lower ones, and the pipeline reaches Kafka only through the Sink (src/sink.ts).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");

/** Layers, bottom first, by a module's first path segment under src/. */
const LAYERS: readonly (readonly string[])[] = [
  ["errors.ts", "log.ts", "pem.ts", "runtime-flags.ts"],
  ["metrics"],
  ["config", "dedupe", "windows", "avro", "streams", "state", "privacy"],
  ["auth", "graph", "registry.ts", "sink.ts"],
  ["kafka", "pipeline"],
  ["app.ts"],
  ["cli"],
];

/** Packages that only src/kafka may import: everything client-specific stays behind the Sink. */
const KAFKA_CLIENTS = ["kafkajs", "@platformatic/kafka", "@confluentinc/kafka-javascript"];

function layerOf(file: string): number {
  const segment = relative(SRC, file).split(/[\\/]/)[0] as string;
  const layer = LAYERS.findIndex((names) => names.includes(segment));
  assert.notEqual(layer, -1, `${relative(SRC, file)} belongs to no layer: add its folder to LAYERS`);
  return layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(dir, name));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1] as string);
}

test("every module imports only its own layer or lower ones", () => {
  const violations: string[] = [];
  for (const file of sources(SRC)) {
    const layer = layerOf(file);
    for (const specifier of importsOf(file)) {
      if (!specifier.startsWith(".")) continue;
      const target = resolve(dirname(file), specifier.replace(/\.js$/, ".ts"));
      // Imports leaving src/ (the tools, dev dependencies) are test/unit/cli/boundary.test.ts's.
      if (!target.startsWith(SRC)) continue;
      if (layerOf(target) > layer) violations.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
    }
  }
  assert.deepEqual(violations, []);
});

test("only src/kafka imports a Kafka client; the pipeline knows the Sink", () => {
  const violations: string[] = [];
  for (const file of sources(SRC)) {
    const where = relative(SRC, file);
    if (where.startsWith("kafka")) continue;
    for (const specifier of importsOf(file)) {
      if (KAFKA_CLIENTS.includes(specifier)) violations.push(`${where} imports ${specifier}`);
      if (where.startsWith("pipeline") && /\/kafka\//.test(specifier))
        violations.push(`${where} imports ${specifier}`);
    }
  }
  assert.deepEqual(violations, []);
});

test("the check sees imports: a module of a low layer importing a high one is caught", () => {
  // The expression above must match the forms the code uses; a sample of each.
  const sample =
    'import { a } from "./x.js";\nimport type {\n  B,\n} from "../y.js";\nexport { c } from "./z.js";\n';
  const found = [...sample.matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
  assert.deepEqual(found, ["./x.js", "../y.js", "./z.js"]);
});
