import assert from "node:assert/strict";
import { test } from "node:test";
import { callLogUrl } from "../../../src/graph/url.js";
import { STREAMS } from "../../../src/streams/index.js";

const from = new Date("2024-01-02T03:04:05.678Z");
const to = new Date("2024-01-03T00:00:00.000Z");

test("v1.0 getPstnCalls URL with full ISO instants and milliseconds", () => {
  assert.equal(
    callLogUrl("https://graph.microsoft.com", "v1.0", STREAMS.pstn.function, from, to),
    "https://graph.microsoft.com/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-01-02T03:04:05.678Z,toDateTime=2024-01-03T00:00:00.000Z)",
  );
});

test("beta URL, another cloud, the sibling functions", () => {
  assert.equal(
    callLogUrl("https://graph.microsoft.us", "beta", STREAMS.pstn.function, from, to),
    "https://graph.microsoft.us/beta/communications/callRecords/getPstnCalls(fromDateTime=2024-01-02T03:04:05.678Z,toDateTime=2024-01-03T00:00:00.000Z)",
  );
  assert.equal(
    callLogUrl("https://graph.microsoft.com", "beta", STREAMS.directRouting.function, from, to),
    "https://graph.microsoft.com/beta/communications/callRecords/getDirectRoutingCalls(fromDateTime=2024-01-02T03:04:05.678Z,toDateTime=2024-01-03T00:00:00.000Z)",
  );
  assert.equal(
    callLogUrl("https://graph.microsoft.com", "beta", STREAMS.sms.function, from, to),
    "https://graph.microsoft.com/beta/communications/callRecords/getSmsLog(fromDateTime=2024-01-02T03:04:05.678Z,toDateTime=2024-01-03T00:00:00.000Z)",
  );
});

test("the same instant for both bounds, and no percent-encoding of the function syntax", () => {
  const instant = new Date("1999-12-31T23:59:59.999Z");
  const url = callLogUrl("http://127.0.0.1:8080", "v1.0", STREAMS.pstn.function, instant, instant);
  assert.equal(
    url,
    "http://127.0.0.1:8080/v1.0/communications/callRecords/getPstnCalls(fromDateTime=1999-12-31T23:59:59.999Z,toDateTime=1999-12-31T23:59:59.999Z)",
  );
  assert.doesNotMatch(url, /%/);
});
