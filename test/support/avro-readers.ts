/**
 * Two Avro readers of a topic that share nothing with the connector, so that the tests check what
 * it wrote with clients other than the one that wrote it: Python's confluent-kafka (librdkafka and
 * its schema registry AvroDeserializer over fastavro, through the registry's Confluent-compatible
 * API), and Kafka's own Java consumer with Apicurio Registry's Avro deserializer (through the
 * registry's native API). Both read read_committed and decode by the schema id in each value's
 * Confluent framing; both print the same normalised JSON, so their answers compare equal.
 *
 * Their runtimes live in the stack cache, never in the repository: a virtualenv with pinned
 * packages from PyPI, and a classpath resolved from Maven Central.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCachedClasspath } from "../../tools/stack/artifacts.js";
import { stackCacheDir } from "../../tools/stack/paths.js";
import { requireJava, requireMaven, runCommand } from "../../tools/stack/tools.js";
import { KAFKA_VERSION } from "../../tools/stack/versions.js";

export interface AvroRecord {
  partition: number;
  offset: number;
  /** The key as UTF-8 text. */
  key: string | null;
  /** The id in the value's wire header (magic byte 0, 4-byte big-endian id); null without a value. */
  schemaId: number | null;
  /** Header name → value as UTF-8 text; a repeated name keeps its last value. */
  headers: Record<string, string | null>;
  /**
   * The decoded record, field names as in the schema: decimals as plain text at the schema's
   * scale, timestamp-micros as integer microseconds since the epoch, other bytes as base64.
   */
  value: Record<string, unknown> | null;
}

export interface AvroReadOptions {
  /** How many records to wait for before the settle period starts. */
  expected: number;
  timeoutMs?: number;
  /** After `expected` arrived, keep reading this long so that extra records are seen too. */
  settleMs?: number;
}

export interface AvroReadResult {
  records: AvroRecord[];
  /** The expected count was not reached within the timeout. */
  timedOut: boolean;
}

export const PYTHON_READER_SOURCE = fileURLToPath(new URL("./python/read_avro_topic.py", import.meta.url));
export const JAVA_READER_SOURCE = fileURLToPath(new URL("./java/AvroTopicReader.java", import.meta.url));

const CONFLUENT_KAFKA_VERSION = "2.16.1";
const FASTAVRO_VERSION = "1.13.1";
/**
 * Every package of the virtualenv, pinned: confluent-kafka asks for ranges (httpx2>=2.0,
 * authlib>=1.8.0, …), and a new release of any of them would change the reader under the tests.
 * confluent_kafka.schema_registry.avro needs fastavro and the `schemaregistry` extra's packages
 * (attrs, cachetools, certifi, httpx2, authlib on Python 3.10+); the rest are theirs.
 */
const PYTHON_PACKAGES = [
  `confluent-kafka==${CONFLUENT_KAFKA_VERSION}`,
  `fastavro==${FASTAVRO_VERSION}`,
  "attrs==26.1.0",
  "cachetools==8.0.2",
  "certifi==2026.10.19.post1",
  "httpx2==2.16.2",
  "authlib==1.9.10",
  "anyio==4.16.0",
  "h11==0.16.0",
  "httpcore2==2.16.2",
  "idna==3.20",
  "truststore==0.10.5",
  "typing-extensions==4.16.0",
  "joserfc==1.8.0",
  "cryptography==50.0.2",
  "cffi==2.1.1",
  "pycparser==3.12",
];
/** confluent-kafka's schema registry client takes httpx2 from Python 3.10 on, httpx before. */
const PYTHON_MIN: [number, number] = [3, 10];

/**
 * Apicurio's Kafka Avro serde. Not the registry's own 3.3.3: 3.1.7 is the newest release that
 * Maven Central serves to this project's machines (3.2.1, 3.3.2 and 3.3.3 are refused). It talks to
 * the registry through the v3 REST API, which the 3.3 registry serves unchanged.
 */
const APICURIO_SERDE_VERSION = "3.1.7";
/** The slf4j 1.x that kafka-clients 4.1 logs through; its simple binding logs to stderr. */
const SLF4J_VERSION = "1.7.36";
/** The serde's classes are built for Java 17 (class file version 61). */
const SERDE_MIN_JAVA = 17;

/** Marks a finished virtualenv; written last, before the folder gets its final name. */
const READY = "pstn-reader-ready";

let pythonRuntime: Promise<string> | undefined;
let javaRuntime: Promise<{ java: string; classpath: string }> | undefined;

