import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import {
  MAX_PAGE_DEPTH,
  MAX_PAGE_ROWS,
  moneyKeys,
  PSTN_MONEY,
  parseCallLogPage,
  quoteMoneyNumbers,
} from "../../../src/graph/body.js";

function isBadResponse(error: unknown): boolean {
  assert.ok(isPstnError(error, ErrorCode.GRAPH_BAD_RESPONSE), `got ${String(error)}`);
  assert.equal(error.retriable, true);
  return true;
}

describe("parseCallLogPage", () => {
  test("charge and connectionCharge keep their exact source text", () => {
    const text = `{"value":[
      {"id":"a","charge":0.1234567890123456789,"connectionCharge":1e-7,"duration":61},
      {"id":"b","charge": -0.5 ,"connectionCharge" :  0.00,"duration":0},
      {"id":"c","charge":12345678901234567890.123456789012,"connectionCharge":1E+3},
      {"id":"d","charge":0,"connectionCharge":-2.5e-12}
    ]}`;
    const { rows, nextLink } = parseCallLogPage(text);
    assert.equal(nextLink, undefined);
    assert.equal(rows.length, 4);
    assert.equal(rows[0]!.charge, "0.1234567890123456789");
    assert.equal(rows[0]!.connectionCharge, "1e-7");
    assert.equal(rows[1]!.charge, "-0.5");
    assert.equal(rows[1]!.connectionCharge, "0.00");
    assert.equal(rows[2]!.charge, "12345678901234567890.123456789012");
    assert.equal(rows[2]!.connectionCharge, "1E+3");
    assert.equal(rows[3]!.charge, "0");
    assert.equal(rows[3]!.connectionCharge, "-2.5e-12");
  });

  test("other numbers stay numbers; null charges stay null", () => {
    const { rows } = parseCallLogPage(
      '{"value":[{"id":"a","duration":61,"charge":null,"connectionCharge":null,"other":1.5,"surcharge":0.1}]}',
    );
    const row = rows[0]!;
    assert.equal(row.duration, 61);
    assert.equal(typeof row.duration, "number");
    assert.equal(row.other, 1.5);
    assert.equal(row.surcharge, 0.1);
    assert.equal(row.charge, null);
    assert.equal(row.connectionCharge, null);
  });

  test("a string value containing the text of a charge property is untouched", () => {
    const inner = 'note "charge": 1, "connectionCharge":2.5 end';
    const text = JSON.stringify({ value: [{ id: "a", note: inner, charge: 3 }] }).replace(
      '"charge":3',
      '"charge":3.10',
    );
    const { rows } = parseCallLogPage(text);
    assert.equal(rows[0]!.note, inner);
    assert.equal(rows[0]!.charge, "3.10");
    // A string value that is just the word "charge" next to a number is untouched as well.
    const other = parseCallLogPage('{"value":[{"kind":"charge","n":1,"charge":"7.00"}]}');
    assert.equal(other.rows[0]!.kind, "charge");
    assert.equal(other.rows[0]!.n, 1);
    assert.equal(other.rows[0]!.charge, "7.00");
  });

  test("each stream names its own money: the SMS log's callCharge, none for Direct Routing", () => {
    const text = '{"value":[{"id":"a","callCharge":0.1000000000000000055511,"charge":0.1,"smsUnits":2}]}';
    const sms = parseCallLogPage(text, moneyKeys(["callCharge"])).rows[0]!;
    assert.equal(sms.callCharge, "0.1000000000000000055511");
    assert.equal(sms.charge, 0.1, "not the SMS log's money: a number");
    assert.equal(sms.smsUnits, 2);
    const pstn = parseCallLogPage(text).rows[0]!;
    assert.equal(pstn.charge, "0.1");
    assert.equal(typeof pstn.callCharge, "number");
    assert.equal(quoteMoneyNumbers(text, moneyKeys([])), text);
    assert.equal(moneyKeys(["charge", "connectionCharge", "callCharge"]).tail, 'harge"');
    assert.equal(moneyKeys(["callCharge"]).tail, '"callCharge"');
  });

  test("unknown properties and nested objects pass through", () => {
    const { rows } = parseCallLogPage(
      '{"value":[{"id":"a","administrativeUnitInfos":[{"id":"au1"}],"brandNew":{"x":[1,2]}}]}',
    );
    assert.deepEqual(rows[0], { id: "a", administrativeUnitInfos: [{ id: "au1" }], brandNew: { x: [1, 2] } });
  });

  test("@odata.nextLink is read whatever its casing", () => {
    const link =
      "https://graph.microsoft.com/v1.0/communications/callRecords/getPstnCalls(from=2019-11-01,to=2019-12-01)?$skip=1000";
    for (const key of [
      "@odata.nextLink",
      "@odata.NextLink",
      "@odata.nextlink",
      "@ODATA.NEXTLINK",
      "@Odata.NextLink",
    ]) {
      const page = parseCallLogPage(JSON.stringify({ "@odata.count": 1, value: [{ id: "x" }], [key]: link }));
      assert.equal(page.nextLink, link, key);
      assert.equal(page.rows.length, 1);
    }
  });

  test("no nextLink (or an empty one) is undefined", () => {
    assert.equal(parseCallLogPage('{"value":[]}').nextLink, undefined);
    assert.equal(parseCallLogPage('{"value":[],"@odata.nextLink":""}').nextLink, undefined);
    assert.equal(parseCallLogPage('{"value":[],"@odata.nextLink":null}').nextLink, undefined);
    assert.equal(parseCallLogPage('{"value":[],"@odata.nextLinks":"http://x"}').nextLink, undefined);
    assert.equal(parseCallLogPage('{"value":[],"@odata.context":"http://x"}').nextLink, undefined);
  });

  test("an empty page has no rows", () => {
    assert.deepEqual(parseCallLogPage('{"@odata.count":0,"value":[]}'), { rows: [], nextLink: undefined });
  });

  test("truncated JSON is a retriable PSTN_GRAPH_BAD_RESPONSE", () => {
    const full = JSON.stringify({ value: [{ id: "a", charge: 1.25 }, { id: "b" }] });
    for (const cut of [1, 10, full.length - 1]) {
      assert.throws(() => parseCallLogPage(full.slice(0, cut)), isBadResponse);
    }
    assert.throws(() => parseCallLogPage(""), isBadResponse);
    assert.throws(() => parseCallLogPage("<html>gateway</html>"), isBadResponse);
  });

  test("JSON without a value array is a retriable PSTN_GRAPH_BAD_RESPONSE", () => {
    for (const text of ['{"values":[]}', '{"value":{}}', '{"value":null}', "[]", "null", "42", '"value"']) {
      assert.throws(() => parseCallLogPage(text), isBadResponse, text);
    }
  });
});

