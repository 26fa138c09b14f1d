import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generate } from "selfsigned";
import { readCertificates, readKeyPair } from "../../src/pem.js";

const NAMES = { certificate: "CERT_FILE", key: "KEY_FILE", passphrase: "KEY_PASSWORD" };

let dir = "";
const pem = { ca: "", otherCa: "", leaf: "", leafKey: "" };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pstn-pem-"));
  const [ca, otherCa] = await Promise.all(
    ["ca-one", "ca-two"].map((name) =>
      generate([{ name: "commonName", value: name }], {
        keyType: "ec",
        extensions: [{ name: "basicConstraints", cA: true }],
      }),
    ),
  );
  const leaf = await generate([{ name: "commonName", value: "client" }], {
    keyType: "ec",
    ca: { key: ca!.private, cert: ca!.cert },
  });
  Object.assign(pem, { ca: ca!.cert, otherCa: otherCa!.cert, leaf: leaf.cert, leafKey: leaf.private });
});
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function encrypted(key: string, type: "pkcs8" | "sec1", passphrase: string): string {
  return createPrivateKey(key).export({ type, format: "pem", cipher: "aes-256-cbc", passphrase }).toString();
}

describe("readCertificates", () => {
  test("a CA bundle: every certificate, in order", async () => {
    const bundle = await file("bundle.pem", `${pem.ca}\n${pem.otherCa}`);
    const certificates = readCertificates(bundle);
    assert.ok(Array.isArray(certificates));
    assert.deepEqual(
      certificates.map((certificate) => certificate.subject),
      ["CN=ca-one", "CN=ca-two"],
    );
  });

  test("a bundle with one unreadable certificate names which", async () => {
    const broken = `-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    assert.equal(
      readCertificates(await file("broken-bundle.pem", `${pem.ca}\n${broken}`)),
      "holds a certificate that cannot be read (the 2nd one)",
    );
  });

  test("a file that holds no PEM, a key only, a missing file", async () => {
    assert.equal(
      readCertificates(await file("not.pem", "hello\n")),
      "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
    );
    assert.equal(
      readCertificates(await file("key.pem", pem.leafKey)),
      "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
    );
    assert.equal(readCertificates(join(dir, "missing.pem")), "does not exist");
    assert.equal(readCertificates(dir), "is a directory, not a PEM file");
  });
});

describe("readKeyPair", () => {
  const pair = (certificate: string, key: string, passphrase?: string) =>
    readKeyPair({ certificate, key, passphrase, names: NAMES });

  test("a certificate chain, leaf first, and its key: the leaf and the key", async () => {
    const chain = await file("chain.pem", `${pem.leaf}\n${pem.ca}`);
    const read = pair(chain, await file("leaf-key.pem", pem.leafKey));
    assert.ok("pair" in read, JSON.stringify(read));
    assert.equal(read.pair.certificate.subject, "CN=client");
    assert.equal(read.pair.key.asymmetricKeyType, "ec");
  });

  test("a certificate and a key that is not its own", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    assert.deepEqual(pair(await file("leaf.pem", pem.leaf), await file("other-key.pem", other)), {
      problems: { key: "does not hold the private key of CERT_FILE's certificate (its first one)" },
    });
    // The key must be the first certificate's: TLS sends that one as the client's.
    const wrongOrder = await file("wrong-order.pem", `${pem.ca}\n${pem.leaf}`);
    assert.deepEqual(pair(wrongOrder, await file("leaf-key-2.pem", pem.leafKey)), {
      problems: { key: "does not hold the private key of CERT_FILE's certificate (its first one)" },
    });
  });

  test("an encrypted key: needs its passphrase, the right one; an unencrypted one takes none", async () => {
    const leaf = await file("leaf-e.pem", pem.leaf);
    for (const type of ["pkcs8", "sec1"] as const) {
      const key = await file(`key-${type}.pem`, encrypted(pem.leafKey, type, "pass-123"));
      assert.deepEqual(pair(leaf, key), {
        problems: { key: "holds an encrypted private key; set KEY_PASSWORD to its passphrase" },
      });
      assert.deepEqual(pair(leaf, key, "wrong-456"), {
        problems: { passphrase: "does not decrypt KEY_FILE (wrong passphrase)" },
      });
      assert.ok("pair" in pair(leaf, key, "pass-123"), type);
    }
    assert.match(encrypted(pem.leafKey, "sec1", "x"), /Proc-Type: 4,ENCRYPTED/, "the traditional form");
    const plain = await file("plain-key.pem", pem.leafKey);
    assert.deepEqual(pair(leaf, plain, "pass-123"), {
      problems: { passphrase: "is set, but KEY_FILE is not encrypted; unset it" },
    });
    const noPassphrase = readKeyPair({
      certificate: leaf,
      key: await file("key-e2.pem", encrypted(pem.leafKey, "pkcs8", "p")),
      names: { certificate: "A", key: "B" },
    });
    assert.deepEqual(noPassphrase, {
      problems: { key: "holds an encrypted private key; the connector needs it unencrypted" },
    });
  });

  test("files that hold no PEM: each file's problem", async () => {
    const notPem = await file("nothing.pem", "hello\n");
    assert.deepEqual(pair(notPem, await file("nothing-2.pem", "world\n")), {
      problems: {
        certificate: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        key: "holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
      },
    });
  });

  test("one file for both: the key anywhere in it; a file that cannot be read is one problem", async () => {
    const combined = await file("combined.pem", `${pem.leafKey}\n${pem.leaf}\n${pem.ca}`);
    assert.ok("pair" in pair(combined, combined));
    const missing = join(dir, "missing.pem");
    assert.deepEqual(pair(missing, missing), { problems: { certificate: "does not exist" } });
    const twoKeys = await file("combined-two-keys.pem", `${pem.leaf}\n${pem.leafKey}\n${pem.leafKey}`);
    assert.deepEqual(pair(twoKeys, twoKeys), {
      problems: { key: "holds more than one private key; keep only the certificate's" },
    });
  });
});
