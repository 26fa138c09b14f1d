/** The decoder's worker thread: a PageStore answering the main thread's requests in order. */
import { parentPort, workerData } from "node:worker_threads";
import { ErrorCode, isPstnError } from "../errors.js";
import type { EncodedRows } from "./page-codec.js";
import { type DecoderReply, type DecoderRequest, PageStore, type ThreadData } from "./page-decoder.js";

const port = parentPort;
if (!port) throw new Error("page-decoder-thread runs as a worker thread");
const { outputs, stream } = workerData as ThreadData;
const store = new PageStore(outputs, stream);
port.postMessage("ready");

port.on("message", (request: DecoderRequest) => {
  if (request.op === "release") return store.release(request.handle);
  if (request.op === "releaseAll") return store.releaseAll();
  let reply: DecoderReply;
  let transfer: ArrayBuffer[] = [];
  try {
    if (request.op === "decode") {
      const page = store.decode(request.body, request.window);
      reply = { id: request.id, ok: true, value: page };
      transfer = [page.starts.buffer as ArrayBuffer];
    } else {
      const encoded: EncodedRows = store.encode(request.handle, request.indexes, request.window);
      reply = { id: request.id, ok: true, value: encoded };
      transfer = encoded.outputs.flatMap((values) => [values.buffer, values.ends.buffer as ArrayBuffer]);
    }
  } catch (error) {
    reply = {
      id: request.id,
      ok: false,
      error: isPstnError(error)
        ? { code: error.code, message: error.message, retriable: error.retriable, final: error.final }
        : {
            code: ErrorCode.DECODER_FAILED,
            message: String((error as Error)?.message ?? error),
            retriable: true,
            final: false,
          },
    };
  }
  port.postMessage(reply, transfer);
});
