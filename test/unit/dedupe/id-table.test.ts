import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { IdTable, parseGuid } from "../../../src/dedupe/id-table.js";

test("GUIDs: added once, found again, counted", () => {
  const table = new IdTable();
  const id = "0cb4b5b0-d2c9-40cf-935c-93afd1df3afc";
  assert.equal(table.has(id), false);
  assert.equal(table.add(id), true);
  assert.equal(table.add(id), false);
  assert.equal(table.has(id), true);
  assert.equal(table.size, 1);
});

test("exact: ids that differ in their text are different ids, whatever their shape", () => {
  const table = new IdTable();
  const id = "0cb4b5b0-d2c9-40cf-935c-93afd1df3afc";
  const others = [
    id.toUpperCase(),
    "0cb4b5b0d-2c9-40cf-935c-93afd1df3afc",
    "0cb4b5b0-d2c9-40cf-935c-93afd1df3afg",
    "00000000-0000-0000-0000-000000000000",
    "sha256:0cb4b5b0d2c940cf935c93afd1df3afc",
    "",
    `${id} `,
  ];
  table.add(id);
  for (const other of others) assert.equal(table.has(other), false, other);
  for (const other of others) assert.equal(table.add(other), true, other);
  for (const other of others) assert.equal(table.add(other), false, other);
  assert.equal(table.size, 1 + others.length);
  assert.equal(parseGuid(id), true);
  assert.deepEqual(
    others.map((other) => parseGuid(other)),
    others.map(() => false),
    "only the canonical lower-case text of a GUID other than nil is kept as bytes",
  );
});

test("many ids, as a Set would keep them: every one added is found, no other is", () => {
  const table = new IdTable();
  const reference = new Set<string>();
  for (let i = 0; i < 50_000; i++) {
    // Mostly GUIDs, some of them twice; a few ids of other shapes.
    const id =
      i % 10 === 9 ? `call-${i}` : i % 7 === 0 && i > 0 ? [...reference][i % reference.size]! : randomUUID();
    assert.equal(table.add(id), !reference.has(id));
    reference.add(id);
  }
  assert.equal(table.size, reference.size);
  for (const id of reference) assert.equal(table.has(id), true);
  for (let i = 0; i < 50_000; i++) assert.equal(table.has(randomUUID()), false);
  // GUIDs that differ in one word only still get entries of their own.
  const base = "11111111-2222-3333-4444-555555555555";
  const neighbours = [0, 9, 14, 19, 24, 35].map((at) => `${base.slice(0, at)}0${base.slice(at + 1)}`);
  const small = new IdTable();
  for (const id of [base, ...neighbours]) assert.equal(small.add(id), true, id);
  assert.equal(small.size, 1 + neighbours.length);
});
