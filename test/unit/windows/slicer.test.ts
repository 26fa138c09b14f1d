import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_GRAPH_RANGE_MS, sliceRange, type Window } from "../../../src/windows/planner.js";
import { GRAPH_PAGE_ROWS, SPLIT_AFTER_ROWS, WindowSlicer } from "../../../src/windows/slicer.js";

const SPLIT_AFTER_PAGES = SPLIT_AFTER_ROWS / GRAPH_PAGE_ROWS;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse("2026-01-01T00:00:00Z");

/**
 * Reads `[from, to]` the way the Source does: `ahead` windows in flight, the next one asked for
 * after the oldest ended. Rows are spread evenly at `rowsPerDay` (taken at the window's start); a
 * window costs its full pages plus one that is not full (an empty window costs one request). A
 * window with more than SPLIT_AFTER_ROWS rows is split after that many pages: those requests are
 * spent, the windows in flight are dropped, and reading starts again at its start.
 */
function read(
  slicer: WindowSlicer,
  rowsPerDay: (at: number) => number,
  ahead = 4,
): { windows: Window[]; requests: number; rows: number; splits: number } {
  const windows: Window[] = [];
  const inFlight: Window[] = [];
  let iterator = slicer[Symbol.iterator]();
  const take = () => {
    const next = iterator.next();
    if (!next.done) inFlight.push(next.value);
  };
  for (let i = 0; i < ahead; i++) take();
  let requests = 0;
  let rows = 0;
  let splits = 0;
  while (inFlight.length > 0) {
    const window = inFlight.shift() as Window;
    const ms = window.to.getTime() - window.from.getTime();
    const held = Math.round((rowsPerDay(window.from.getTime()) * ms) / DAY);
    const pages = Math.max(1, Math.ceil(held / GRAPH_PAGE_ROWS));
    if (pages > SPLIT_AFTER_PAGES && slicer.split(window, SPLIT_AFTER_PAGES * GRAPH_PAGE_ROWS)) {
      requests += SPLIT_AFTER_PAGES;
      splits++;
      inFlight.length = 0;
      iterator = slicer[Symbol.iterator]();
      for (let i = 0; i < ahead; i++) take();
      continue;
    }
    windows.push(window);
    rows += held;
    requests += pages;
    slicer.observe(window, held);
    take();
  }
  return { windows, requests, rows, splits };
}

function assertContiguous(windows: Window[], from: number, to: number): void {
  assert.equal(windows[0]?.from.getTime(), from);
  assert.equal(windows.at(-1)?.to.getTime(), to);
  for (let i = 1; i < windows.length; i++) {
    assert.equal(
      windows[i]?.from.getTime(),
      windows[i - 1]?.to.getTime(),
      `window ${i} meets the one before`,
    );
  }
  for (const window of windows) assert.ok(window.to.getTime() - window.from.getTime() <= MAX_GRAPH_RANGE_MS);
}

