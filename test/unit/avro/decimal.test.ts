import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bytesToDecimalText, decimalToUnscaled, unscaledToBytes } from "../../../src/avro/index.js";

const SCALE = 12;
const PRECISION = 38;
const MAX_38 = 10n ** 38n - 1n;

describe("decimalToUnscaled into decimal(38, 12)", () => {
  const fits: [string, bigint][] = [
    ["0", 0n],
    ["0.00", 0n],
    ["-0", 0n],
    ["-0.0", 0n],
    ["+0e5", 0n],
    ["0e999999999999", 0n],
    ["000.000", 0n],
    ["1", 10n ** 12n],
    ["0.0123", 12_300_000_000n],
    ["-0.0123", -12_300_000_000n],
    ["+1.5", 1_500_000_000_000n],
    ["-12.5", -12_500_000_000_000n],
    ["1e-3", 1_000_000_000n],
    ["1E-3", 1_000_000_000n],
    ["1.5E+2", 150n * 10n ** 12n],
    ["1.5e2", 150n * 10n ** 12n],
    ["-2.5e-1", -250_000_000_000n],
    ["1.23e-10", 123n],
    ["12.3e-11", 123n],
    ["5.", 5n * 10n ** 12n],
    [".5", 500_000_000_000n],
    ["007.50", 7_500_000_000_000n],
    // the smallest step and the scale's boundary
    ["0.000000000001", 1n],
    ["-0.000000000001", -1n],
    // zeros beyond the scale cost nothing
    ["0.123456789012000", 123_456_789_012n],
    ["1.000000000000000000000", 10n ** 12n],
    // 26 integer digits + 12 fractional digits = precision 38
    ["99999999999999999999999999.999999999999", MAX_38],
    ["-99999999999999999999999999.999999999999", -MAX_38],
    ["99999999999999999999999999", 99999999999999999999999999n * 10n ** 12n],
    ["1e25", 10n ** 37n],
    [`1${"0".repeat(26)}e-1`, 10n ** 37n],
    // what String(n) gives for v1.0's doubles
    [String(0.1), 100_000_000_000n],
    [String(1e-7), 100_000n],
    [String(123.456), 123_456_000_000_000n],
  ];
  for (const [text, expected] of fits) {
    test(`${JSON.stringify(text)} → ${expected}`, () => {
      assert.equal(decimalToUnscaled(text, SCALE, PRECISION), expected);
    });
  }

  const doesNotFit: [string, string][] = [
    ["0.0000000000001", "13 fractional digits"],
    ["0.1234567890123", "13 non-zero fractional digits"],
    ["-0.1234567890123", "13 fractional digits, negative"],
    ["1.23e-11", "13 fractional digits through the exponent"],
    [String(0.1 + 0.2), "a double's noise: 0.30000000000000004"],
    ["100000000000000000000000000", "27 integer digits"],
    ["-100000000000000000000000000", "27 integer digits, negative"],
    ["1e26", "27 integer digits through the exponent"],
    ["99999999999999999999999999.9999999999999", "26 + 13 digits"],
    ["1e999999999999", "a huge exponent"],
    ["1e-999999999999", "a huge negative exponent"],
    [`1e${"9".repeat(400)}`, "an exponent beyond a double"],
  ];
  for (const [text, why] of doesNotFit) {
    test(`${text.length > 50 ? `${text.slice(0, 50)}…` : text} does not fit (${why})`, () => {
      assert.equal(decimalToUnscaled(text, SCALE, PRECISION), undefined);
    });
  }

  for (const text of [
    "",
    "-",
    "+",
    ".",
    "-.",
    "e5",
    "1e",
    "1e+",
    "1.2.3",
    "--1",
    " 1",
    "1 ",
    "1,5",
    "0x10",
    "NaN",
    "Infinity",
    "1_000",
  ]) {
    test(`${JSON.stringify(text)} is not a number`, () => {
      assert.equal(decimalToUnscaled(text, SCALE, PRECISION), undefined);
    });
  }

  test("other precisions and scales", () => {
    assert.equal(decimalToUnscaled("12345", 0, 5), 12345n);
    assert.equal(decimalToUnscaled("123456", 0, 5), undefined);
    assert.equal(decimalToUnscaled("1.0", 0, 5), 1n);
    assert.equal(decimalToUnscaled("1.5", 0, 5), undefined);
    assert.equal(decimalToUnscaled("0.99", 2, 2), 99n);
    assert.equal(decimalToUnscaled("1.00", 2, 2), undefined);
  });
});

