/**
 * The privacy policy file: outputs per stream, actions per field checked against the stream's
 * schema, keys only by reference and long enough, one line per problem, and no key in any line.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadPrivacyPolicy } from "../../../src/config/privacy.js";
import type { StreamTopics } from "../../../src/config/types.js";
import type { StreamName } from "../../../src/streams/index.js";

const dir = mkdtempSync(join(tmpdir(), "pstn-privacy-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const KEY = Buffer.alloc(32, 1).toString("base64");
const TOPICS: Record<StreamName, StreamTopics> = {
  pstn: { data: "teams.pstn-calls", dlq: "teams.pstn-calls.dlq", state: "teams.pstn-calls.state" },
  directRouting: { data: "teams.dr", dlq: "teams.dr.dlq", state: "teams.dr.state" },
  sms: { data: "teams.sms", dlq: "teams.sms.dlq", state: "teams.sms.state" },
};

function load(
  text: string,
  env: Record<string, string> = { SIEM_KEY: KEY },
  streams: StreamName[] = ["pstn"],
) {
  const path = join(dir, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  const result = loadPrivacyPolicy(path, streams, TOPICS, env);
  return { ...result, where: `PRIVACY_POLICY_FILE (${path})` };
}

const SIEM = `
version: "2026-12-03"
keys:
  siem-1: { env: SIEM_KEY }
streams:
  pstn:
    outputs:
      - topic: teams.pstn-calls
      - topic: teams.pstn-calls.siem
        hashKey: siem-1
        fields:
          callerNumber: { action: hash, keepCountryCode: true }
          userPrincipalName: hash
          calleeNumber: { action: mask, keep: 2 }
          clientPublicIpV6Address: { action: truncate-ip, ipv6Prefix: 56 }
          userDisplayName: drop
`;

describe("the privacy policy file", () => {
  test("outputs with their rules, in schema order, the key as bytes, raw where nothing changes", () => {
    const { privacy, problems } = load(SIEM);
    assert.equal(problems, undefined);
    assert.ok(privacy);
    assert.equal(privacy.version, "2026-12-03");
    const [raw, siem] = privacy.outputs.pstn ?? [];
    assert.deepEqual(raw, { topic: "teams.pstn-calls", policy: { changes: [] } });
    assert.equal(siem?.topic, "teams.pstn-calls.siem");
    assert.equal(siem?.keyId, "siem-1");
    assert.deepEqual(Buffer.from(siem?.policy.hashKey?.secret ?? []), Buffer.alloc(32, 1));
    assert.deepEqual(siem?.policy.changes, [
      ["userPrincipalName", { action: "hash", keepCountryCode: false }],
      ["userDisplayName", { action: "drop" }],
      ["calleeNumber", { action: "mask", keep: 2 }],
      ["callerNumber", { action: "hash", keepCountryCode: true }],
      ["clientPublicIpV6Address", { action: "truncate-ip", ipv4Prefix: 24, ipv6Prefix: 56 }],
    ]);
  });

  test("default drop nulls every nullable field left out, never the key or the start", () => {
    const { privacy } = load(
      `
version: v1
streams:
  sms:
    outputs:
      - default: drop
        fields: { smsType: keep, callCharge: keep, currency: keep }
`,
      {},
      ["sms"],
    );
    const output = privacy?.outputs.sms?.[0];
    assert.equal(output?.topic, "teams.sms");
    const dropped = output?.policy.changes.map(([field]) => field) ?? [];
    assert.ok(!dropped.includes("id") && !dropped.includes("sentDateTime"));
    assert.ok(!dropped.includes("smsType") && !dropped.includes("callCharge"));
    assert.ok(dropped.includes("sourceNumber") && dropped.includes("administrativeUnitInfos"));
  });

  test("a key from a mounted file", () => {
    writeFileSync(join(dir, "siem.key"), `${KEY}\n`);
    const { privacy, problems } = load(SIEM.replace("{ env: SIEM_KEY }", "{ file: siem.key }"), {});
    assert.equal(problems, undefined);
    assert.ok(privacy?.outputs.pstn?.[1]?.policy.hashKey);
  });

  test("each bad policy gives one clear line, and no line shows a key", () => {
    const short = Buffer.alloc(16, 2).toString("base64");
    const cases: [string, string, Record<string, string>?][] = [
      [
        SIEM.replace("userPrincipalName: hash", "userPrincipleName: hash"),
        "streams.pstn.outputs[1].fields.userPrincipleName: is not a field of pstn rows; did you mean userPrincipalName?",
      ],
      [
        SIEM.replace("userDisplayName: drop", "userDisplayName: encrypt"),
        'streams.pstn.outputs[1].fields.userDisplayName: "encrypt" is not an action; use keep, hash, mask, truncate-ip or drop',
      ],
      [SIEM, "keys.siem-1: env: SIEM_KEY is not set", {}],
      [
        SIEM,
        "keys.siem-1: is 16 bytes; a hashing key needs at least 32 (make one with: openssl rand -base64 32)",
        { SIEM_KEY: short },
      ],
      [
        SIEM.replace("hashKey: siem-1", "hashKey: siem-2"),
        'streams.pstn.outputs[1].hashKey: "siem-2" is not one of keys: (siem-1)',
      ],
      [
        SIEM.replace("        hashKey: siem-1\n", ""),
        "streams.pstn.outputs[1].hashKey: required: the output hashes fields; name the key (an id under keys:)",
      ],
      [
        SIEM.replace("siem-1: { env: SIEM_KEY }", `siem-1: "${KEY}"`),
        "keys.siem-1: is written in the file; name it by reference instead: { env: NAME } or { file: PATH }",
      ],
      [
        SIEM.replace("userDisplayName: drop", "charge: hash"),
        "streams.pstn.outputs[1].fields.charge: hash: applies to text, and charge is decimal; use keep or drop",
      ],
      [
        SIEM.replace("userDisplayName: drop", "id: hash"),
        "streams.pstn.outputs[1].fields.id: hash: id is the row's key (the Kafka key and the dedupe id); it is written as Graph sent it",
      ],
      [
        SIEM.replace("userDisplayName: drop", "startDateTime: drop"),
        "streams.pstn.outputs[1].fields.startDateTime: drop: startDateTime is the row's start (the window and dedupe hour); it is written as Graph sent it",
      ],
      [
        SIEM.replace("keep: 2", "keep: -1"),
        "streams.pstn.outputs[1].fields.calleeNumber.keep: is not a whole number from 0 to 64",
      ],
      [
        SIEM.replace("topic: teams.pstn-calls.siem", "topic: teams.pstn-calls.dlq"),
        `streams.pstn.outputs[1].topic: "teams.pstn-calls.dlq" is already the pstn stream's dead-letter topic; each output needs a topic of its own`,
      ],
      [
        SIEM.replace("topic: teams.pstn-calls.siem", "topic: teams.pstn-calls"),
        `streams.pstn.outputs[1].topic: "teams.pstn-calls" is already streams.pstn.outputs[0]'s topic; each output needs a topic of its own`,
      ],
      [
        SIEM.replace('version: "2026-12-03"\n', ""),
        "version: required: names the policy in every record's headers",
      ],
    ];
    for (const [text, line, env] of cases) {
      const result = load(text, env);
      assert.deepEqual(result.problems, [`${result.where} ${line}`]);
    }
    for (const [text, , env] of cases)
      for (const problem of load(text, env).problems ?? []) {
        assert.ok(!problem.includes(KEY) && !problem.includes(short), problem);
      }
  });

  test("a stream read without an entry is an error: the policy covers every stream written", () => {
    const { problems, where } = load(SIEM, { SIEM_KEY: KEY }, ["pstn", "sms"]);
    assert.deepEqual(problems, [
      `${where} streams.sms: missing: the stream is read, and the policy says what each stream's outputs carry (for rows as Graph sends them, an output with default: keep)`,
    ]);
  });
});
