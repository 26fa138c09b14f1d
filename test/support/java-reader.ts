/**
 * Reads a topic with Kafka's own Java consumer (test/support/java/TopicReader.java, run from its
 * source on the classpath the local stack resolved through Maven): the guarantees are checked by a
 * client other than the one that wrote the records.
 */
import { fileURLToPath } from "node:url";
import { resolveKafkaClasspath } from "../../tools/stack/artifacts.js";
import { stackCacheDir } from "../../tools/stack/paths.js";
import { requireJava, runCommand } from "../../tools/stack/tools.js";
import { KAFKA_MIN_JAVA } from "../../tools/stack/versions.js";

export interface ReadRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer | null][];
}

export interface JavaReadOptions {
  /** How many records to wait for before the settle period starts. */
  expected: number;
  timeoutMs?: number;
  /** After `expected` arrived, keep reading this long so that extra records are seen too. */
  settleMs?: number;
  readUncommitted?: boolean;
  /** Further consumer properties (security.protocol, ssl.*, sasl.*). */
  properties?: Record<string, string>;
}

export interface JavaReadResult {
  records: ReadRecord[];
  /** The expected count was not reached within the timeout. */
  timedOut: boolean;
}

/** The reader's source: Java runs it as it is (single-file source launch). */
export const TOPIC_READER_SOURCE = fileURLToPath(new URL("./java/TopicReader.java", import.meta.url));

let runtime: Promise<{ java: string; classpath: string }> | undefined;

/** The Java executable and Kafka client classpath the reader runs with, resolved once per process. */
export function javaRuntime(): Promise<{ java: string; classpath: string }> {
  runtime ??= (async () => {
    const [java, classpath] = await Promise.all([
      requireJava(KAFKA_MIN_JAVA, "the Java topic reader"),
      resolveKafkaClasspath(stackCacheDir(), () => undefined),
    ]);
    return { java: java.executable, classpath };
  })();
  return runtime;
}

export async function readTopicWithJava(
  brokers: readonly string[],
  topic: string,
  options: JavaReadOptions,
): Promise<JavaReadResult> {
  const { java, classpath } = await javaRuntime();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const args = [
    "-cp",
    classpath,
    TOPIC_READER_SOURCE,
    brokers.join(","),
    topic,
    String(options.expected),
    String(timeoutMs),
    String(options.settleMs ?? 1000),
    options.readUncommitted ? "read_uncommitted" : "read_committed",
    ...Object.entries(options.properties ?? {}).map(([name, value]) => `${name}=${value}`),
  ];
  const { code, stdout, stderr } = await runCommand(java, args);
  const lines = stdout.split("\n").filter((line) => line.trim() !== "");
  const last = lines.at(-1);
  const summary = parseSummary(last);
  if (code !== 0 || !summary?.done) {
    throw new Error(`the Java topic reader failed (exit ${code}) on ${topic}: ${stderr.trim().slice(-2000)}`);
  }
  const fromBase64 = (text: string | null): Buffer | null =>
    text === null ? null : Buffer.from(text, "base64");
  const records = lines.slice(0, -1).map((line): ReadRecord => {
    const raw = JSON.parse(line) as {
      partition: number;
      offset: number;
      key: string | null;
      value: string | null;
      headers: [string, string | null][];
    };
    return {
      partition: raw.partition,
      offset: raw.offset,
      key: fromBase64(raw.key),
      value: fromBase64(raw.value),
      headers: raw.headers.map(([name, value]) => [
        Buffer.from(name, "base64").toString("utf8"),
        fromBase64(value),
      ]),
    };
  });
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
