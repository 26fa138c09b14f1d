/**
 * The runtime package holds the connector only: src/ never imports tools/ (or a dev dependency), the
 * package's `files` leave every tool out, and main.ts without the tools beside it refuses their
 * commands with one line and exit 2.
 */
import assert from "node:assert/strict";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { TOOL_COMMAND_NAMES, toolMissingLine } from "../../../src/cli/tool-commands.js";
import { toolCommands } from "../../../tools/cli/index.js";
import { runTool } from "../../ops/lib.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SRC = join(ROOT, "src");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => join(dir, file));
}

/** Every module specifier a file names in an import, an export-from or a literal import(). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  for (const pattern of [/\bfrom\s+"([^"]+)"/g, /\bimport\s+"([^"]+)"/g, /\bimport\(\s*"([^"]+)"\s*\)/g]) {
    for (const match of text.matchAll(pattern)) found.push(match[1] ?? "");
  }
  return found;
}

const packageName = (specifier: string): string =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");

const temporary: string[] = [];
after(() => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

describe("src/ stands without tools/", () => {
  test("no module under src/ imports anything outside src/, nor a dev dependency", () => {
    const files = filesUnder(SRC);
    assert.ok(files.length > 50, "the sources are found");
    const escapes: string[] = [];
    const dev: string[] = [];
    for (const file of files) {
      for (const specifier of specifiers(readFileSync(file, "utf8"))) {
        if (specifier.startsWith(".")) {
          const target = resolve(dirname(file), specifier);
          if (!target.startsWith(SRC + sep)) escapes.push(`${relative(ROOT, file)} -> ${specifier}`);
        } else if (!specifier.startsWith("node:") && packageName(specifier) in pkg.devDependencies) {
          dev.push(`${relative(ROOT, file)} -> ${specifier}`);
        }
      }
    }
    assert.deepEqual(escapes, [], "src/ imports tools/ (or another folder beside it)");
    assert.deepEqual(dev, [], "src/ imports a dev dependency, which the package does not install");
  });

  test("the names main.ts knows as tools are exactly the tools' commands", () => {
    assert.deepEqual(
      toolCommands.map((c) => c.name),
      [...TOOL_COMMAND_NAMES],
    );
  });
});

describe("the package's files", () => {
  test("npm pack leaves out tools/ and everything built from it", async () => {
    // A package folder laid out as a clone after `npm run build`: every source's .js in dist/.
    const dir = tempDir("pstn-pack-");
    cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
    cpSync(join(ROOT, "schemas"), join(dir, "schemas"), { recursive: true });
    for (const file of [...filesUnder(SRC), ...filesUnder(join(ROOT, "tools"))]) {
      const source = relative(ROOT, file);
      for (const copy of [source, join("dist", source.replace(/\.ts$/, ".js"))]) {
        mkdirSync(dirname(join(dir, copy)), { recursive: true });
        writeFileSync(join(dir, copy), "");
      }
    }
    const result = await runTool("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const [packed] = JSON.parse(result.stdout) as Array<{ files: Array<{ path: string }> }>;
    const paths = (packed?.files ?? []).map((f) => f.path);
    assert.ok(paths.includes(pkg.bin["pstn-connector"] ?? ""), "the bin is packed");
    assert.ok(paths.includes("dist/src/cli/tool-commands.js"), "the loader is packed");
    assert.ok(paths.includes("dist/src/app.js"));
    const tools = paths.filter((path) => /tools\/|simulator|stack|demo/.test(path));
    assert.deepEqual(tools, [], "the package carries tools");
  });
});

describe("main.ts without the tools beside it", () => {
  let dir: string;
  before(() => {
    // A copy of src/ alone, as a package has it (schemas and package.json beside it).
    dir = tempDir("pstn-no-tools-");
    cpSync(SRC, join(dir, "src"), { recursive: true });
    cpSync(join(ROOT, "schemas"), join(dir, "schemas"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  });
  const main = (cwd: string, args: string[]) =>
    runTool(process.execPath, ["--import", "tsx", join("src", "cli", "main.ts"), ...args], { cwd });

  test("each tool command prints one line saying it runs from a clone, and exits 2", async () => {
    const results = await Promise.all(TOOL_COMMAND_NAMES.map((name) => main(dir, [name, "--help"])));
    for (const [i, name] of TOOL_COMMAND_NAMES.entries()) {
      const result = results[i];
      assert.equal(result?.code, 2, `${name}: ${result?.stderr}`);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr, toolMissingLine(name));
      assert.match(
        result.stderr,
        new RegExp(
          `^pstn-connector: \`${name}\` is a development tool; .*npm ci && npx pstn-connector ${name}\n$`,
        ),
      );
    }
  });

  test("--help lists the runtime commands only; from the clone it lists the tools too", async () => {
    const [alone, clone] = await Promise.all([main(dir, ["--help"]), main(ROOT, ["--help"])]);
    assert.equal(alone?.code, 0, alone?.stderr);
    assert.equal(clone?.code, 0, clone?.stderr);
    const listed = (text: string) => [...text.matchAll(/^ {2}(\S+) {2,}/gm)].map((m) => m[1]);
    assert.deepEqual(listed(alone.stdout), ["run", "backfill", "check"]);
    assert.deepEqual(listed(clone.stdout), ["run", "backfill", "check", ...TOOL_COMMAND_NAMES]);
  });
});
