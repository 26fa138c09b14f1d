import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode, isPstnError } from "../../../src/errors.js";
import { LinkPolicy, MAX_LINK_LENGTH, showLink, WindowLinks } from "../../../src/graph/links.js";

const ENDPOINT = "https://graph.microsoft.com";
const PREFIX = `${ENDPOINT}/v1.0/communications/callRecords/`;
const FIRST = `${PREFIX}getPstnCalls(fromDateTime=2024-01-01T00:00:00.000Z,toDateTime=2024-01-02T00:00:00.000Z)`;
const NEXT = `${PREFIX}getPstnCalls(from=2024-01-01T00:00:00.000Z,to=2024-01-02T00:00:00.000Z)?$skip=1000`;

function refusedWith(code: ErrorCode, words?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isPstnError(error, code), `expected ${code}, got ${String(error)}`);
    assert.equal(error.retriable, false, "final");
    if (words) assert.match(error.message, words);
    return true;
  };
}

describe("LinkPolicy", () => {
  const policy = new LinkPolicy(ENDPOINT, "v1.0");

  test("a link on the endpoint under /<version>/communications/callRecords/ is followed as given", () => {
    assert.equal(policy.resolve(NEXT), NEXT);
    assert.equal(policy.scope, PREFIX);
    // Graph's paths are case-insensitive; the default port is the same origin.
    assert.equal(
      policy.resolve("https://GRAPH.microsoft.com:443/V1.0/Communications/CallRecords/getPstnCalls?$skip=1"),
      "https://graph.microsoft.com/V1.0/Communications/CallRecords/getPstnCalls?$skip=1",
    );
  });

  test("relative links resolve against the endpoint; a fragment is dropped", () => {
    assert.equal(
      policy.resolve("/v1.0/communications/callRecords/getPstnCalls?$skip=2"),
      `${PREFIX}getPstnCalls?$skip=2`,
    );
    assert.equal(policy.resolve("getPstnCalls?$skip=3"), `${PREFIX}getPstnCalls?$skip=3`);
    assert.equal(policy.resolve(`${NEXT}#frag`), NEXT);
  });

  test("an endpoint with a path of its own keeps it in the prefix", () => {
    const proxied = new LinkPolicy("https://proxy.example.com:8443/graph/", "beta");
    assert.equal(proxied.scope, "https://proxy.example.com:8443/graph/beta/communications/callRecords/");
    assert.equal(
      proxied.resolve("/graph/beta/communications/callRecords/getPstnCalls?$skip=1"),
      "https://proxy.example.com:8443/graph/beta/communications/callRecords/getPstnCalls?$skip=1",
    );
    assert.throws(
      () => proxied.resolve("https://proxy.example.com:8443/beta/communications/callRecords/x"),
      refusedWith(ErrorCode.GRAPH_LINK_REFUSED, /leaves \/graph\/beta\/communications\/callRecords\//),
    );
  });

  const REFUSED: ReadonlyArray<[string, string, RegExp]> = [
    ["http downgrade", NEXT.replace("https:", "http:"), /uses http: instead of https:/],
    [
      "another host",
      NEXT.replace("graph.microsoft.com", "graph.microsoft.com.evil.example"),
      /points at graph\.microsoft\.com\.evil\.example/,
    ],
    [
      "another port",
      NEXT.replace("graph.microsoft.com", "graph.microsoft.com:8443"),
      /points at graph\.microsoft\.com:8443/,
    ],
    [
      "a protocol-relative link to another host",
      "//evil.example/v1.0/communications/callRecords/x",
      /points at evil\.example/,
    ],
    ["ftp", "ftp://graph.microsoft.com/v1.0/communications/callRecords/x", /uses ftp: instead of https:/],
    ["javascript", "javascript:alert(1)", /uses javascript: instead of https:/],
    ["data", "data:text/plain,hello", /uses data:/],
    [
      "another version",
      `${ENDPOINT}/beta/communications/callRecords/getPstnCalls`,
      /leaves \/v1\.0\/communications\/callRecords\//,
    ],
    ["another API on the same host", `${ENDPOINT}/v1.0/users`, /leaves/],
    ["a path that climbs out", `${PREFIX}../../users`, /leaves/],
    ["a path that climbs out, percent-encoded", `${PREFIX}%2e%2e/%2E%2E/users`, /leaves/],
    ["the prefix without its slash", `${ENDPOINT}/v1.0/communications/callRecordsX/y`, /leaves/],
    ["user info", NEXT.replace("https://", "https://user:pa55@"), /carries a user name or password/],
    ["a user name only", NEXT.replace("https://", "https://someone@"), /carries a user name or password/],
    ["unparseable", "https://[not-a-host/x", /is not a URL/],
    ["too long", `${NEXT}&pad=${"x".repeat(MAX_LINK_LENGTH)}`, /longer than 16384 characters/],
  ];
  for (const [name, link, words] of REFUSED) {
    test(`refused: ${name}`, () => {
      assert.throws(() => policy.resolve(link), refusedWith(ErrorCode.GRAPH_LINK_REFUSED, words));
    });
  }

  test("the message names the allowed scope and shows the link shortened, without its user info", () => {
    const link = `https://user:hunter2@evil.example/${"a".repeat(500)}`;
    let message = "";
    try {
      policy.resolve(link);
    } catch (error) {
      message = (error as Error).message;
    }
    assert.ok(!message.includes("hunter2"), message);
    assert.match(message, /\[user info hidden\]@evil\.example/);
    assert.match(
      message,
      /only links under https:\/\/graph\.microsoft\.com\/v1\.0\/communications\/callRecords\//,
    );
    assert.ok(message.length < 500, `message of ${message.length} characters`);
    assert.equal(showLink("x".repeat(300)).length, 200 + 3);
  });

  test("an http endpoint (a local stand-in) pins http", () => {
    const local = new LinkPolicy("http://127.0.0.1:8080", "v1.0");
    assert.equal(
      local.resolve("/v1.0/communications/callRecords/a"),
      "http://127.0.0.1:8080/v1.0/communications/callRecords/a",
    );
    assert.throws(
      () => local.resolve("http://127.0.0.1:8081/v1.0/communications/callRecords/a"),
      refusedWith(ErrorCode.GRAPH_LINK_REFUSED),
    );
    assert.throws(
      () => local.resolve("https://127.0.0.1:8080/v1.0/communications/callRecords/a"),
      refusedWith(ErrorCode.GRAPH_LINK_REFUSED),
    );
  });
});

describe("WindowLinks", () => {
  const policy = new LinkPolicy(ENDPOINT, "v1.0");

  test("distinct links are followed, up to the page cap", () => {
    const links = new WindowLinks(policy, 3);
    links.first(FIRST);
    assert.equal(links.follow(`${NEXT}`), NEXT);
    assert.equal(links.follow(`${PREFIX}getPstnCalls?$skip=2000`), `${PREFIX}getPstnCalls?$skip=2000`);
    assert.throws(
      () => links.follow(`${PREFIX}getPstnCalls?$skip=3000`),
      refusedWith(ErrorCode.GRAPH_TOO_MANY_PAGES, /3 pages for one window.*GRAPH_MAX_PAGES_PER_WINDOW is 3/),
    );
  });

  test("a link followed before in the window is a loop, however it is spelled", () => {
    const links = new WindowLinks(policy, 100);
    links.first(FIRST);
    links.follow(NEXT);
    assert.throws(() => links.follow(NEXT), refusedWith(ErrorCode.GRAPH_LINK_LOOP, /already followed/));
    // Relative, with a fragment, with the default port: the same URL.
    assert.throws(
      () =>
        links.follow(
          "/v1.0/communications/callRecords/getPstnCalls(from=2024-01-01T00:00:00.000Z,to=2024-01-02T00:00:00.000Z)?$skip=1000#x",
        ),
      refusedWith(ErrorCode.GRAPH_LINK_LOOP),
    );
    assert.throws(
      () => links.follow(NEXT.replace(".com/", ".com:443/")),
      refusedWith(ErrorCode.GRAPH_LINK_LOOP),
    );
  });

  test("a link back to the window's first URL is a loop", () => {
    const links = new WindowLinks(policy, 100);
    links.first(FIRST);
    assert.throws(() => links.follow(FIRST), refusedWith(ErrorCode.GRAPH_LINK_LOOP));
  });

  test("each window starts afresh", () => {
    const a = new WindowLinks(policy, 100);
    a.first(FIRST);
    a.follow(NEXT);
    const b = new WindowLinks(policy, 100);
    b.first(FIRST);
    assert.equal(b.follow(NEXT), NEXT);
  });

  test("a refused link is refused before it counts as seen or as a page", () => {
    const links = new WindowLinks(policy, 2);
    links.first(FIRST);
    assert.throws(() => links.follow("ftp://x/y"), refusedWith(ErrorCode.GRAPH_LINK_REFUSED));
    assert.equal(links.follow(NEXT), NEXT);
  });
});
