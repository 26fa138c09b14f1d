import assert from "node:assert/strict";
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generate } from "selfsigned";
import { loadClientCertificate } from "../../../src/auth/certificate.js";
import { ErrorCode, isPstnError } from "../../../src/errors.js";

let dir = "";
let app = { cert: "", private: "" };
let other = { cert: "", private: "" };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pstn-app-cert-"));
  const made = (name: string) => generate([{ name: "commonName", value: name }], { keySize: 2048 });
  [app, other] = await Promise.all([made("app"), made("other")]);
});
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

test("the app's certificate: its thumbprint and x5c, the key as PKCS#8 even when PKCS#1", async () => {
  const pkcs1 = createPrivateKey(app.private).export({ type: "pkcs1", format: "pem" }).toString();
  assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
  const loaded = loadClientCertificate(await file("app.pem", `${pkcs1}\n${app.cert}\n${other.cert}`));
  const raw = new X509Certificate(app.cert).raw;
  assert.equal(loaded.thumbprintSha256, createHash("sha256").update(raw).digest("hex"));
  assert.equal(loaded.x5c, raw.toString("base64"));
  assert.match(loaded.privateKey, /^-----BEGIN PRIVATE KEY-----/);
});

test("a file the configuration would refuse is refused with the same words, one line each", async () => {
  const cases: ReadonlyArray<[string, string]> = [
    [
      await file("wrong-order.pem", `${other.cert}\n${app.cert}\n${app.private}`),
      "does not hold the private key of its certificate (its first one)",
    ],
    [await file("no-key.pem", app.cert), "holds no PEM private key (-----BEGIN PRIVATE KEY-----)"],
  ];
  for (const [path, message] of cases) {
    assert.throws(
      () => loadClientCertificate(path),
      (error) => {
        assert.ok(isPstnError(error, ErrorCode.CONFIG_INVALID));
        assert.equal(error.message, `AZURE_CLIENT_CERTIFICATE_PATH: ${path} ${message}`);
        return true;
      },
    );
  }
});
