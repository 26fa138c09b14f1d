import { ErrorCode, PstnError } from "../errors.js";

export interface CallLogPage {
  rows: Record<string, unknown>[];
  nextLink: string | undefined;
}

/**
 * The keys of a stream's money properties, compiled for the scan: each key quoted, and the longest
 * tail all of them share (`harge"` for "charge", "connectionCharge" and "callCharge").
 */
export interface MoneyKeys {
  readonly quoted: readonly string[];
  readonly tail: string;
}

export function moneyKeys(names: readonly string[]): MoneyKeys {
  const quoted = names.map((name) => `"${name}"`);
  let tail = quoted[0] ?? "";
  for (const key of quoted) {
    while (!key.endsWith(tail)) tail = tail.slice(1);
  }
  return { quoted, tail };
}

/** The PSTN log's money: the default where no stream is named. */
export const PSTN_MONEY: MoneyKeys = moneyKeys(["charge", "connectionCharge"]);

/**
 * Money properties (`charge` and `connectionCharge` of the PSTN log, `callCharge` of the SMS log)
 * arrive as JSON numbers (Double on v1.0, Decimal on beta), which JSON.parse would turn into binary
 * floating point. This turns such a number token into a string token holding its exact source
 * text, before parsing. Only a real key is taken: inside a JSON string every `"` is escaped, and a
 * real key follows `{` or `,` (and whitespace). A scan with indexOf for the keys' shared tail,
 * because a regular expression with that look-behind cost as much as JSON.parse itself on a page
 * of a thousand rows.
 */
