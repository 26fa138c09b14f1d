import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import {
  barrierKey,
  checkpointKey,
  decodeBarrier,
  decodeCheckpoint,
  decodeIds,
  encodeBarrier,
  encodeCheckpoint,
  encodeIds,
  idsKey,
  parseStateKey,
} from "../../../src/state/records.js";

const IDENTITY = "contoso.onmicrosoft.com/pstn/main";
const BACKFILL = `${IDENTITY}/backfill/2024-01-01T00:00:00.000Z/2024-02-01T00:00:00.000Z`;
const BUCKET = Date.parse("2024-06-01T13:00:00.000Z");

function isStateInvalid(error: unknown): boolean {
  assert.ok(isPstnError(error, ErrorCode.STATE_INVALID), `expected PSTN_STATE_INVALID, got ${String(error)}`);
  return true;
}

describe("state keys", () => {
  test("keys start with the identity and round trip through parseStateKey", () => {
    assert.equal(checkpointKey(IDENTITY), `${IDENTITY}|checkpoint`);
    assert.equal(barrierKey(IDENTITY), `${IDENTITY}|barrier`);
    assert.equal(idsKey(IDENTITY, BUCKET, 7), `${IDENTITY}|ids|${BUCKET}|7`);
    assert.deepEqual(parseStateKey(IDENTITY, checkpointKey(IDENTITY)), { kind: "checkpoint" });
    assert.deepEqual(parseStateKey(IDENTITY, barrierKey(IDENTITY)), { kind: "barrier" });
    assert.deepEqual(parseStateKey(IDENTITY, idsKey(IDENTITY, BUCKET, 7)), {
      kind: "ids",
      bucket: BUCKET,
      seq: 7,
    });
    assert.deepEqual(parseStateKey(IDENTITY, idsKey(IDENTITY, 0, 0)), { kind: "ids", bucket: 0, seq: 0 });
    assert.deepEqual(parseStateKey(IDENTITY, idsKey(IDENTITY, -3_600_000, 123_456)), {
      kind: "ids",
      bucket: -3_600_000,
      seq: 123_456,
    });
  });

  test("identities containing '/' keep their keys apart, even when one is a prefix of the other", () => {
    // The backfill identity starts with the live identity followed by '/'.
    assert.ok(BACKFILL.startsWith(IDENTITY));
    for (const key of [checkpointKey(BACKFILL), barrierKey(BACKFILL), idsKey(BACKFILL, BUCKET, 1)]) {
      assert.equal(parseStateKey(IDENTITY, key), undefined, key);
    }
    for (const key of [checkpointKey(IDENTITY), barrierKey(IDENTITY), idsKey(IDENTITY, BUCKET, 1)]) {
      assert.equal(parseStateKey(BACKFILL, key), undefined, key);
    }
    assert.deepEqual(parseStateKey(BACKFILL, idsKey(BACKFILL, BUCKET, 2)), {
      kind: "ids",
      bucket: BUCKET,
      seq: 2,
    });
    assert.deepEqual(parseStateKey(BACKFILL, checkpointKey(BACKFILL)), { kind: "checkpoint" });
  });

  test("another identity's keys, and malformed keys, are undefined", () => {
    for (const key of [
      "fabrikam.onmicrosoft.com/pstn/main|checkpoint",
      `${IDENTITY.slice(0, -1)}|checkpoint`,
      `${IDENTITY}x|checkpoint`,
      `${IDENTITY}checkpoint`,
      `${IDENTITY}|checkpoints`,
      `${IDENTITY}|Checkpoint`,
      `${IDENTITY}|`,
      `${IDENTITY}|ids`,
      `${IDENTITY}|ids|${BUCKET}`,
      `${IDENTITY}|ids|${BUCKET}|`,
      `${IDENTITY}|ids|x|1`,
      `${IDENTITY}|ids|${BUCKET}|1|2`,
      `${IDENTITY}|ids|${BUCKET}|-1`,
      `${IDENTITY}|ids|1.5|1`,
      "",
      IDENTITY,
    ]) {
      assert.equal(parseStateKey(IDENTITY, key), undefined, key);
    }
  });
});

describe("state values", () => {
  test("a checkpoint round trips to the millisecond, with and without a watermark", () => {
    const start = new Date("2024-05-01T00:00:00.001Z");
    const watermark = new Date("2024-06-01T12:34:56.789Z");
    const encoded = encodeCheckpoint({ start, watermark });
    assert.deepEqual(JSON.parse(encoded.toString("utf8")), {
      v: 1,
      start: "2024-05-01T00:00:00.001Z",
      watermark: "2024-06-01T12:34:56.789Z",
    });
    assert.equal(decodeCheckpoint(encoded).watermark?.getTime(), watermark.getTime());
    assert.equal(decodeCheckpoint(encoded).start.getTime(), start.getTime());
    const first = decodeCheckpoint(encodeCheckpoint({ start, watermark: undefined }));
    assert.equal(first.watermark, undefined);
    assert.equal(first.start.getTime(), start.getTime());
  });

  test("an id list round trips in order, including an empty one", () => {
    const ids = [
      "3f1b8c8e-0000-4000-8000-000000000001",
      "3f1b8c8e-0000-4000-8000-000000000002",
      "sha256:abc",
    ];
    assert.deepEqual(decodeIds(encodeIds(ids)), ids);
    assert.deepEqual(decodeIds(encodeIds([])), []);
    assert.deepEqual(JSON.parse(encodeIds(["a"]).toString()), { v: 1, ids: ["a"] });
  });

  test("a barrier round trips its nonce", () => {
    assert.equal(decodeBarrier(encodeBarrier("nonce-123")), "nonce-123");
    assert.equal(decodeBarrier(Buffer.from('{"v":1}')), undefined);
  });

  test("a corrupt checkpoint is PSTN_STATE_INVALID", () => {
    for (const text of [
      "",
      "not json",
      '{"v":1,"watermark":"2024-06-01T',
      '{"v":2,"watermark":"2024-06-01T00:00:00.000Z"}',
      '{"watermark":"2024-06-01T00:00:00.000Z"}',
      '{"v":1}',
      '{"v":1,"watermark":"yesterday-ish"}',
      "[]",
      "42",
    ]) {
      assert.throws(() => decodeCheckpoint(Buffer.from(text)), isStateInvalid, text);
    }
  });

  test("a corrupt id list is PSTN_STATE_INVALID", () => {
    for (const text of [
      "",
      "\u0000\u0001binary",
      '{"v":1,"ids":["a"',
      '{"v":2,"ids":["a"]}',
      '{"v":1}',
      '{"v":1,"ids":"a"}',
      '{"v":1,"ids":[1,2]}',
      '{"v":1,"ids":["a",null]}',
      "[]",
    ]) {
      assert.throws(() => decodeIds(Buffer.from(text)), isStateInvalid, text);
    }
  });

  test("a corrupt barrier is PSTN_STATE_INVALID", () => {
    assert.throws(() => decodeBarrier(Buffer.from("{")), isStateInvalid);
    assert.throws(() => decodeBarrier(Buffer.from("")), isStateInvalid);
  });

  test("a value that is the JSON literal null is PSTN_STATE_INVALID, not a TypeError", () => {
    // Valid JSON, but not a record: decoding must fail the same way as for any other corrupt value.
    const value = Buffer.from("null");
    assert.throws(() => decodeCheckpoint(value), isStateInvalid);
    assert.throws(() => decodeIds(value), isStateInvalid);
    assert.throws(() => decodeBarrier(value), isStateInvalid);
  });
});
