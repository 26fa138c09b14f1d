/**
 * The tenants file: YAML or JSON, one line per problem naming the entry and key, credentials only
 * by reference (resolved from the environment or a file), and no secret in any problem line.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { loadTenantsFile, parseTenants, type TenantDefaults } from "../../../src/config/tenants.js";

const SHARED: TenantDefaults = {
  streams: ["pstn"],
  start: { kind: "ago", ms: 86_400_000 },
  credentials: { clientId: "11111111-2222-3333-4444-555555555555", clientSecret: "shared-secret" },
};
const WHERE = "CONNECTOR_TENANTS_FILE (tenants.yaml)";
const dir = mkdtempSync(join(tmpdir(), "pstn-tenants-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function parse(text: string, env: Record<string, string> = {}) {
  return parseTenants(text, SHARED, { env, where: WHERE, base: dir });
}

function problems(text: string, env: Record<string, string> = {}): string[] {
  const result = parse(text, env);
  assert.ok(result.problems, "expected problems");
  return result.problems;
}

describe("the tenants file", () => {
  test("YAML: defaults from the environment's settings, and each entry's own streams, start, name and app", () => {
    writeFileSync(join(dir, "fabrikam.pem"), "not read here: the auth layer reads it");
    const result = parse(
      `
tenants:
  - id: Contoso.onmicrosoft.com
  - id: 9f8e7d6c-5b4a-4321-8fed-cba987654321
    name: Fabrikam (EU)
    streams: [pstn, directRouting, sms]
    start: 2026-01-01T00:00:00Z
    credentials:
      clientId: 22222222-3333-4444-5555-666666666666
      clientCertificate: { file: fabrikam.pem }
  - id: tailspin.example.com
    streams: directRouting
    start: 30d
    credentials:
      clientId: 33333333-4444-5555-6666-777777777777
      clientSecret: { env: TAILSPIN_SECRET }
`,
      { TAILSPIN_SECRET: " tailspin-secret " },
    );
    assert.ok(result.tenants, JSON.stringify(result.problems));
    assert.deepEqual(result.tenants, [
      {
        tenantId: "contoso.onmicrosoft.com",
        name: "contoso.onmicrosoft.com",
        streams: ["pstn"],
        start: SHARED.start,
        credentials: SHARED.credentials,
      },
      {
        tenantId: "9f8e7d6c-5b4a-4321-8fed-cba987654321",
        name: "Fabrikam (EU)",
        streams: ["pstn", "directRouting", "sms"],
        start: { kind: "instant", at: new Date("2026-01-01T00:00:00Z") },
        credentials: {
          clientId: "22222222-3333-4444-5555-666666666666",
          clientCertificatePath: join(dir, "fabrikam.pem"),
        },
      },
      {
        tenantId: "tailspin.example.com",
        name: "tailspin.example.com",
        streams: ["directRouting"],
        start: { kind: "ago", ms: 30 * 86_400_000 },
        credentials: { clientId: "33333333-4444-5555-6666-777777777777", clientSecret: "tailspin-secret" },
      },
    ]);
  });

  test("JSON too, and a secret read from a mounted file", () => {
    writeFileSync(join(dir, "secret"), "from-a-secret-volume\n");
    const result = parse(
      JSON.stringify({
        tenants: [
          {
            id: "contoso.onmicrosoft.com",
            credentials: {
              clientId: "22222222-3333-4444-5555-666666666666",
              clientSecret: { file: "secret" },
            },
          },
        ],
      }),
    );
    assert.equal(result.tenants?.[0]?.credentials.clientSecret, "from-a-secret-volume");
  });

  test("a secret written in the file is refused, and never quoted", () => {
    const lines = problems(`
tenants:
  - id: contoso.onmicrosoft.com
    credentials:
      clientId: 22222222-3333-4444-5555-666666666666
      clientSecret: hunter2-inline-secret
`);
    assert.deepEqual(lines, [
      `${WHERE} tenants[0].credentials.clientSecret: is written in the file; name it by reference instead: { env: NAME } or { file: PATH }`,
    ]);
    assert.ok(!lines.join("\n").includes("hunter2"));
  });

  test("one line per problem, naming the entry and the key, with suggestions", () => {
    const lines = problems(
      `
tenants:
  - id: common
  - id: contoso.onmicrosoft.com
    streem: [pstn]
  - id: CONTOSO.onmicrosoft.com
  - name: no id
  - id: fabrikam.example.com
    streams: [pstn, smss, pstn]
    start: yesterday
    credentials:
      clientId: not-a-guid
      clientSecret: { env: MISSING_SECRET }
      password: x
  - id: tailspin.example.com
    credentials: { clientId: 22222222-3333-4444-5555-666666666666 }
  - 42
`,
      {},
    );
    assert.deepEqual(lines, [
      `${WHERE} tenants[0].id: "common" is not a single tenant; application permissions need the tenant GUID or its domain`,
      `${WHERE} tenants[1].streem: unknown key; did you mean streams?`,
      `${WHERE} tenants[2].id: "contoso.onmicrosoft.com" is also tenants[1]; list each tenant once`,
      `${WHERE} tenants[3].id: required (the tenant GUID or domain)`,
      `${WHERE} tenants[4].streams: "smss" is not a stream; use pstn, directRouting and sms; did you mean sms?`,
      `${WHERE} tenants[4].streams: names pstn twice`,
      `${WHERE} tenants[4].start: "yesterday" is neither an ISO-8601 instant (e.g. 2024-05-01T00:00:00Z) nor a duration ago (e.g. 30d or P30D)`,
      `${WHERE} tenants[4].credentials.password: unknown key; use clientId, clientSecret or clientCertificate`,
      `${WHERE} tenants[4].credentials.clientId: "not-a-guid" is not an application (client) id; expected a GUID like 00000000-0000-0000-0000-000000000000`,
      `${WHERE} tenants[4].credentials.clientSecret: env: MISSING_SECRET is not set`,
      `${WHERE} tenants[5].credentials: needs clientSecret or clientCertificate, by reference ({ env: NAME } or { file: PATH })`,
      `${WHERE} tenants[6]: is not an entry (id, name, streams, start, credentials)`,
    ]);
  });

  test("a file that is not a tenants list: one line saying what it needs", () => {
    assert.deepEqual(problems("tenants: {"), [`${WHERE}, line 1: is not YAML or JSON (BAD_INDENT)`]);
    assert.deepEqual(problems("tenants: []\ntenants: []"), [
      `${WHERE}, line 2: is not YAML or JSON (DUPLICATE_KEY)`,
    ]);
    assert.deepEqual(problems("- id: contoso.onmicrosoft.com"), [
      `${WHERE}: needs a list "tenants:" of entries, each with an id`,
    ]);
    assert.deepEqual(problems("tenants: []"), [`${WHERE}: lists no tenant`]);
    assert.deepEqual(problems("tenants: [{id: a.example.com}]\ntennants: []"), [
      `${WHERE} tennants: unknown key; did you mean tenants?`,
    ]);
  });

  test("aliases cannot blow the file up (a billion laughs)", () => {
    const laughs = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      ...Array.from({ length: 8 }, (_, i) => {
        const prev = String.fromCharCode(97 + i);
        const next = String.fromCharCode(98 + i);
        return `${next}: &${next} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`;
      }),
      "tenants: [{id: a.example.com, name: *i}]",
    ].join("\n");
    const started = performance.now();
    assert.throws(() => parse(laughs), /alias/i);
    assert.ok(performance.now() - started < 2000);
  });

  test("loadTenantsFile: a missing file is one line", () => {
    const missing = join(dir, "nowhere.yaml");
    assert.deepEqual(loadTenantsFile(missing, SHARED, {}).problems, [
      `CONNECTOR_TENANTS_FILE (${missing}): cannot be read (ENOENT)`,
    ]);
    const path = join(dir, "tenants.yaml");
    writeFileSync(path, "tenants:\n  - id: contoso.onmicrosoft.com\n");
    assert.equal(loadTenantsFile(path, SHARED, {}).tenants?.[0]?.tenantId, "contoso.onmicrosoft.com");
  });
});
