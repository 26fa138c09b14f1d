/**
 * Where pages are parsed and rows encoded: in a worker thread (the connector's default), so that
 * the main thread keeps to Graph's and Kafka's I/O, the dedupe set and the Kafka client's own encoding, or
 * inline (one thread; tests and tools). Both keep the decoded rows until they are encoded or
 * released, so only keys and starts cross to the main thread, and only encoded values come back.
 */
import { Worker } from "node:worker_threads";
import { createRowCodec, type RowCodec, rowSchema } from "../avro/index.js";
import { ErrorCode, PstnError } from "../errors.js";
import { type OutputPolicy, rowTransform } from "../privacy/policy.js";
import { type StreamDefinition, type StreamName, streamNamed } from "../streams/index.js";
import {
  type DecodedRows,
  decodePage,
  type EncodedRows,
  encodeRows,
  type OutputEncoder,
  type PageKeys,
  type WindowBounds,
  type WindowText,
  wireHeader,
} from "./page-codec.js";

export interface DecodedPage extends PageKeys {
  /** Names the decoded rows where they are kept, until encode or release. */
  readonly handle: number;
}

/** One output a decoder encodes rows for: its schema's id, and its privacy policy when it has one. */
export interface OutputEncoding {
  schemaId: number;
  policy?: OutputPolicy;
}

export interface PageDecoder {
  /**
   * A 200 body → keys and starts. A body that is not a page: a retriable PSTN_GRAPH_BAD_RESPONSE;
   * one nested too deep, of too many rows or too heavy for the thread: a final refusal
   * (GRAPH_REFUSED_CODES). `window`: the window the page was asked for; rows starting outside it
   * are dead-lettered.
   */
  decode(body: Uint8Array, window?: WindowBounds): Promise<DecodedPage>;
  /** Encodes `rows[indexes[i]]` in that order, and forgets the page. */
  encode(page: DecodedPage, indexes: readonly number[], window: WindowText): Promise<EncodedRows>;
  /** Forgets the page without encoding any of it. */
  release(page: DecodedPage): void;
  /** Forgets every page (after a failure left some neither encoded nor released). */
  releaseAll(): void;
  close(): Promise<void>;
}

/** Keeps decoded rows by handle; the same logic runs inline and inside the worker thread. */
export class PageStore {
  private readonly pages = new Map<number, DecodedRows>();
  private readonly stream: StreamDefinition;
  private readonly codec: RowCodec;
  private readonly outputs: OutputEncoder[];
  private next = 1;

  /** Rows of `stream`, encoded with its schema for each output (registered under each as its id). */
  constructor(outputs: readonly OutputEncoding[], stream: StreamName = "pstn") {
    this.stream = streamNamed(stream);
    this.codec = createRowCodec(rowSchema(this.stream.schemaFile).schema, this.stream.keyField);
    this.outputs = outputs.map(({ schemaId, policy }) => {
      const transform = policy === undefined ? undefined : rowTransform(policy);
      return transform === undefined
        ? { header: wireHeader(schemaId) }
        : { header: wireHeader(schemaId), transform };
    });
  }

  decode(body: string | Uint8Array, window?: WindowBounds): DecodedPage {
    const decoded = decodePage(body, window, this.stream);
    const handle = this.next++;
    this.pages.set(handle, decoded);
    return { handle, nextLink: decoded.nextLink, keys: decoded.keys, starts: decoded.starts };
  }

  encode(handle: number, indexes: ArrayLike<number>, window: WindowText): EncodedRows {
    const decoded = this.pages.get(handle);
    if (decoded === undefined) {
      throw new PstnError(
        ErrorCode.DECODER_FAILED,
        `page ${handle} is not held (released, or its decoder restarted)`,
        {
          retriable: true,
        },
      );
    }
    this.pages.delete(handle);
    return encodeRows(this.codec, this.outputs, decoded.rows, indexes, window, this.stream);
  }

  release(handle: number): void {
    this.pages.delete(handle);
  }

  releaseAll(): void {
    this.pages.clear();
  }
}

export class InlinePageDecoder implements PageDecoder {
  private readonly store: PageStore;

  constructor(outputs: readonly OutputEncoding[], stream: StreamName = "pstn") {
    this.store = new PageStore(outputs, stream);
  }

  async decode(body: Uint8Array, window?: WindowBounds): Promise<DecodedPage> {
    return this.store.decode(body, window);
  }

