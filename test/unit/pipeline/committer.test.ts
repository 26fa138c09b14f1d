import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BatchBuilder } from "../../../src/pipeline/batch.js";
import { Committer } from "../../../src/pipeline/committer.js";
import type { EncodedRows, PageKeys } from "../../../src/pipeline/page-codec.js";
import type { CommitBatch, SinkSession } from "../../../src/sink.js";
import { StateTracker } from "../../../src/state/tracker.js";

const HOUR = 3_600_000;

/** A session whose commits settle when the test says so. */
class HeldSession implements SinkSession {
  readonly state = new StateTracker("t/pstn/n", new Date(0));
  readonly started: CommitBatch[] = [];
  inFlight = 0;
  maxInFlight = 0;
  private releases: Array<(error?: Error) => void> = [];

  commit(batch: CommitBatch): Promise<void> {
    this.started.push(batch);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    return new Promise<void>((resolve, reject) => {
      this.releases.push((error) => {
        this.inFlight--;
        if (error) reject(error);
        else resolve();
      });
    });
  }

  /** Settles the oldest commit still open. */
  settle(error?: Error): void {
    const release = this.releases.shift();
    if (!release) throw new Error("no commit is open");
    release(error);
  }

  async close(): Promise<void> {}
}

/** A batch of `ids`, each encoded to its own id's bytes, selected through the tracker's dedupe. */
function batchOf(session: HeldSession, ids: string[]): BatchBuilder {
  const batch = new BatchBuilder(session.state);
  const page: PageKeys = { nextLink: undefined, keys: ids, starts: Float64Array.from(ids, () => 5 * HOUR) };
  const fresh = batch.select(page);
  const values = fresh.map((i) => Buffer.from(ids[i] as string));
  let end = 0;
  const encoded: EncodedRows = {
    outputs: [
      {
        buffer: new Uint8Array(Buffer.concat(values)).buffer,
        ends: Uint32Array.from(values, (v) => (end += v.length)),
      },
    ],
    dead: [],
    unknownProperties: 0,
  };
  batch.add(page, fresh, Promise.resolve(encoded));
  return batch;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("Committer", () => {
  test("one transaction in flight; the next starts only when it committed, in order, with its ids' state", async () => {
    const session = new HeldSession();
    const committer = new Committer(session, () => undefined);
    const committed: string[] = [];
    assert.equal(committer.idle, true);
    await committer.submit(batchOf(session, ["a", "b"]), [], () => committed.push("first"));
    assert.equal(committer.idle, false);
    const second = committer.submit(batchOf(session, ["c"]), [], () => committed.push("second"));
    await tick();
    assert.equal(session.started.length, 1, "the second waits for the first");
    session.settle();
    await second;
    assert.equal(session.started.length, 2);
    assert.deepEqual(committed, ["first"]);
    session.settle();
    await committer.drain();
    assert.deepEqual(committed, ["first", "second"]);
    assert.equal(session.maxInFlight, 1);
    assert.equal(committer.idle, true);
    const [first, next] = session.started as [CommitBatch, CommitBatch];
    assert.deepEqual(
      (first.outputs[0] ?? []).map((r) => r.key),
      ["a", "b"],
    );
    assert.deepEqual(
      (first.outputs[0] ?? []).map((r) => String(r.value)),
      ["a", "b"],
    );
    assert.equal(first.state.length, 1, "the ids record of the batch's hour");
    assert.deepEqual(
      (next.outputs[0] ?? []).map((r) => r.key),
      ["c"],
    );
  });

  test("a failed transaction fails the next submit, and that batch is never committed", async () => {
    const session = new HeldSession();
    const committer = new Committer(session, () => undefined);
    let committedAfter = false;
    await committer.submit(batchOf(session, ["a"]), [], () => undefined);
    const second = committer.submit(batchOf(session, ["b"]), [], () => {
      committedAfter = true;
    });
    session.settle(new Error("broker went away"));
    await assert.rejects(second, /broker went away/);
    assert.equal(session.started.length, 1);
    assert.equal(committedAfter, false);
  });

  test("a failed last transaction surfaces in drain; extra state records ride with the batch", async () => {
    const session = new HeldSession();
    const committer = new Committer(session, () => undefined);
    const checkpoint = session.state.advance(new Date(6 * HOUR), new Date(0));
    await committer.submit(batchOf(session, ["a"]), checkpoint, () => undefined);
    assert.ok(
      session.started[0]?.state.some((r) => r.key === "t/pstn/n|checkpoint"),
      "the checkpoint is in the transaction",
    );
    session.settle(new Error("commit refused"));
    await assert.rejects(committer.drain(), /commit refused/);
  });
});