/** The virtualenv's interpreter, built on first use (once per cache), resolved once per process. */
export function pythonAvroRuntime(): Promise<string> {
  pythonRuntime ??= buildPythonRuntime();
  return pythonRuntime;
}

/** The Java executable and the consumer + deserializer classpath, resolved once per process. */
export function javaAvroRuntime(): Promise<{ java: string; classpath: string }> {
  javaRuntime ??= (async () => {
    const [java, classpath] = await Promise.all([
      requireJava(SERDE_MIN_JAVA, "the Java Avro reader"),
      resolveSerdeClasspath(),
    ]);
    return { java: java.executable, classpath };
  })();
  return javaRuntime;
}

export async function readAvroWithPython(
  brokers: readonly string[],
  registryUrl: string,
  topic: string,
  options: AvroReadOptions,
): Promise<AvroReadResult> {
  const python = await pythonAvroRuntime();
  const args = [PYTHON_READER_SOURCE, brokers.join(","), registryUrl, topic, ...readArgs(options)];
  return parseOutput("the Python Avro reader", topic, await runCommand(python, args));
}

/** `registryUrl` is the Confluent-compatible one; Apicurio's deserializer gets the native API beside it. */
export async function readAvroWithJava(
  brokers: readonly string[],
  registryUrl: string,
  topic: string,
  options: AvroReadOptions,
): Promise<AvroReadResult> {
  const { java, classpath } = await javaAvroRuntime();
  const args = [
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
    "-cp",
    classpath,
    JAVA_READER_SOURCE,
    brokers.join(","),
    apicurioNativeUrl(registryUrl),
    topic,
    ...readArgs(options),
  ];
  return parseOutput("the Java Avro reader", topic, await runCommand(java, args));
}

/** Apicurio's v3 API beside its Confluent-compatible one (…/apis/ccompat/v7 → …/apis/registry/v3). */
export function apicurioNativeUrl(ccompatUrl: string): string {
  const url = new URL(ccompatUrl);
  const match = /^(.*)\/apis\/ccompat\/v\d+\/?$/.exec(url.pathname);
  if (!match) {
    throw new Error(
      `${ccompatUrl} is not an Apicurio Confluent-compatible URL (…/apis/ccompat/v7): the Java Avro reader needs the registry's native API beside it`,
    );
  }
  url.pathname = `${match[1]}/apis/registry/v3`;
  return url.toString();
}

function readArgs(options: AvroReadOptions): string[] {
  return [String(options.expected), String(options.timeoutMs ?? 30_000), String(options.settleMs ?? 1000)];
}

function parseOutput(
  reader: string,
  topic: string,
  { code, stdout, stderr }: { code: number | null; stdout: string; stderr: string },
): AvroReadResult {
  const lines = stdout.split("\n").filter((line) => line.trim() !== "");
  const summary = parseSummary(lines.at(-1));
  if (code !== 0 || !summary?.done) {
    throw new Error(`${reader} failed (exit ${code}) on ${topic}: ${tail(stderr)}`);
  }
  const records = lines.slice(0, -1).map((line) => JSON.parse(line) as AvroRecord);
  return { records, timedOut: summary.timedOut === true };
}

/** The reader's last line, `{"done":true,...}`; undefined when it died before writing it. */
function parseSummary(line: string | undefined): { done?: boolean; timedOut?: boolean } | undefined {
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as { done?: boolean; timedOut?: boolean };
  } catch {
    return undefined;
  }
}

function tail(text: string): string {
  return text.trim().slice(-2000);
}

