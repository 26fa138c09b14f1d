import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isoToMicros, microsToIso } from "../../../src/avro/index.js";

/** An independent reference: BigInt arithmetic over Date.UTC's whole seconds. */
function reference(
  year: number,
  month: number,
  day: number,
  h: number,
  m: number,
  s: number,
  micros: number,
): bigint {
  return BigInt(Date.UTC(year, month - 1, day, h, m, s)) * 1000n + BigInt(micros);
}

const SEED_START = 1_572_566_408_258_993; // 2019-11-01T00:00:08.258993Z

describe("isoToMicros", () => {
  test("Graph's seven fractional digits: the 7th is truncated", () => {
    assert.equal(isoToMicros("2019-11-01T00:00:08.2589935Z"), SEED_START);
    assert.equal(BigInt(SEED_START), reference(2019, 11, 1, 0, 0, 8, 258_993));
  });

  const fractions: [string, number][] = [
    ["", 0],
    [".2", 200_000],
    [".25", 250_000],
    [".258", 258_000],
    [".2589", 258_900],
    [".25899", 258_990],
    [".258993", 258_993],
    [".2589935", 258_993],
    [".2589939", 258_993],
    [".9999999", 999_999],
    [".0000009", 0],
    [".000001", 1],
    [".123456789", 123_456],
  ];
  for (const [fraction, micros] of fractions) {
    test(`${fraction.length === 0 ? 0 : fraction.length - 1} fractional digits: 00:00:08${fraction}Z`, () => {
      assert.equal(isoToMicros(`2019-11-01T00:00:08${fraction}Z`), 1_572_566_408_000_000 + micros);
    });
  }

  const sameInstant = [
    "2019-11-01T00:00:08.5Z",
    "2019-11-01T00:00:08.5z",
    "2019-11-01t00:00:08.5Z",
    "2019-11-01T00:00:08.5+00:00",
    "2019-11-01T00:00:08.5-00:00",
    "2019-11-01T02:00:08.5+02:00",
    "2019-11-01T05:30:08.5+05:30",
    "2019-10-31T19:00:08.5-05:00",
    "2019-10-31T14:15:08.5-09:45",
    "2019-11-01T23:59:08.5+23:59",
  ];
  for (const text of sameInstant) {
    test(`${text} is 2019-11-01T00:00:08.5Z`, () => {
      assert.equal(isoToMicros(text), 1_572_566_408_500_000);
    });
  }

  test("exact for 2099 and at the microsecond below a second", () => {
    assert.equal(
      BigInt(isoToMicros("2099-12-31T23:59:59.9999999Z")!),
      reference(2099, 12, 31, 23, 59, 59, 999_999),
    );
    assert.equal(BigInt(isoToMicros("2099-06-15T12:34:56.000001Z")!), reference(2099, 6, 15, 12, 34, 56, 1));
    assert.equal(BigInt(isoToMicros("2019-11-01T00:00:08.0000001Z")!), reference(2019, 11, 1, 0, 0, 8, 0));
  });

  test("leap days", () => {
    assert.equal(BigInt(isoToMicros("2020-02-29T00:00:00Z")!), reference(2020, 2, 29, 0, 0, 0, 0));
    assert.equal(BigInt(isoToMicros("2000-02-29T12:00:00Z")!), reference(2000, 2, 29, 12, 0, 0, 0));
  });

  test("before the epoch is negative", () => {
    assert.equal(isoToMicros("1969-12-31T23:59:59.999999Z"), -1);
    assert.equal(isoToMicros("1970-01-01T00:00:00Z"), 0);
  });

  const invalid = [
    "",
    "garbage",
    "2019-11-01",
    "2019-11-01T00:00Z",
    "2019-11-01T00:00:08",
    "2019-11-01T00:00:08.25",
    "2019-11-01 00:00:08Z",
    "2019-11-01T00:00:08.Z",
    "2019-11-01T00:00:08Z ",
    " 2019-11-01T00:00:08Z",
    "2019-11-01T00:00:08ZZ",
    "2019-1-01T00:00:08Z",
    "2019/11/01T00:00:08Z",
    "2019-11-01T00:00:08+05",
    "2019-11-01T00:00:08+0500",
    "2019-11-01T00:00:08+05:3",
    "2019-11-01T00:00:08+24:00",
    "2019-11-01T00:00:08+05:60",
    "2019-13-01T00:00:00Z",
    "2019-00-10T00:00:00Z",
    "2019-11-00T00:00:00Z",
    "2019-11-31T00:00:00Z",
    "2019-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2019-11-01T24:00:00Z",
    "2019-11-01T23:60:00Z",
    "2019-12-31T23:59:60Z",
    "2019-11-01T-1:00:00Z",
    "+2019-11-01T00:00:00Z",
    // outside what a safe integer of microseconds holds
    "1600-01-01T00:00:00Z",
    "2300-01-01T00:00:00Z",
    "0050-01-01T00:00:00Z",
  ];
  for (const text of invalid) {
    test(`${JSON.stringify(text)} is not a valid instant`, () => {
      assert.equal(isoToMicros(text), undefined);
    });
  }
});

describe("microsToIso", () => {
  test("always six fractional digits", () => {
    assert.equal(microsToIso(SEED_START), "2019-11-01T00:00:08.258993Z");
    assert.equal(microsToIso(0), "1970-01-01T00:00:00.000000Z");
    assert.equal(microsToIso(1), "1970-01-01T00:00:00.000001Z");
    assert.equal(microsToIso(1_572_566_408_000_000), "2019-11-01T00:00:08.000000Z");
  });

  test("before the epoch", () => {
    assert.equal(microsToIso(-1), "1969-12-31T23:59:59.999999Z");
    assert.equal(microsToIso(-1_000_000), "1969-12-31T23:59:59.000000Z");
    assert.equal(microsToIso(-1_000_001), "1969-12-31T23:59:58.999999Z");
  });

  test("2099, exactly", () => {
    const micros = Number(reference(2099, 12, 31, 23, 59, 59, 999_999));
    assert.equal(microsToIso(micros), "2099-12-31T23:59:59.999999Z");
  });

  test("agrees with Date at whole milliseconds and round-trips through isoToMicros", () => {
    let seed = 0x9e3779b9;
    for (let i = 0; i < 5000; i++) {
      seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
      // spread over 1970..~2240, with arbitrary microseconds
      const micros =
        (seed % 8_500_000) * 1_000_000_000 + ((Math.imul(seed, 2_654_435_761) >>> 0) % 1_000_000_000);
      const text = microsToIso(micros);
      assert.equal(isoToMicros(text), micros, text);
      if (micros % 1000 === 0) assert.equal(text, new Date(micros / 1000).toISOString().replace("Z", "000Z"));
      const millis = (micros - (micros % 1000)) / 1000;
      assert.equal(text.slice(0, 23), new Date(millis).toISOString().slice(0, 23));
    }
  });

  test("refuses a value that is not a whole number of microseconds", () => {
    assert.throws(() => microsToIso(1.5), RangeError);
    assert.throws(() => microsToIso(2 ** 53), RangeError);
  });
});