describe("parseCallLogPage limits", () => {
  const rowsOf = (n: number) =>
    `{"value":[${Array.from({ length: n }, (_, i) => `{"id":"r${i}"}`).join(",")}]}`;
  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

  function refused(code: ErrorCode) {
    return (error: unknown): boolean => {
      assert.ok(isPstnError(error, code), `expected ${code}, got ${String(error)}`);
      assert.equal(error.retriable, false, "final");
      return true;
    };
  }

  test("up to MAX_PAGE_ROWS rows are read; one more is a final PSTN_GRAPH_TOO_MANY_ROWS", () => {
    assert.equal(parseCallLogPage(rowsOf(MAX_PAGE_ROWS)).rows.length, MAX_PAGE_ROWS);
    assert.throws(() => parseCallLogPage(rowsOf(MAX_PAGE_ROWS + 1)), refused(ErrorCode.GRAPH_TOO_MANY_ROWS));
    assert.throws(
      () => parseCallLogPage(rowsOf(3), PSTN_MONEY, { maxRows: 2, maxDepth: 64 }),
      refused(ErrorCode.GRAPH_TOO_MANY_ROWS),
    );
  });

  test("rows that are not objects are counted after the parse", () => {
    const numbers = `{"value":[${Array.from({ length: 6 }, () => "1").join(",")}]}`;
    assert.throws(
      () => parseCallLogPage(numbers, PSTN_MONEY, { maxRows: 5, maxDepth: 64 }),
      refused(ErrorCode.GRAPH_TOO_MANY_ROWS),
    );
  });

  test("objects nested in a row, or in other properties, are not rows", () => {
    const text = `{"value":[{"id":"a","administrativeUnitInfos":[{"id":"1"},{"id":"2"},{"id":"3"}]}],"other":{"x":[{"a":1},{"b":2}]}}`;
    assert.equal(parseCallLogPage(text, PSTN_MONEY, { maxRows: 1, maxDepth: 64 }).rows.length, 1);
  });

  test("nesting up to MAX_PAGE_DEPTH is read; deeper is a final PSTN_GRAPH_TOO_DEEP, before any parse", () => {
    // The page is two levels, the row a third: the property may nest MAX_PAGE_DEPTH - 3 more.
    const ok = `{"value":[{"id":"a","deep":${nested(MAX_PAGE_DEPTH - 3)}}]}`;
    assert.equal(parseCallLogPage(ok).rows.length, 1);
    const deep = `{"value":[{"deep":${nested(MAX_PAGE_DEPTH - 2)}}]}`;
    assert.throws(() => parseCallLogPage(deep), refused(ErrorCode.GRAPH_TOO_DEEP));
    // Deep enough to overflow the stack of any recursive code that met it.
    assert.throws(
      () => parseCallLogPage(`{"value":[{"deep":${nested(1_000_000)}}]}`),
      refused(ErrorCode.GRAPH_TOO_DEEP),
    );
    // Unbalanced, so that JSON.parse would refuse it too: the scan refuses first.
    assert.throws(() => parseCallLogPage("[".repeat(100)), refused(ErrorCode.GRAPH_TOO_DEEP));
  });

  test("brackets, braces and escaped quotes inside strings do not count", () => {
    const tricky = JSON.stringify({
      value: [
        { id: "a", note: "[".repeat(500) + "{".repeat(500), quote: 'say \\"[[[[\\" ok', slash: "\\" },
        { id: "b", note: '"}]' },
      ],
    });
    const { rows } = parseCallLogPage(tricky, PSTN_MONEY, { maxRows: 2, maxDepth: 4 });
    assert.equal(rows.length, 2);
    assert.equal(rows[0]!.note, "[".repeat(500) + "{".repeat(500));
    // A row whose strings hold "{" in an array position is not counted as a row either.
    const fake = `{"value":[{"id":"a","s":"},{},{},{"}]}`;
    assert.equal(parseCallLogPage(fake, PSTN_MONEY, { maxRows: 1, maxDepth: 4 }).rows.length, 1);
  });

  test("a string never closed is left to JSON.parse: a retriable PSTN_GRAPH_BAD_RESPONSE", () => {
    assert.throws(() => parseCallLogPage('{"value":[{"id":"a'), isBadResponse);
    assert.throws(() => parseCallLogPage('{"value":[{"id":"a\\"}]}'), isBadResponse);
  });
});

