import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import { resolveApicurio, resolveKafkaClasspath } from "../../../tools/stack/artifacts.js";
import { parseJavaMajor, requireJava } from "../../../tools/stack/tools.js";

test("parseJavaMajor reads old and new version strings", () => {
  assert.equal(parseJavaMajor('openjdk version "17.0.15" 2025-04-15'), 17);
  assert.equal(parseJavaMajor('openjdk version "25.0.3" 2026-04-21 LTS'), 25);
  assert.equal(parseJavaMajor('java version "1.8.0_392"'), 8);
  assert.equal(parseJavaMajor('openjdk version "21" 2023-09-19'), 21);
  assert.equal(parseJavaMajor("no java here"), undefined);
});

test("requireJava finds a runtime new enough for Kafka", async () => {
  const runtime = await requireJava(17, "Kafka");
  assert.ok(runtime.major >= 17);
});

test("requireJava names what it found when nothing is new enough", async () => {
  await assert.rejects(requireJava(999, "Some server"), (error) => {
    assert.ok(isPstnError(error, ErrorCode.STACK_JAVA_MISSING));
    assert.match(error.message, /^Some server needs Java 999\+, found only .*\(\d+\)/);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
});

test("requireJava with no Java anywhere on PATH or JAVA_HOME says so", async () => {
  const env = { PATH: "/nonexistent", JAVA_HOME: "/nonexistent-jdk" };
  await assert.rejects(requireJava(999, "Kafka", env), (error) => {
    assert.ok(isPstnError(error, ErrorCode.STACK_JAVA_MISSING));
    assert.match(error.message, /needs Java 999\+/);
    return true;
  });
});

test("without Maven on PATH, an empty cache fails with one line naming Maven", async () => {
  const cache = await mkdtemp(join(tmpdir(), "pstn-cache-"));
  const env = { PATH: "/nonexistent" };
  for (const resolve of [resolveKafkaClasspath, resolveApicurio]) {
    await assert.rejects(
      resolve(cache, () => undefined, env),
      (error) => {
        assert.ok(isPstnError(error, ErrorCode.STACK_MAVEN_MISSING));
        assert.match(error.message, /Maven \(mvn\) not found on PATH.*apt-get install maven/);
        return true;
      },
    );
  }
});
