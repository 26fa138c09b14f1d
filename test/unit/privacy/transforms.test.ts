import assert from "node:assert/strict";
import { createHmac, createSecretKey } from "node:crypto";
import { test } from "node:test";
import { rowTransform } from "../../../src/privacy/policy.js";
import {
  countryCallingCode,
  hashPhoneToken,
  hashToken,
  maskValue,
  truncateIp,
} from "../../../src/privacy/transforms.js";

const SECRET = Buffer.alloc(32, 7);
const KEY = { id: "k1", key: createSecretKey(SECRET) };
const hmac = (value: string) => createHmac("sha256", SECRET).update(value).digest("hex");

test("a token is the key id and the value's HMAC-SHA256, the same for the same value", () => {
  assert.equal(hashToken("alice@contoso.com", KEY), `k1:${hmac("alice@contoso.com")}`);
  assert.equal(hashToken("x", KEY), hashToken("x", KEY));
  assert.notEqual(hashToken("x", KEY), hashToken("y", KEY));
  const other = { id: "k2", key: createSecretKey(Buffer.alloc(32, 8)) };
  assert.notEqual(hashToken("x", other).slice(3), hashToken("x", KEY).slice(3));
});

test("a phone token keeps the country calling code readable and joins with the plain token", () => {
  assert.equal(hashPhoneToken("+442071234567", KEY), `+44~k1:${hmac("+442071234567")}`);
  assert.equal(hashPhoneToken("+14255550123", KEY), `+1~k1:${hmac("+14255550123")}`);
  assert.equal(hashPhoneToken("+3531234567", KEY), `+353~k1:${hmac("+3531234567")}`);
  // Not E.164: no code to keep, only the token.
  assert.equal(hashPhoneToken("4255550123", KEY), `k1:${hmac("4255550123")}`);
  assert.equal(hashPhoneToken("+44 20 7123", KEY), `k1:${hmac("+44 20 7123")}`);
});

test("country calling codes follow E.164's assignments", () => {
  const cases: [string, string | undefined][] = [
    ["+12065550100", "+1"],
    ["+74951234567", "+7"],
    ["+4930123456", "+49"],
    ["+861012345678", "+86"],
    ["+971501234567", "+971"],
    ["+35212345678", "+352"],
    ["+2348012345678", "+234"],
    ["+27211234567", "+27"],
    ["+1", undefined],
    ["+0123456789", undefined],
    ["", undefined],
  ];
  for (const [number, code] of cases) assert.equal(countryCallingCode(number), code, number);
});

test("a mask keeps the last n letters or digits and the shape", () => {
  assert.equal(maskValue("+14255550123", 4), "+*******0123");
  assert.equal(maskValue("alice@contoso.com", 3), "*****@*******.com");
  assert.equal(maskValue("abc", 4), "abc");
  assert.equal(maskValue("abc", 0), "***");
  assert.equal(maskValue("Zoë Ødegård", 2), "*** *****rd");
});

test("truncate-ip keeps the network: /24 of IPv4, /48 of IPv6, canonical; anything else is null", () => {
  assert.equal(truncateIp("203.0.113.57", 24, 48), "203.0.113.0");
  assert.equal(truncateIp("203.0.113.57", 16, 48), "203.0.0.0");
  assert.equal(truncateIp("2001:0db8:85a3:0000:0000:8a2e:0370:7334", 24, 48), "2001:db8:85a3::");
  assert.equal(truncateIp("2001:db8:85a3:1234::1", 24, 56), "2001:db8:85a3:1200::");
  assert.equal(truncateIp("::ffff:192.0.2.1", 24, 48), "::");
  assert.equal(truncateIp("fe80::1%eth0", 24, 48), null);
  assert.equal(truncateIp("not an address", 24, 48), null);
  assert.equal(truncateIp("256.1.1.1", 24, 48), null);
});

test("a row transform changes only the fields its policy names, on a copy", () => {
  const transform = rowTransform({
    changes: [
      ["callerNumber", { action: "hash", keepCountryCode: true }],
      ["userPrincipalName", { action: "hash", keepCountryCode: false }],
      ["calleeNumber", { action: "mask", keep: 4 }],
      ["clientPublicIpV4Address", { action: "truncate-ip", ipv4Prefix: 24, ipv6Prefix: 48 }],
      ["userDisplayName", { action: "drop" }],
      ["callId", { action: "keep" }],
    ],
    hashKey: { id: "k1", secret: SECRET },
  });
  assert.ok(transform);
  const row = {
    id: "r1",
    callId: "c1",
    callerNumber: "+442071234567",
    userPrincipalName: "",
    calleeNumber: "+14255550123",
    clientPublicIpV4Address: "203.0.113.57",
    userDisplayName: "Alice",
    charge: "0.023",
  };
  const out = transform(row);
  assert.deepEqual(out, {
    id: "r1",
    callId: "c1",
    callerNumber: `+44~k1:${hmac("+442071234567")}`,
    userPrincipalName: "",
    calleeNumber: "+*******0123",
    clientPublicIpV4Address: "203.0.113.0",
    userDisplayName: null,
    charge: "0.023",
  });
  assert.equal(row.userDisplayName, "Alice");
  // A value that is not text is left for the codec to refuse, in every output alike.
  assert.equal(transform({ callerNumber: 14255550123 }).callerNumber, 14255550123);
  assert.equal(rowTransform({ changes: [["callId", { action: "keep" }]] }), undefined);
});

test("answers stay the same past the values a transform remembers", () => {
  const transform = rowTransform({
    changes: [
      ["userPrincipalName", { action: "hash", keepCountryCode: false }],
      ["clientPublicIpV4Address", { action: "truncate-ip", ipv4Prefix: 24, ipv6Prefix: 48 }],
    ],
    hashKey: { id: "k1", secret: SECRET },
  });
  assert.ok(transform);
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < 10_000; i += 7) {
      const out: Record<string, unknown> = transform({
        userPrincipalName: `user${i}@contoso.com`,
        clientPublicIpV4Address: "not an ip",
      });
      assert.equal(out.userPrincipalName, `k1:${hmac(`user${i}@contoso.com`)}`);
      assert.equal(out.clientPublicIpV4Address, null);
    }
});
