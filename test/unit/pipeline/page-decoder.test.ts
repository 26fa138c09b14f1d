import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createRowCodec } from "../../../src/avro/index.js";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import { BatchBuilder } from "../../../src/pipeline/batch.js";
import { wireHeader } from "../../../src/pipeline/page-codec.js";
import {
  DecoderThreads,
  InlinePageDecoder,
  type PageDecoder,
  WorkerPageDecoder,
} from "../../../src/pipeline/page-decoder.js";
import { StateTracker } from "../../../src/state/tracker.js";
import { seedRow } from "../avro/seed-row.js";

const SCHEMA_ID = 42;
const WINDOW = { from: "2019-11-01T00:00:00.000Z", to: "2019-11-02T00:00:00.000Z" };

/** A page as Graph writes it: money as JSON numbers; a duplicate, a row without id, two bad rows. */
function pageBody(): Uint8Array {
  const rows = [
    seedRow({ id: "a", charge: "0.10" }),
    seedRow({ id: "b", charge: "12345678901234567890123456789.5" }),
    seedRow({ id: "c", startDateTime: "not a time" }),
    seedRow({ id: "a", charge: "0.10" }),
    seedRow({ id: undefined, charge: "1" }),
    seedRow({ id: "d", duration: "sixty" }),
  ];
  const text = JSON.stringify({ value: rows, "@odata.nextLink": "https://graph/next" }).replace(
    /"(charge|connectionCharge)":"([^"]*)"/g,
    '"$1":$2',
  );
  return new TextEncoder().encode(text);
}

const shared = new DecoderThreads({ pstn: 2 });
after(() => shared.close());

const decoders: [string, () => PageDecoder][] = [
  ["inline", () => new InlinePageDecoder([{ schemaId: SCHEMA_ID }])],
  ["worker thread", () => new WorkerPageDecoder([{ schemaId: SCHEMA_ID }])],
  ["a view of a shared thread", () => shared.decoderFor([{ schemaId: SCHEMA_ID }], "pstn")],
];

for (const [kind, make] of decoders) {
  describe(`page decoder (${kind})`, () => {
    const decoder = make();
    after(() => decoder.close());

    test("keys and starts per row; the chosen rows encoded in order, bad ones dead-lettered with reasons", async () => {
      const page = await decoder.decode(pageBody());
      assert.equal(page.nextLink, "https://graph/next");
      assert.deepEqual(page.keys.slice(0, 4), ["a", "b", "c", "a"]);
      assert.match(page.keys[4] as string, /^sha256:[0-9a-f]{32}$/);
      assert.equal(page.keys[5], "d");
      assert.equal(page.starts[0], Date.parse("2019-11-01T00:00:08.258Z"));
      assert.ok(Number.isNaN(page.starts[2]), "a row whose start cannot be read has no start");
      assert.ok(Number.isNaN(page.starts[4]), "a row without id has no start either");

      const encoded = await decoder.encode(page, [0, 1, 5, 2], WINDOW);
      assert.deepEqual(
        encoded.dead.map((d) => [d.at, d.reason.split(":")[0]]),
        [
          [1, "charge"],
          [2, "duration"],
          [3, "startDateTime"],
        ],
      );
      const dead = JSON.parse(encoded.dead[0]!.value) as {
        row: { id: string };
        window: unknown;
        reason: string;
      };
      assert.equal(dead.row.id, "b");
      assert.deepEqual(dead.window, WINDOW);
      // Exactly what the codec writes for the same rows, back to back.
      const codec = createRowCodec();
      const header = wireHeader(SCHEMA_ID);
      const expectA = codec.encode(seedRow({ id: "a", charge: "0.10" }), header);
      assert.ok(expectA.ok);
      const [values] = encoded.outputs;
      assert.ok(values);
      const bytes = Buffer.from(values.buffer);
      assert.equal(values.ends[0], expectA.value.length);
      assert.deepEqual(bytes.subarray(0, values.ends[0]), expectA.value);
      assert.equal(values.ends[1], values.ends[0], "a dead row takes no bytes");
      assert.equal(values.ends[3], values.ends[0]);
      assert.equal(bytes.length, values.ends[0]);
    });

    test("a body that is not a page is a retriable PSTN_GRAPH_BAD_RESPONSE", async () => {
      const truncated = pageBody().subarray(0, 200);
      await assert.rejects(decoder.decode(truncated), (error) => {
        assert.ok(isPstnError(error, ErrorCode.GRAPH_BAD_RESPONSE), String(error));
        assert.equal(error.retriable, true);
        return true;
      });
    });

    test("a page of too many rows or too deep is refused for good: the code and finality cross the thread", async () => {
      const encode = (text: string) => new TextEncoder().encode(text);
      const many = encode(
        `{"value":[${Array.from({ length: 5001 }, (_, i) => `{"id":"r${i}"}`).join(",")}]}`,
      );
      const deep = encode(`{"value":[{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}]}`);
      for (const [body, code] of [
        [many, ErrorCode.GRAPH_TOO_MANY_ROWS],
        [deep, ErrorCode.GRAPH_TOO_DEEP],
      ] as const) {
        await assert.rejects(decoder.decode(body), (error) => {
          assert.ok(isPstnError(error, code), String(error));
          assert.equal(error.retriable, false);
          return true;
        });
      }
      // The decoder still works afterwards.
      assert.equal((await decoder.decode(pageBody())).keys[0], "a");
    });

    test("a page is encoded once: after that, or after release, it is gone", async () => {
      const page = await decoder.decode(pageBody());
      await decoder.encode(page, [0], WINDOW);
      await assert.rejects(decoder.encode(page, [0], WINDOW), (error) =>
        isPstnError(error, ErrorCode.DECODER_FAILED),
      );
      const other = await decoder.decode(pageBody());
      decoder.release(other);
      await assert.rejects(decoder.encode(other, [0], WINDOW), (error) =>
        isPstnError(error, ErrorCode.DECODER_FAILED),
      );
    });
  });
}

