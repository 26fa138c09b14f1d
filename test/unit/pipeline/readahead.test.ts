import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { CallLogPage } from "../../../src/graph/body.js";
import { readAhead } from "../../../src/pipeline/readahead.js";
import type { Window } from "../../../src/windows/planner.js";

const windows: Window[] = Array.from({ length: 6 }, (_, i) => ({
  from: new Date(i * 1000),
  to: new Date((i + 1) * 1000),
}));

function page(window: number, n: number): CallLogPage {
  return { rows: [{ id: `w${window}-p${n}` }], nextLink: undefined };
}

test("pages come out in window order while windows are fetched concurrently, up to the limit", async () => {
  let running = 0;
  let most = 0;
  const fetchPages = async function* (window: Window) {
    const index = window.from.getTime() / 1000;
    running++;
    most = Math.max(most, running);
    try {
      for (let n = 0; n < 3; n++) {
        // Later windows answer faster: order must still hold.
        await sleep(30 - index * 4);
        yield page(index, n);
      }
    } finally {
      running--;
    }
  };
  const seen: string[] = [];
  for await (const item of readAhead(windows, fetchPages, {
    windows: 3,
    pagesAhead: 4,
    signal: new AbortController().signal,
  })) {
    seen.push(
      item.kind === "page" ? String(item.page.rows[0]?.id) : `end${item.window.from.getTime() / 1000}`,
    );
  }
  const expected = windows.flatMap((_, w) => [`w${w}-p0`, `w${w}-p1`, `w${w}-p2`, `end${w}`]);
  assert.deepEqual(seen, expected);
  assert.equal(most, 3, "three windows fetched at once, never more");
});

test("a window's fetch error surfaces when the consumer reaches it, after the earlier windows", async () => {
  const fetchPages = async function* (window: Window) {
    const index = window.from.getTime() / 1000;
    yield page(index, 0);
    if (index === 2) throw new Error("window 2 failed");
  };
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const item of readAhead(windows, fetchPages, {
      windows: 4,
      pagesAhead: 4,
      signal: new AbortController().signal,
    })) {
      if (item.kind === "end") seen.push(`end${item.window.from.getTime() / 1000}`);
    }
  }, /window 2 failed/);
  assert.deepEqual(seen, ["end0", "end1"]);
});

test("when the consumer stops early, every fetch is aborted and settles", async () => {
  const aborted: number[] = [];
  const fetchPages = async function* (window: Window, signal: AbortSignal) {
    const index = window.from.getTime() / 1000;
    signal.addEventListener("abort", () => aborted.push(index));
    for (let n = 0; n < 100; n++) {
      yield page(index, n);
      await sleep(5);
    }
  };
  let taken = 0;
  for await (const item of readAhead(windows, fetchPages, {
    windows: 3,
    pagesAhead: 4,
    signal: new AbortController().signal,
  })) {
    if (item.kind === "page" && ++taken === 3) break;
  }
  assert.deepEqual(aborted.sort(), [0, 1, 2]);
});

test("while the current window waits, the windows ahead fill the shared budget and no more", async () => {
  let releaseFirst: () => void = () => undefined;
  const firstPage = new Promise<void>((resolve) => {
    releaseFirst = resolve;
  });
  let fetchedAhead = 0;
  const fetchPages = async function* (window: Window) {
    const index = window.from.getTime() / 1000;
    for (let n = 0; n < 5; n++) {
      if (index === 0 && n === 0) await firstPage;
      await sleep(1);
      if (index > 0) fetchedAhead++;
      yield page(index, n);
    }
  };
  const seen: string[] = [];
  const reading = (async () => {
    for await (const item of readAhead(windows, fetchPages, {
      windows: 4,
      pagesAhead: 9,
      signal: new AbortController().signal,
    })) {
      if (item.kind === "page") seen.push(String(item.page.rows[0]?.id));
    }
  })();
  // The first window is stuck on its first page: the three ahead fetch until they hold nine,
  // more than a fixed share per window would let them.
  for (let i = 0; i < 200 && fetchedAhead < 9; i++) await sleep(5);
  await sleep(50);
  assert.ok(fetchedAhead >= 9, `the windows ahead fetched ${fetchedAhead} pages, not the budget of 9`);
  assert.ok(fetchedAhead <= 9 + 2, `the windows ahead fetched ${fetchedAhead} pages past a budget of 9`);
  releaseFirst();
  await reading;
  assert.deepEqual(
    seen,
    windows.flatMap((_, w) => [0, 1, 2, 3, 4].map((n) => `w${w}-p${n}`)),
  );
});