describe("WindowSlicer", () => {
  test("before any row is seen it slices as sliceRange does", () => {
    const slicer = new WindowSlicer(new Date(T0), new Date(T0 + 3 * DAY + HOUR), { initialMs: DAY });
    assert.deepEqual([...slicer], sliceRange(new Date(T0), new Date(T0 + 3 * DAY + HOUR), DAY));
    assert.deepEqual([...new WindowSlicer(new Date(T0 + 1), new Date(T0), { initialMs: DAY })], []);
    assert.deepEqual(
      [...new WindowSlicer(new Date(T0), new Date(T0), { initialMs: DAY })],
      [{ from: new Date(T0), to: new Date(T0) }],
    );
    assert.throws(() => new WindowSlicer(new Date(T0), new Date(T0), { initialMs: 0 }), RangeError);
  });

  for (const [name, perDay, days] of [
    ["a sparse tenant (300 rows a day), 200 days", 300, 200],
    ["a dense tenant (50,000 rows a day), 30 days", 50_000, 30],
    ["a middling tenant (4,000 rows a day), 120 days", 4_000, 120],
  ] as const) {
    test(`${name}: requests stay within 1.15 × ceil(rows / 1000)`, () => {
      const to = T0 + days * DAY;
      const slicer = new WindowSlicer(new Date(T0), new Date(to), { initialMs: DAY });
      const { windows, requests, rows } = read(slicer, () => perDay);
      assertContiguous(windows, T0, to);
      const minimum = Math.ceil(rows / GRAPH_PAGE_ROWS);
      assert.ok(requests <= 1.15 * minimum, `${requests} requests for ${rows} rows (minimum ${minimum})`);
      const fixed = read(new WindowSlicer(new Date(T0), new Date(to), { initialMs: DAY }), () => perDay, 0);
      assert.equal(fixed.windows.length, 0, "nothing is read when nothing is asked for");
    });
  }

  test("1-day slices would need 3.3 times the requests on the sparse tenant", () => {
    const days = 200;
    const fixed = sliceRange(new Date(T0), new Date(T0 + days * DAY), DAY).length;
    const adaptive = read(
      new WindowSlicer(new Date(T0), new Date(T0 + days * DAY), { initialMs: DAY }),
      () => 300,
    );
    assert.equal(fixed, 200);
    assert.ok(adaptive.requests * 3 < fixed, `${adaptive.requests} requests against ${fixed}`);
  });

  test("an empty history is crossed in windows growing to Graph's 90 days", () => {
    const to = T0 + 365 * DAY;
    const { windows, requests } = read(
      new WindowSlicer(new Date(T0), new Date(to), { initialMs: DAY }),
      () => 0,
    );
    assertContiguous(windows, T0, to);
    assert.ok(requests <= 12, `${requests} requests`);
    assert.ok(windows.some((w) => w.to.getTime() - w.from.getTime() === MAX_GRAPH_RANGE_MS));
  });

  test("a quiet spell, then a busy one: the long window that meets it is split, and no window read whole holds more than twice its aim", () => {
    const to = T0 + 180 * DAY;
    const busy = (at: number) => (at < T0 + 60 * DAY ? 10 : 100_000);
    const { windows, requests, rows, splits } = read(
      new WindowSlicer(new Date(T0), new Date(to), { initialMs: DAY }),
      busy,
    );
    assertContiguous(windows, T0, to);
    assert.ok(splits > 0);
    const length = (w: Window | undefined) => (w ? w.to.getTime() - w.from.getTime() : 0);
    for (let i = 1; i < windows.length; i++) {
      assert.ok(length(windows[i]) <= 4 * length(windows[i - 1]) + 1, `window ${i} grows at most 4 times`);
    }
    for (const window of windows) {
      const held = (busy(window.from.getTime()) * length(window)) / DAY;
      assert.ok(
        held <= SPLIT_AFTER_PAGES * GRAPH_PAGE_ROWS || length(window) <= HOUR,
        `${held} rows in one window`,
      );
    }
    assert.ok(
      requests <= 1.15 * Math.ceil(rows / GRAPH_PAGE_ROWS),
      `${requests} requests for ${rows} rows, ${splits} splits`,
    );
  });

  test("a density seen before sizes the first windows at once; a dense tenant's windows shrink to an hour at least", () => {
    const sparse = new WindowSlicer(new Date(T0), new Date(T0 + 48 * HOUR), {
      initialMs: DAY,
      density: 300 / DAY,
    });
    assert.deepEqual(
      [...sparse],
      [{ from: new Date(T0), to: new Date(T0 + 48 * HOUR) }],
      "one request for a poll",
    );
    const dense = new WindowSlicer(new Date(T0), new Date(T0 + 48 * HOUR), {
      initialMs: DAY,
      density: 10_000_000 / DAY,
    });
    const first = dense.next();
    assert.equal(first ? first.to.getTime() - first.from.getTime() : 0, HOUR);
  });

  test("a split at least halves the window, whatever its pages held, down to the shortest window", () => {
    const slicer = new WindowSlicer(new Date(T0), new Date(T0 + 90 * DAY), { initialMs: DAY, density: 0 });
    let window = slicer.next() as Window;
    let splits = 0;
    // Pages of 7 rows: 40 of them say little about the density, and the window still shrinks.
    while (slicer.split(window, 280)) {
      const next = slicer.next() as Window;
      assert.equal(next.from.getTime(), window.from.getTime(), "it starts again where the split window did");
      const half = (window.to.getTime() - window.from.getTime()) / 2;
      assert.ok(next.to.getTime() - next.from.getTime() <= Math.max(half, HOUR));
      window = next;
      splits++;
    }
    assert.ok(splits > 0 && splits < 20, `${splits} splits`);
    assert.ok(window.to.getTime() - window.from.getTime() <= HOUR);
  });
});