  async encode(page: DecodedPage, indexes: readonly number[], window: WindowText): Promise<EncodedRows> {
    return this.store.encode(page.handle, indexes, window);
  }

  release(page: DecodedPage): void {
    this.store.release(page.handle);
  }

  releaseAll(): void {
    this.store.releaseAll();
  }

  async close(): Promise<void> {
    this.store.releaseAll();
  }
}

/** What a decoder thread is started with. */
export interface ThreadData {
  outputs: readonly OutputEncoding[];
  stream: StreamName;
}

/** Main → worker. */
export type DecoderRequest =
  | { op: "decode"; id: number; body: Uint8Array; window: WindowBounds | undefined }
  | { op: "encode"; id: number; handle: number; indexes: Uint32Array; window: WindowText }
  | { op: "release"; handle: number }
  | { op: "releaseAll" };

/** Worker → main: the answer to the request `id`. */
export type DecoderReply =
  | { id: number; ok: true; value: DecodedPage | EncodedRows }
  | { id: number; ok: false; error: { code: string; message: string; retriable: boolean; final: boolean } };

interface Pending {
  op: "decode" | "encode";
  resolve: (value: DecodedPage | EncodedRows) => void;
  reject: (error: Error) => void;
}

/**
 * The decoder in a worker thread. Requests are answered in order. If the thread dies, what was
 * asked of it fails with a retriable PSTN_DECODER_FAILED (the session starts over and rebuilds its
 * state from Kafka) and the next request starts a new thread.
 */
export class WorkerPageDecoder implements PageDecoder {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /**
   * `entry`: the thread's module, when not the one beside this file (tests). `heapMb`: the cap of
   * the thread's old generation, for a thread shared by several sources (DecoderThreads).
   */
  constructor(
    private readonly outputs: readonly OutputEncoding[],
    private readonly stream: StreamName = "pstn",
    private readonly entry?: URL,
    private readonly heapMb = THREAD_HEAP_LIMITS.maxOldGenerationSizeMb,
  ) {}

  decode(body: Uint8Array, window?: WindowBounds): Promise<DecodedPage> {
    // The body's bytes move to the worker instead of being copied.
    const transferable = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const owned = transferable ? body : body.slice();
    return this.request({ op: "decode", id: this.nextId++, body: owned, window }, [
      owned.buffer as ArrayBuffer,
    ]) as Promise<DecodedPage>;
  }

  encode(page: DecodedPage, indexes: readonly number[], window: WindowText): Promise<EncodedRows> {
    const ids = Uint32Array.from(indexes);
    return this.request({ op: "encode", id: this.nextId++, handle: page.handle, indexes: ids, window }, [
      ids.buffer,
    ]) as Promise<EncodedRows>;
  }

  release(page: DecodedPage): void {
    this.worker?.postMessage({ op: "release", handle: page.handle } satisfies DecoderRequest);
  }

