/**
 * A topic read as it fills, with Kafka's Java consumer (test/support/java/TopicReader.java, the
 * tests' reader: read_committed, every partition from its beginning, no group): each record is
 * timed as its line arrives, which is when a downstream consumer could have read it. Records are
 * streamed line by line (the tests' readTopicWithJava keeps the whole output, too much for a fleet).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { javaRuntime, TOPIC_READER_SOURCE } from "../../test/support/java-reader.js";
import { onCleanup, trackChild } from "./cleanup.js";

const TENANT_HEADER = "pstn.tenant";
/** The reader runs until stopped: it is told to wait for more records than a run can hold. */
const FOREVER_MS = 7 * 86_400_000;

export interface LiveRecord {
  partition: number;
  offset: number;
  /** The row id (the record key). */
  key: string;
  /** The `pstn.tenant` header. */
  tenant: string | undefined;
  /** Date.now() when the record's line arrived. */
  arrivedMs: number;
}

export class LiveTopicReader {
  count = 0;
  /** Date.now() of the last record read; 0 before the first. */
  lastArrivalMs = 0;
  private stderr = "";
  private readonly exited: Promise<void>;
  private readonly unregister: () => void;

  private constructor(
    readonly topic: string,
    private readonly child: ChildProcessWithoutNullStreams,
    onRecord: (record: LiveRecord) => void,
  ) {
    trackChild(child);
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    this.unregister = onCleanup(() => this.stop());
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const arrivedMs = Date.now();
      if (!line.startsWith('{"partition"')) return; // the summary line, at exit
      const raw = JSON.parse(line) as {
        partition: number;
        offset: number;
        key: string | null;
        headers: [string, string | null][];
      };
      const header = raw.headers.find(([name]) => Buffer.from(name, "base64").toString() === TENANT_HEADER);
      this.count++;
      this.lastArrivalMs = arrivedMs;
      onRecord({
        partition: raw.partition,
        offset: raw.offset,
        key: raw.key === null ? "" : Buffer.from(raw.key, "base64").toString(),
        tenant: header?.[1] ? Buffer.from(header[1], "base64").toString() : undefined,
        arrivedMs,
      });
    });
  }

  /** Starts reading `topic` (which must exist) from its beginning. */
  static async start(
    brokers: readonly string[],
    topic: string,
    onRecord: (record: LiveRecord) => void,
  ): Promise<LiveTopicReader> {
    const { java, classpath } = await javaRuntime();
    const child = spawn(
      java,
      [
        // A small client: the heap a consumer needs, no JIT tiers it does not.
        "-Xmx192m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-cp",
        classpath,
        TOPIC_READER_SOURCE,
        brokers.join(","),
        topic,
        String(Number.MAX_SAFE_INTEGER),
        String(FOREVER_MS),
        "0",
        "read_committed",
        "fetch.max.wait.ms=200",
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    return new LiveTopicReader(topic, child, onRecord);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The reader's last words, for an error message. */
  get lastErrors(): string {
    return this.stderr.trim();
  }

  async stop(): Promise<void> {
    this.unregister();
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}
