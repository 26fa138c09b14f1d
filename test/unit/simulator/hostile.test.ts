import assert from "node:assert/strict";
import { test } from "node:test";
import { request } from "undici";
import { isPstnError } from "../../../src/errors.js";
import { startGraphSimulator } from "../../../tools/simulator/index.js";
import { graphGet, type Harness, harness, nextLinkOf, pstnUrl, readAll, token } from "./support.js";

const DATA = {
  dataStart: new Date("2024-01-10T00:00:00Z"),
  dataEnd: new Date("2024-01-13T00:00:00Z"),
  callsPerHour: 20,
  pageSize: 100,
};
const MiB = 1024 * 1024;

function day(h: Harness, from: string, to: string): string {
  return pstnUrl(h.sim, from, to);
}

test("hostile modes are off by default: the pages are the data's", async (t) => {
  const h = await harness(t, DATA);
  const bearer = await token(h);
  const pass = await readAll(h, day(h, "2024-01-10", "2024-01-11"), bearer);
  assert.ok(pass.pages.length > 1);
  assert.equal(h.sim.stats().faultsInjected.hostile, 0);
});

test("nextLink: every page (the last too) links where it is told; ranges up to `after` are spared", async (t) => {
  const h = await harness(t, {
    ...DATA,
    hostile: { after: new Date("2024-01-11T00:00:00Z"), nextLink: "http://127.0.0.1:9/steal" },
  });
  const bearer = await token(h);
  const spared = await readAll(h, day(h, "2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z"), bearer);
  assert.ok(spared.pages.length > 1, "the spared range pages as usual");
  const hostile = await graphGet(h, day(h, "2024-01-11T00:00:00Z", "2024-01-11T00:00:01Z"), bearer);
  assert.equal(hostile.status, 200);
  assert.equal(nextLinkOf(hostile.json())?.link, "http://127.0.0.1:9/steal");
  assert.equal(h.sim.stats().faultsInjected.hostile, 1);
});

test("afterRequests: the first requests are served as usual", async (t) => {
  const h = await harness(t, { ...DATA, hostile: { afterRequests: 1, nextLink: "ftp://127.0.0.1/x" } });
  const bearer = await token(h);
  const url = day(h, "2024-01-10T00:00:00Z", "2024-01-10T00:10:00Z");
  assert.equal(nextLinkOf((await graphGet(h, url, bearer)).json()), undefined);
  assert.equal(nextLinkOf((await graphGet(h, url, bearer)).json())?.link, "ftp://127.0.0.1/x");
});

test("loop: the page links to itself; endless: to the next $skip, past the data", async (t) => {
  const h = await harness(t, { ...DATA, hostile: { loop: true } });
  const bearer = await token(h);
  const url = day(h, "2024-01-12T00:00:00Z", "2024-01-12T00:01:00Z");
  const first = await graphGet(h, url, bearer);
  assert.equal(nextLinkOf(first.json())?.link, url);

  h.sim.setHostile({ endless: true });
  let link = url;
  for (let i = 1; i <= 3; i++) {
    const reply = await graphGet(h, link, bearer);
    assert.equal(reply.status, 200);
    link = nextLinkOf(reply.json())?.link ?? "";
    assert.match(link, new RegExp(`\\$skip=${i * 100}$`));
  }
  h.sim.setHostile(undefined);
  assert.equal(nextLinkOf((await graphGet(h, url, bearer)).json()), undefined);
});

test("oversized: a 200 of the size asked, streamed, with or without Content-Length", async (t) => {
  const h = await harness(t, { ...DATA, hostile: { oversized: { bytes: 3 * MiB + 5 } } });
  const bearer = await token(h);
  const url = day(h, "2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z");
  const withLength = await request(url, {
    dispatcher: h.agent,
    headers: { authorization: `Bearer ${bearer}` },
  });
  assert.equal(withLength.statusCode, 200);
  assert.match(String(withLength.headers["content-type"]), /^text\/html/);
  assert.equal(withLength.headers["content-length"], String(3 * MiB + 5));
  const text = await withLength.body.text();
  assert.equal(text.length, 3 * MiB + 5);
  assert.ok(text.startsWith("<!DOCTYPE html>"));

  h.sim.setHostile({ oversized: { bytes: 2 * MiB, contentType: "application/json", contentLength: false } });
  const chunked = await request(url, { dispatcher: h.agent, headers: { authorization: `Bearer ${bearer}` } });
  assert.equal(chunked.headers["content-length"], undefined);
  assert.equal(chunked.headers["transfer-encoding"], "chunked");
  assert.equal((await chunked.body.text()).length, 2 * MiB);
  assert.equal(h.sim.stats().hostileBytesWritten, 5 * MiB + 5);
});

test("oversized: the simulator writes only as fast as the client reads", async (t) => {
  const h = await harness(t, { ...DATA, hostile: { oversized: { bytes: 1024 * MiB } } });
  const bearer = await token(h);
  const response = await request(day(h, "2024-01-10", "2024-01-11"), {
    dispatcher: h.agent,
    headers: { authorization: `Bearer ${bearer}` },
  });
  let read = 0;
  for await (const chunk of response.body) {
    read += (chunk as Buffer).length;
    if (read > 4 * MiB) break;
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const written = h.sim.stats().hostileBytesWritten;
  assert.ok(written < 32 * MiB, `the simulator wrote ${written} bytes of 1 GiB`);
});

test("rows: a page of that many rows, streamed; depth: a first row without id nested that deep", async (t) => {
  const h = await harness(t, { ...DATA, hostile: { rows: 12_345 } });
  const bearer = await token(h);
  const url = day(h, "2024-01-10T00:00:00.000Z", "2024-01-11T00:00:00.000Z");
  const many = await graphGet(h, url, bearer);
  assert.equal(many.headers["transfer-encoding"], "chunked");
  const rows = many.json().value as { id: string; startDateTime: string }[];
  assert.equal(rows.length, 12_345);
  assert.equal(new Set(rows.map((row) => row.id)).size, 12_345);
  assert.deepEqual(rows[0], { id: "hostile-0", startDateTime: "2024-01-10T00:00:00.000Z" });

  h.sim.setHostile({ depth: 1000 });
  const deep = await graphGet(h, url, bearer);
  const value = deep.json().value as Record<string, unknown>[];
  assert.ok(value.length > 1, "the data's rows follow the deep one");
  assert.equal(value[0]!.id, undefined);
  let level = value[0]!.nested as unknown;
  let depth = 0;
  while (Array.isArray(level)) {
    depth++;
    level = level[0];
  }
  assert.equal(depth, 1000);
});

test("hostile options are validated", async () => {
  const bad = [
    { nextLink: "x", loop: true },
    { rows: 5, depth: 3 },
    { rows: -1 },
    { depth: 0 },
    { oversized: { bytes: 1.5 } },
    { after: new Date("not a date") },
  ];
  for (const hostile of bad) {
    await assert.rejects(
      startGraphSimulator({ ...DATA, hostile }),
      (error) => isPstnError(error),
      JSON.stringify(hostile),
    );
  }
});