describe("unscaledToBytes: big-endian two's complement, minimal length", () => {
  const cases: [bigint, string][] = [
    [0n, "00"],
    [1n, "01"],
    [127n, "7f"],
    [128n, "0080"],
    [255n, "00ff"],
    [256n, "0100"],
    [32767n, "7fff"],
    [32768n, "008000"],
    [-1n, "ff"],
    [-127n, "81"],
    [-128n, "80"],
    [-129n, "ff7f"],
    [-256n, "ff00"],
    [-32768n, "8000"],
    [-32769n, "ff7fff"],
    [12_300_000_000n, "02dd231b00"],
    [MAX_38, "4b3b4ca85a86c47a098a223fffffffff"],
    [-MAX_38, "b4c4b357a5793b85f675ddc000000001"],
  ];
  for (const [value, hex] of cases) {
    test(`${value} ↔ ${hex}`, () => {
      assert.equal(unscaledToBytes(value).toString("hex"), hex);
      assert.equal(bytesToDecimalText(Buffer.from(hex, "hex"), 0), value.toString());
    });
  }

  test("agrees with Node's 64-bit writer, trimmed to the fewest bytes keeping the sign", () => {
    const full = Buffer.alloc(8);
    let seed = 0x2545f491;
    const random = (): bigint => {
      // xorshift32: reproducible spread of magnitudes and signs
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return BigInt(seed >>> 0);
    };
    for (let i = 0; i < 2000; i++) {
      const bits = BigInt(i % 64);
      const value = BigInt.asIntN(64, ((random() << 32n) | random()) >> (63n - bits));
      full.writeBigInt64BE(value);
      let start = 0;
      while (
        start < 7 &&
        ((full[start] === 0x00 && (full[start + 1]! & 0x80) === 0) ||
          (full[start] === 0xff && (full[start + 1]! & 0x80) !== 0))
      ) {
        start++;
      }
      assert.equal(unscaledToBytes(value).toString("hex"), full.subarray(start).toString("hex"), `${value}`);
    }
  });

  test("38-digit values take at most 16 bytes and come back exactly", () => {
    for (const value of [MAX_38, -MAX_38, 10n ** 37n, -(10n ** 37n), 1n, -1n]) {
      const bytes = unscaledToBytes(value);
      assert.ok(bytes.length <= 16, `${value}: ${bytes.length} bytes`);
      assert.equal(bytesToDecimalText(bytes, 0), value.toString());
    }
  });
});

describe("bytesToDecimalText", () => {
  const cases: [bigint, number, string][] = [
    [0n, 12, "0"],
    [12_300_000_000n, 12, "0.0123"],
    [-12_500_000_000_000n, 12, "-12.5"],
    [10n ** 12n, 12, "1"],
    [1n, 12, "0.000000000001"],
    [-1n, 12, "-0.000000000001"],
    [150n * 10n ** 12n, 12, "150"],
    [MAX_38, 12, "99999999999999999999999999.999999999999"],
    [-MAX_38, 12, "-99999999999999999999999999.999999999999"],
    [1050n, 2, "10.5"],
    [-5n, 1, "-0.5"],
    [120n, 0, "120"],
  ];
  for (const [unscaled, scale, text] of cases) {
    test(`${unscaled} at scale ${scale} → ${text}`, () => {
      assert.equal(bytesToDecimalText(unscaledToBytes(unscaled), scale), text);
    });
  }

  test("empty bytes read as zero", () => {
    assert.equal(bytesToDecimalText(Buffer.alloc(0), 12), "0");
  });

  test("text → unscaled → bytes → text is the canonical form of the input", () => {
    const canonical: [string, string][] = [
      ["0.00", "0"],
      ["-0.0", "0"],
      ["0.0123", "0.0123"],
      ["-0.01230", "-0.0123"],
      ["1.5E+2", "150"],
      ["1e-3", "0.001"],
      ["12.500", "12.5"],
      ["99999999999999999999999999.999999999999", "99999999999999999999999999.999999999999"],
    ];
    for (const [input, expected] of canonical) {
      const unscaled = decimalToUnscaled(input, SCALE, PRECISION);
      assert.notEqual(unscaled, undefined, input);
      assert.equal(bytesToDecimalText(unscaledToBytes(unscaled!), SCALE), expected, input);
    }
  });
});
