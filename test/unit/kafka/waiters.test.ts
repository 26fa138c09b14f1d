import assert from "node:assert/strict";
import { test } from "node:test";
import { Waiters } from "../../../src/kafka/waiters.js";

test("Waiters: ready resolves at once; a waiter resolves at the next release, or rejects when its signal aborts first", async () => {
  const waiters = new Waiters();
  await waiters.wait(true, new AbortController().signal);
  const stop = new AbortController();
  let released = false;
  const waiting = waiters.wait(false, new AbortController().signal).then(() => {
    released = true;
  });
  const aborted = waiters.wait(false, stop.signal);
  stop.abort(new Error("stopped"));
  await assert.rejects(aborted, /stopped/);
  assert.equal(released, false);
  waiters.release();
  await waiting;
  assert.equal(released, true);
  const already = new AbortController();
  already.abort(new Error("before"));
  await assert.rejects(waiters.wait(false, already.signal), /before/);
});
