import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRetryAfter } from "../../../src/graph/retry-after.js";

const NOW = Date.parse("2024-05-01T12:00:00.250Z");

test("delay-seconds become milliseconds", () => {
  assert.equal(parseRetryAfter("1", NOW), 1000);
  assert.equal(parseRetryAfter("120", NOW), 120_000);
  assert.equal(parseRetryAfter("0", NOW), 0);
  assert.equal(parseRetryAfter(" 7 ", NOW), 7000);
});

test("an HTTP-date in the future is the time left until it", () => {
  const at = Date.parse("2024-05-01T12:00:05.000Z");
  const header = new Date(at).toUTCString();
  assert.equal(header, "Wed, 01 May 2024 12:00:05 GMT");
  assert.equal(parseRetryAfter(header, NOW), at - NOW);
  assert.equal(parseRetryAfter(header, NOW), 4750);
});

test("an HTTP-date in the past (or now) means no wait", () => {
  assert.equal(parseRetryAfter("Wed, 01 May 2024 11:59:00 GMT", NOW), 0);
  assert.equal(parseRetryAfter("Thu, 01 Jan 1970 00:00:00 GMT", NOW), 0);
  assert.equal(parseRetryAfter("Wed, 01 May 2024 12:00:00 GMT", NOW), 0);
});

test("an array header uses its first value", () => {
  assert.equal(parseRetryAfter(["3", "60"], NOW), 3000);
  assert.equal(parseRetryAfter(["Wed, 01 May 2024 12:00:10 GMT"], NOW), 9750);
  assert.equal(parseRetryAfter([], NOW), undefined);
});

test("absent, empty or plain garbage is undefined", () => {
  assert.equal(parseRetryAfter(undefined, NOW), undefined);
  assert.equal(parseRetryAfter("", NOW), undefined);
  assert.equal(parseRetryAfter("   ", NOW), undefined);
  assert.equal(parseRetryAfter("soon", NOW), undefined);
  assert.equal(parseRetryAfter("1.5s", NOW), undefined);
  assert.equal(parseRetryAfter("NaN", NOW), undefined);
  assert.equal(parseRetryAfter("12abc", NOW), undefined);
});

test("garbage that V8's lenient Date.parse accepts is still undefined, not 'retry now'", () => {
  // Date.parse("-1") is a date in 2001 and Date.parse("soon 2") one in February 2001: neither is an
  // HTTP-date (RFC 9110 §5.6.7), so both are unparseable and must not turn into a 0 ms wait.
  assert.equal(parseRetryAfter("-1", NOW), undefined);
  assert.equal(parseRetryAfter("soon 2", NOW), undefined);
  assert.equal(parseRetryAfter("1,5", NOW), undefined);
});

test("decimal seconds are honoured and rounded up, never earlier than given", () => {
  assert.equal(parseRetryAfter("1.5", NOW), 1500);
  assert.equal(parseRetryAfter("0.0001", NOW), 1);
  assert.equal(parseRetryAfter("2.0005", NOW), 2001);
  for (const text of ["0.1", "0.3", "1.1", "2.675", "59.999", "0.0000001"]) {
    const ms = parseRetryAfter(text, NOW);
    assert.ok(ms !== undefined && ms >= Number(text) * 1000, `${text} → ${ms}`);
    assert.ok(Number.isInteger(ms));
  }
});