export function quoteMoneyNumbers(text: string, money: MoneyKeys = PSTN_MONEY): string {
  if (money.quoted.length === 0) return text;
  const { tail } = money;
  let out = "";
  let copied = 0;
  let from = 0;
  for (;;) {
    const found = text.indexOf(tail, from);
    if (found < 0) break;
    from = found + tail.length;
    const keyStart = keyStartBefore(text, from, money.quoted);
    if (keyStart < 0 || !followsObjectStart(text, keyStart)) continue;
    const colon = skipSpace(text, from);
    if (text.charCodeAt(colon) !== COLON) continue;
    const numberStart = skipSpace(text, colon + 1);
    const numberEnd = numberTokenEnd(text, numberStart);
    if (numberEnd < 0) continue;
    out += `${text.slice(copied, numberStart)}"${text.slice(numberStart, numberEnd)}"`;
    copied = numberEnd;
    from = numberEnd;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const MINUS = 0x2d;
const DOT = 0x2e;
const PLUS = 0x2b;

/** Where the money key that ends at `keyEnd` opens; -1 if none of them ends there. */
function keyStartBefore(text: string, keyEnd: number, quoted: readonly string[]): number {
  for (const key of quoted) {
    const start = keyEnd - key.length;
    if (start >= 0 && text.startsWith(key, start)) return start;
  }
  return -1;
}

function followsObjectStart(text: string, keyStart: number): boolean {
  let i = keyStart - 1;
  while (i >= 0 && isSpace(text.charCodeAt(i))) i--;
  const c = text.charCodeAt(i);
  return c === OPEN_BRACE || c === COMMA;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(text: string, i: number): number {
  while (isSpace(text.charCodeAt(i))) i++;
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The end of the number token `-?\d+(\.\d+)?([eE][+-]?\d+)?` at `i`, or -1 when there is none. */
function numberTokenEnd(text: string, i: number): number {
  if (text.charCodeAt(i) === MINUS) i++;
  const digits = i;
  while (isDigit(text.charCodeAt(i))) i++;
  if (i === digits) return -1;
  if (text.charCodeAt(i) === DOT && isDigit(text.charCodeAt(i + 1))) {
    i += 2;
    while (isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    let j = i + 1;
    const sign = text.charCodeAt(j);
    if (sign === PLUS || sign === MINUS) j++;
    if (isDigit(text.charCodeAt(j))) {
      while (isDigit(text.charCodeAt(j))) j++;
      i = j;
    }
  }
  return i;
}

/** Graph documents up to 1,000 rows a page; a page far above that is not Graph's. */
export const MAX_PAGE_ROWS = 5_000;
/**
 * A page nests a row's properties three or four levels deep; far deeper nesting is an attack on
 * recursive code (the content hash of a row without id stringifies it).
 */
export const MAX_PAGE_DEPTH = 64;

export interface PageLimits {
  maxRows: number;
  maxDepth: number;
}

const DEFAULT_LIMITS: PageLimits = { maxRows: MAX_PAGE_ROWS, maxDepth: MAX_PAGE_DEPTH };

export function parseCallLogPage(
  text: string,
  money: MoneyKeys = PSTN_MONEY,
  limits: PageLimits = DEFAULT_LIMITS,
): CallLogPage {
  checkShape(text, limits);
  let body: unknown;
  try {
    body = JSON.parse(quoteMoneyNumbers(text, money));
  } catch (error) {
    throw new PstnError(
      ErrorCode.GRAPH_BAD_RESPONSE,
      `Graph sent a body that is not JSON (${text.length} bytes, ends ${JSON.stringify(text.slice(-40))})`,
      { cause: error, retriable: true },
    );
  }
  if (typeof body !== "object" || body === null || !Array.isArray((body as { value?: unknown }).value)) {
    throw new PstnError(ErrorCode.GRAPH_BAD_RESPONSE, "Graph sent JSON without a 'value' array", {
      retriable: true,
    });
  }
  const record = body as Record<string, unknown>;
  const rows = record.value as Record<string, unknown>[];
  if (rows.length > limits.maxRows) throw tooManyRows(rows.length, limits.maxRows);
  return { rows, nextLink: findNextLink(record) };
}

const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * One pass over the text before it is parsed: nesting deeper than `maxDepth`, or more than
 * `maxRows` objects in an array of the top-level object (the rows of `value`), refuse the page
 * before JSON.parse builds it. Strings are skipped with indexOf, so the pass costs a fraction of
 * the parse. Malformed text is left to JSON.parse to report.
 */
function checkShape(text: string, limits: PageLimits): void {
  const { maxDepth, maxRows } = limits;
  // Whether each open container is an array; index = depth.
  const isArray = new Uint8Array(maxDepth + 2);
  let depth = 0;
  let rows = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        throw new PstnError(
          ErrorCode.GRAPH_TOO_DEEP,
          `Graph sent a page nested deeper than ${maxDepth} levels (at byte ${i} of ${n}): not a call-log page, refused unparsed`,
        );
      }
      isArray[depth] = c === OPEN_BRACKET ? 1 : 0;
      if (depth === 3 && c === OPEN_BRACE && isArray[2] === 1 && ++rows > maxRows) {
        throw tooManyRows(`more than ${maxRows}`, maxRows);
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth > 0) depth--;
    }
  }
}

/** The index of the quote closing the string opened at `open`, or -1 when it is never closed. */
function stringEnd(text: string, open: number): number {
  let at = open;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) return -1;
    // A quote after an odd run of backslashes is escaped.
    let slashes = 0;
    while (text.charCodeAt(at - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return at;
  }
}

function tooManyRows(count: number | string, maxRows: number): PstnError {
  return new PstnError(
    ErrorCode.GRAPH_TOO_MANY_ROWS,
    `Graph sent a page of ${count} rows; Graph pages hold up to 1,000 and more than ${maxRows} is refused`,
  );
}

/** Older docs spell it `@odata.NextLink`: read the key without regard to case. */
function findNextLink(body: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(body)) {
    if (key.length === 15 && key.toLowerCase() === "@odata.nextlink") {
      const value = body[key];
      return typeof value === "string" && value !== "" ? value : undefined;
    }
  }
  return undefined;
}