  releaseAll(): void {
    this.worker?.postMessage({ op: "releaseAll" } satisfies DecoderRequest);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private request(message: DecoderRequest & { id: number; op: Pending["op"] }, transfer: ArrayBuffer[]) {
    const worker = this.started();
    return new Promise<DecodedPage | EncodedRows>((resolve, reject) => {
      this.pending.set(message.id, { op: message.op, resolve, reject });
      // While answers are awaited the thread keeps the process alive; idle, it does not.
      worker.ref();
      worker.postMessage(message, transfer);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = startThread({ outputs: this.outputs, stream: this.stream }, this.entry, this.heapMb);
    worker.unref();
    // A thread that dies before it said it was ready cannot run here at all (a missing file, a
    // broken install): that is not worth another Graph request, and the connector stops.
    let ready = false;
    worker.on("message", (reply: DecoderReply | "ready") => {
      if (reply === "ready") ready = true;
      else this.answer(reply);
    });
    const fail = (cause: unknown) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(cause, ready);
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the decoder thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private answer(reply: DecoderReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.ok) pending.resolve(reply.value);
    else {
      const { code, message, retriable, final } = reply.error;
      pending.reject(new PstnError(code as ErrorCode, message, { retriable, final }));
    }
  }

  private failAll(cause: unknown, started: boolean): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    const why = (cause as Error)?.message ?? String(cause);
    // Requests are answered in order: the thread was working on the first one. A page whose rows
    // outgrow the thread's heap does so again on every fetch, so that decode is refused for good.
    const first = pending[0];
    if (first?.op === "decode" && (cause as { code?: string })?.code === "ERR_WORKER_OUT_OF_MEMORY") {
      pending.shift();
      first.reject(
        new PstnError(
          ErrorCode.GRAPH_BODY_TOO_LARGE,
          `Graph sent a page whose rows outgrow the decoder thread's heap (${this.heapMb} MB): not a call-log page, refused`,
          { cause },
        ),
      );
    }
    for (const { reject } of pending) {
      reject(
        new PstnError(
          ErrorCode.DECODER_FAILED,
          started ? `the decoder thread failed: ${why}` : `the decoder thread could not start: ${why}`,
          { cause, retriable: started, final: !started },
        ),
      );
    }
  }
}

/**
 * The thread holds at most the pages read ahead (a few dozen MB of rows); without limits V8 lets
 * an isolate's heap grow far past its live set before collecting.
 */
const THREAD_HEAP_LIMITS = { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 8 };

function startThread(workerData: ThreadData, entry: URL | undefined, heapMb: number): Worker {
  const options = { workerData, resourceLimits: { ...THREAD_HEAP_LIMITS, maxOldGenerationSizeMb: heapMb } };
  if (entry) return new Worker(entry, options);
  if (!import.meta.url.endsWith(".ts")) {
    return new Worker(new URL("./page-decoder-thread.js", import.meta.url), options);
  }
  // Run from TypeScript sources (tests, tsx): the thread registers tsx's loader first.
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const thread = JSON.stringify(new URL("./page-decoder-thread.ts", import.meta.url).href);
  const bootstrap = `import(${tsx}).then((tsx) => { tsx.register(); return import(${thread}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** Each source beside the first that shares a thread adds this to its heap cap, up to the maximum. */
const SHARED_HEAP_MB_PER_SOURCE = 32;
const MAX_SHARED_HEAP_MB = 512;

/**
 * One decoder thread per stream (and schema) for the whole process, shared by every tenant's
 * source of that stream: threads follow the streams, not the tenants. Each source gets a view
 * that keeps its own pages apart, so that one source's releaseAll leaves the others' pages alone.
 */
export class DecoderThreads {
  private readonly threads = new Map<string, WorkerPageDecoder>();

  /** `sources`: how many sources of each stream will share its thread (its heap cap grows with them). */
  constructor(private readonly sources: Readonly<Partial<Record<StreamName, number>>> = {}) {}

  /** The threads it holds: one per stream and schema, whatever the number of sources. */
  get size(): number {
    return this.threads.size;
  }

  /** The thread of `stream` writing `outputs` (the same policy for every tenant: one thread). */
  decoderFor(outputs: readonly OutputEncoding[], stream: StreamName): PageDecoder {
    const key = `${stream}:${outputs.map((output) => output.schemaId).join(",")}`;
    let thread = this.threads.get(key);
    if (thread === undefined) {
      const sharing = Math.max(1, this.sources[stream] ?? 1);
      const heapMb = Math.min(
        MAX_SHARED_HEAP_MB,
        THREAD_HEAP_LIMITS.maxOldGenerationSizeMb + SHARED_HEAP_MB_PER_SOURCE * (sharing - 1),
      );
      thread = new WorkerPageDecoder(outputs, stream, undefined, heapMb);
      this.threads.set(key, thread);
    }
    return new SharedPageDecoder(thread);
  }

  async close(): Promise<void> {
    const threads = [...this.threads.values()];
    this.threads.clear();
    await Promise.all(threads.map((thread) => thread.close()));
  }
}

/** One source's view of a shared decoder thread: the pages it holds, and only those. */
class SharedPageDecoder implements PageDecoder {
  private readonly held = new Map<number, DecodedPage>();

  constructor(private readonly thread: PageDecoder) {}

  async decode(body: Uint8Array, window?: WindowBounds): Promise<DecodedPage> {
    const page = await this.thread.decode(body, window);
    this.held.set(page.handle, page);
    return page;
  }

  encode(page: DecodedPage, indexes: readonly number[], window: WindowText): Promise<EncodedRows> {
    this.held.delete(page.handle);
    return this.thread.encode(page, indexes, window);
  }

  release(page: DecodedPage): void {
    this.held.delete(page.handle);
    this.thread.release(page);
  }

  releaseAll(): void {
    for (const page of this.held.values()) this.thread.release(page);
    this.held.clear();
  }

  /** The thread is the owner's (DecoderThreads) to close; the view forgets its pages. */
  async close(): Promise<void> {
    this.releaseAll();
  }
}