test("when the decoder thread dies, what it was asked fails retriably and the next request starts a new one", async () => {
  const decoder = new WorkerPageDecoder([{ schemaId: SCHEMA_ID }]);
  try {
    const page = await decoder.decode(pageBody());
    const thread = (decoder as unknown as { worker: { terminate(): Promise<number> } }).worker;
    const pending = decoder.encode(page, [0], WINDOW);
    await thread.terminate();
    await pending.then(
      // The answer may have come first; then the page is gone with the thread all the same.
      () => undefined,
      (error: unknown) => {
        assert.ok(isPstnError(error, ErrorCode.DECODER_FAILED), String(error));
        assert.equal(error.retriable, true);
      },
    );
    const again = await decoder.decode(pageBody());
    assert.equal(again.keys[0], "a");
  } finally {
    await decoder.close();
  }
});

test("a page whose rows outgrow the decoder thread's heap is refused for good; the next page gets a new thread", async () => {
  const decoder = new WorkerPageDecoder([{ schemaId: SCHEMA_ID }]);
  try {
    // About 60 MB of small numbers in 5,000 rows: far more objects' worth of heap than the thread has.
    const props = Array.from({ length: 1_100 }, (_, i) => `"p${i}":${i}`).join(",");
    const rows = Array.from({ length: 5_000 }, (_, i) => `{"id":"r${i}",${props}}`).join(",");
    const heavy = new TextEncoder().encode(`{"value":[${rows}]}`);
    await assert.rejects(decoder.decode(heavy), (error) => {
      assert.ok(isPstnError(error, ErrorCode.GRAPH_BODY_TOO_LARGE), String(error));
      assert.equal(error.retriable, false);
      assert.match(error.message, /outgrow the decoder thread's heap/);
      return true;
    });
    assert.equal((await decoder.decode(pageBody())).keys[0], "a");
  } finally {
    await decoder.close();
  }
});

test("sources of one stream share one decoder thread, each releasing only its own pages", async () => {
  const threads = new DecoderThreads({ pstn: 3 });
  try {
    const first = threads.decoderFor([{ schemaId: SCHEMA_ID }], "pstn");
    const second = threads.decoderFor([{ schemaId: SCHEMA_ID }], "pstn");
    threads.decoderFor([{ schemaId: SCHEMA_ID + 1 }], "sms");
    assert.equal(threads.size, 2, "one thread per stream and schema");
    const mine = await first.decode(pageBody());
    const theirs = await second.decode(pageBody());
    first.releaseAll();
    await assert.rejects(first.encode(mine, [0], WINDOW), (error) =>
      isPstnError(error, ErrorCode.DECODER_FAILED),
    );
    const encoded = await second.encode(theirs, [0], WINDOW);
    assert.equal(encoded.outputs[0]?.ends.length, 1, "the other source's page is still held, and encodes");
    await first.close();
    // Closing a view leaves the thread to the other views.
    assert.equal((await second.decode(pageBody())).keys[0], "a");
  } finally {
    await threads.close();
  }
});

describe("batch builder", () => {
  test("dedupes in order across pages, then builds the messages in row order with dead letters apart", async () => {
    const decoder = new InlinePageDecoder([{ schemaId: SCHEMA_ID }]);
    const tracker = new StateTracker("t/pstn/x", new Date(0));
    const batch = new BatchBuilder(tracker, () => Date.parse("2026-01-01T10:30:00Z"));
    const first = await decoder.decode(pageBody());
    const fresh = batch.select(first);
    // "a" twice on the page: the second is a duplicate.
    assert.deepEqual(fresh, [0, 1, 2, 4, 5]);
    batch.add(first, fresh, decoder.encode(first, fresh, WINDOW));
    const second = await decoder.decode(pageBody());
    assert.deepEqual(batch.select(second), [], "every row of the same page again is a duplicate");
    assert.equal(batch.size, 5);
    const tally = await batch.settle();
    assert.deepEqual(
      (batch.outputs[0] ?? []).map((m) => m.key),
      ["a"],
    );
    assert.deepEqual(
      batch.dlq.map((m) => [m.key, (m.headers as Record<string, string>)["pstn.reason"]?.split(":")[0]]),
      [
        ["b", "charge"],
        ["c", "startDateTime"],
        [first.keys[4], "id"],
        ["d", "duration"],
      ],
    );
    assert.equal(tally.deadReasons.length, 4);
    // Rows with a start are remembered under their hour; the others under the hour they were seen.
    const hours = [...batch.newIds.entries()].map(([hour, ids]) => [new Date(hour).toISOString(), ids]);
    assert.deepEqual(hours, [
      ["2019-11-01T00:00:00.000Z", ["a", "b", "d"]],
      ["2026-01-01T10:00:00.000Z", ["c", first.keys[4]]],
    ]);
  });
});

test("a decoder thread that cannot start fails its requests for good: no Graph request is worth repeating for it", async () => {
  // As if the thread's file were missing from the install.
  const decoder = new WorkerPageDecoder(
    [{ schemaId: SCHEMA_ID }],
    "pstn",
    new URL("./no-such-thread.js", import.meta.url),
  );
  try {
    await assert.rejects(decoder.decode(pageBody()), (error) => {
      assert.ok(isPstnError(error, ErrorCode.DECODER_FAILED), String(error));
      assert.equal(error.retriable, false);
      assert.match(error.message, /could not start/);
      return true;
    });
  } finally {
    await decoder.close();
  }
});