describe("quoteMoneyNumbers", () => {
  // The look-behind expression the scanner replaced, kept as the reference it must agree with.
  const REFERENCE = /(?<=[{,]\s*)"(charge|connectionCharge)"(\s*):(\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
  const reference = (text: string) => text.replace(REFERENCE, '"$1"$2:$3"$4"');

  test("agrees with the regular expression on generated pages, awkward spellings included", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const space = () => pick(["", "", " ", "  ", "\n", "\t", "\r\n "]);
    const keys = [
      '"charge"',
      '"connectionCharge"',
      '"discharge"',
      '"Charge"',
      '"connectioncharge"',
      '"xcharge"',
    ];
    const numbers = [
      "0",
      "-0.5",
      "12.340",
      "1e-7",
      "1E+3",
      "-2.5e-12",
      "1.",
      "1.e5",
      "-",
      "1e+",
      "07",
      "3.10",
    ];
    // Not all valid JSON: a key's text after `[` or `:` is not a key, and must stay as it is.
    const values = [
      ...numbers,
      ...["null", '"7.00"', '"a \\"charge\\": 1"', "[1,2]", '{"charge":1.5}', "true"],
      ...['["charge":1.5]', '"charge":2', '[ "connectionCharge" : 3]'],
    ];
    for (let page = 0; page < 500; page++) {
      const members: string[] = [];
      for (let m = Math.floor(random() * 6); m >= 0; m--) {
        const key = random() < 0.7 ? pick(keys) : `"k${m}"`;
        members.push(`${space()}${key}${space()}:${space()}${pick(values)}${space()}`);
      }
      const text = `{${pick(["", " ", "\n"])}"value":[{${members.join(",")}}]}`;
      assert.equal(quoteMoneyNumbers(text), reference(text), text);
    }
  });

  test("returns the same string when there is nothing to quote", () => {
    const text = '{"value":[{"id":"a","charge":null}]}';
    assert.equal(quoteMoneyNumbers(text), text);
    assert.equal(quoteMoneyNumbers(""), "");
    assert.equal(quoteMoneyNumbers('harge"'), reference('harge"'));
    assert.equal(quoteMoneyNumbers('onnectionCharge":1'), reference('onnectionCharge":1'));
  });
});
