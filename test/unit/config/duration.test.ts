import assert from "node:assert/strict";
import { test } from "node:test";
import { readDuration, readInstant } from "../../../src/config/duration.js";
import { formatDuration, parseDuration, resolveStart } from "../../../src/config/index.js";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

const VALID: ReadonlyArray<[string, number]> = [
  ["500ms", 500],
  ["30s", 30 * S],
  ["5m", 5 * M],
  ["2h", 2 * H],
  ["7d", 7 * D],
  ["0s", 0],
  ["1h30m", 90 * M],
  ["1d12h", 36 * H],
  ["1.5h", 90 * M],
  [" 5m ", 5 * M],
  ["PT5M", 5 * M],
  ["P1D", D],
  ["P1DT2H", 26 * H],
  ["PT0.5S", 500],
  ["PT1,5S", 1500],
  ["pt5m", 5 * M],
  ["P2W", 14 * D],
  ["PT36H", 36 * H],
  ["P1DT2H3M4.005S", D + 2 * H + 3 * M + 4 * S + 5],
  ["PT1M", M],
];

for (const [text, ms] of VALID) {
  test(`parseDuration(${JSON.stringify(text)}) = ${ms} ms`, () => {
    assert.equal(parseDuration(text), ms);
  });
}

const INVALID: ReadonlyArray<[string, string]> = [
  ["", "syntax"],
  ["5", "syntax"],
  ["5 minutes", "syntax"],
  ["5min", "syntax"],
  ["5 m", "syntax"],
  ["5M", "syntax"],
  ["1e3s", "syntax"],
  ["P", "syntax"],
  ["PT", "syntax"],
  ["P1DT", "syntax"],
  ["T5M", "syntax"],
  ["P5H", "syntax"],
  ["-5m", "negative"],
  ["-PT5M", "negative"],
  ["P1Y", "calendar"],
  ["P1M", "calendar"],
  ["P1Y2M3D", "calendar"],
  ["PT0.0005S", "precision"],
  ["0.5ms", "precision"],
  ["999999999999d", "range"],
];

for (const [text, problem] of INVALID) {
  test(`parseDuration(${JSON.stringify(text)}) is not a duration (${problem})`, () => {
    assert.equal(parseDuration(text), undefined);
    assert.deepEqual(readDuration(text), { ok: false, problem });
  });
}

test("formatDuration writes the shortest simple form, which parses back", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(90 * M), "1h30m");
  assert.equal(formatDuration(90 * D), "90d");
  for (const ms of [1, 999, S, 61 * S, 25 * H + 1, 90 * D])
    assert.equal(parseDuration(formatDuration(ms)), ms);
});

test("readInstant needs a zone and a real date", () => {
  const at = (text: string): string | undefined => {
    const result = readInstant(text);
    return result.ok ? result.at.toISOString() : result.problem;
  };
  assert.equal(at("2024-05-01T00:00:00Z"), "2024-05-01T00:00:00.000Z");
  assert.equal(at("2024-05-01T02:30:00+02:30"), "2024-05-01T00:00:00.000Z");
  assert.equal(at("2024-05-01T02:00:00+0200"), "2024-05-01T00:00:00.000Z");
  assert.equal(at("2024-04-30T22:00:00-02:00"), "2024-05-01T00:00:00.000Z");
  assert.equal(at("2024-05-01T00:00Z"), "2024-05-01T00:00:00.000Z");
  assert.equal(at("2019-11-01T00:00:08.2589935Z"), "2019-11-01T00:00:08.258Z");
  assert.equal(at("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00.000Z");
  assert.equal(at("2024-05-01"), "zone");
  assert.equal(at("2024-05-01T00:00:00"), "zone");
  assert.equal(at("2023-02-29T00:00:00Z"), "calendar");
  assert.equal(at("2024-04-31T00:00:00Z"), "calendar");
  assert.equal(at("2024-05-01T24:00:00Z"), "calendar");
  assert.equal(at("yesterday"), "syntax");
});

test("resolveStart: an instant stays itself, a duration counts back from now", () => {
  const now = new Date("2024-05-10T12:00:00Z");
  const at = new Date("2024-05-01T00:00:00Z");
  const instant = resolveStart({ kind: "instant", at }, now);
  assert.equal(instant.toISOString(), "2024-05-01T00:00:00.000Z");
  assert.notEqual(instant, at, "a copy, so callers cannot change the configuration");
  assert.equal(resolveStart({ kind: "ago", ms: 30 * D }, now).toISOString(), "2024-04-10T12:00:00.000Z");
  assert.equal(resolveStart({ kind: "ago", ms: 0 }, now).getTime(), now.getTime());
});