async function buildPythonRuntime(): Promise<string> {
  const probe = await runCommand("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
  if (probe.code === null) {
    throw new Error(
      `python3 not found on PATH: the Python Avro reader needs Python ${PYTHON_MIN.join(".")}+ with venv (apt-get install python3 python3-venv)`,
    );
  }
  const version = probe.stdout.trim();
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (probe.code !== 0 || major < PYTHON_MIN[0] || (major === PYTHON_MIN[0] && minor < PYTHON_MIN[1])) {
    throw new Error(
      `the Python Avro reader needs Python ${PYTHON_MIN.join(".")}+, python3 is ${version || "unusable"}: ${tail(probe.stderr)}`,
    );
  }
  // The folder is named by everything the virtualenv holds: a change of pin or Python gets a new one.
  const pins = createHash("sha256").update(PYTHON_PACKAGES.join("\n")).digest("hex").slice(0, 8);
  const cache = stackCacheDir();
  const dir = join(
    cache,
    `python-readers-py${version}-confluent-kafka-${CONFLUENT_KAFKA_VERSION}-fastavro-${FASTAVRO_VERSION}-${pins}`,
  );
  const python = join(dir, "bin", "python");
  if (await isReady(dir)) return python;

  // Built under a name of its own and renamed when complete: two test processes building at once
  // never see each other's half-made virtualenv, and the first rename wins. A virtualenv survives
  // the move because its interpreter finds its packages relative to itself; only pip's launcher
  // scripts would keep the old path, and pip runs as `python -m pip`.
  await mkdir(cache, { recursive: true });
  const staging = `${dir}.partial-${process.pid}-${randomUUID().slice(0, 8)}`;
  const log = `${dir}-pip.log`;
  try {
    const venv = await runCommand("python3", ["-m", "venv", staging]);
    if (venv.code !== 0) {
      throw new Error(
        `python3 -m venv failed (on Debian the venv module is the python3-venv package): ${tail(venv.stderr + venv.stdout)}`,
      );
    }
    const pip = await runCommand(join(staging, "bin", "python"), [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--no-input",
      // Wheels only: a source build of confluent-kafka would need librdkafka's headers and a compiler.
      "--only-binary=:all:",
      ...PYTHON_PACKAGES,
    ]);
    await writeFile(log, pip.stdout + pip.stderr);
    if (pip.code !== 0) {
      throw new Error(
        `pip could not install the Python Avro reader's packages (read ${log}): ${tail(pip.stderr)}`,
      );
    }
    await writeFile(join(staging, READY), `${PYTHON_PACKAGES.join("\n")}\n`);
    try {
      await rename(staging, dir);
    } catch (error) {
      if (!["ENOTEMPTY", "EEXIST"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
      // Another process finished first; a leftover that is not a finished virtualenv is replaced.
      if (!(await isReady(dir))) {
        await rm(dir, { recursive: true, force: true });
        await rename(staging, dir);
      }
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return python;
}

/** A finished virtualenv whose interpreter is still there (a removed base Python leaves it dangling). */
async function isReady(dir: string): Promise<boolean> {
  const marker = join(dir, READY);
  if (!existsSync(marker) || !existsSync(join(dir, "bin", "python"))) return false;
  return (await readFile(marker, "utf8")) === `${PYTHON_PACKAGES.join("\n")}\n`;
}

/**
 * Resolves Kafka's clients and Apicurio's Avro serde through Maven (jars land in the local Maven
 * repository) and remembers the classpath in the cache; later calls never start Maven.
 */
async function resolveSerdeClasspath(): Promise<string> {
  const dir = join(
    stackCacheDir(),
    `avro-reader-apicurio-serde-${APICURIO_SERDE_VERSION}-kafka-${KAFKA_VERSION}`,
  );
  const classpathFile = join(dir, "classpath.txt");
  const cached = await readCachedClasspath(classpathFile);
  if (cached) return cached;

  const mvn = await requireMaven(process.env);
  await mkdir(dir, { recursive: true });
  // Per-process file names, renamed into place: two test processes resolving at once never read
  // each other's half-written files.
  const unique = `${process.pid}-${randomUUID().slice(0, 8)}`;
  await writeFile(join(dir, `pom.xml.${unique}`), serdePom());
  await rename(join(dir, `pom.xml.${unique}`), join(dir, "pom.xml"));
  const log = join(dir, "maven.log");
  const result = await runCommand(
    mvn,
    [
      "-B",
      "dependency:build-classpath",
      "-Dmdep.includeScope=runtime",
      `-Dmdep.outputFile=${classpathFile}.${unique}`,
    ],
    { cwd: dir },
  );
  await writeFile(`${log}.${unique}`, result.stdout + result.stderr);
  await rename(`${log}.${unique}`, log);
  if (result.code !== 0) {
    await rm(`${classpathFile}.${unique}`, { force: true });
    throw new Error(
      `Maven could not resolve io.apicurio:apicurio-registry-avro-serde-kafka:${APICURIO_SERDE_VERSION}; read ${log}`,
    );
  }
  await rename(`${classpathFile}.${unique}`, classpathFile);
  const classpath = await readCachedClasspath(classpathFile);
  if (!classpath) throw new Error(`Maven wrote an unusable classpath; read ${log}`);
  return classpath;
}

function serdePom(): string {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.pstn-connector</groupId>
  <artifactId>avro-reader-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.apicurio</groupId>
      <artifactId>apicurio-registry-avro-serde-kafka</artifactId>
      <version>${APICURIO_SERDE_VERSION}</version>
    </dependency>
    <!-- The serde leaves kafka-clients to the application: the stack's Kafka version. -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-clients</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}
