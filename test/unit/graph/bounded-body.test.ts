import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { isJsonContentType, LargeBodyTurns } from "../../../src/graph/bounded-body.js";

describe("isJsonContentType", () => {
  test("application/json and +json types, with parameters, in any case", () => {
    for (const type of [
      "application/json",
      "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8",
      " APPLICATION/JSON ; charset=utf-8",
      "application/problem+json",
      "application/vnd.ms-graph.v1+json",
      ["application/json", "text/html"],
    ]) {
      assert.ok(isJsonContentType(type), String(type));
    }
  });

  test("anything else is not JSON", () => {
    for (const type of [
      undefined,
      "",
      "text/html",
      "text/json",
      "application/jsonp",
      "application/json-seq",
      "application/x-json-stream",
      "+json",
      "application/+json",
      "multipart/mixed; boundary=json",
      ["text/html", "application/json"],
    ]) {
      assert.ok(!isJsonContentType(type), String(type));
    }
  });
});

describe("LargeBodyTurns", () => {
  test("one turn at a time, in the order asked", async () => {
    const turns = new LargeBodyTurns();
    const order: string[] = [];
    const endA = await turns.take();
    order.push("a");
    const b = turns.take().then((end) => {
      order.push("b");
      return end;
    });
    const c = turns.take().then((end) => {
      order.push("c");
      end();
    });
    await sleep(10);
    assert.deepEqual(order, ["a"], "b waits while a reads");
    endA();
    const endB = await b;
    await sleep(10);
    assert.deepEqual(order, ["a", "b"], "c waits while b reads");
    endB();
    await c;
    assert.deepEqual(order, ["a", "b", "c"]);
  });

  test("a reader that gives up while waiting passes its turn on", async () => {
    const turns = new LargeBodyTurns();
    const endA = await turns.take();
    const stop = new AbortController();
    const b = turns.take(stop.signal);
    const c = turns.take();
    stop.abort(new Error("stopped"));
    await assert.rejects(b, /stopped/);
    endA();
    const endC = await c;
    endC();
    await assert.rejects(turns.take(stop.signal), /stopped/, "an aborted signal takes no turn");
    (await turns.take())();
  });
});
