import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import { ErrorCode, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import { type Checkpoint, decodeBarrier, decodeCheckpoint, decodeIds, parseStateKey } from "./records.js";
import { StateTracker } from "./tracker.js";

export interface RestoreOptions {
  kafka: Kafka;
  stateTopic: string;
  identity: string;
  /** The nonce of the barrier this session committed just before: reading stops there. */
  barrierNonce: string;
  lookbackMs: number;
  /** Where a first run begins; a restored checkpoint's own start wins. */
  start: Date;
  timeoutMs: number;
  logger?: Logger;
}

/**
 * Reads this connector's records from the state topic up to its own barrier (committed after the
 * producer fenced any older instance, so everything committed before is visible by then) and
 * rebuilds the tracker: the watermark, the ids inside the horizon, and tombstones for the rest.
 */
export async function restoreState(options: RestoreOptions): Promise<StateTracker> {
  const { kafka, stateTopic, identity, barrierNonce } = options;
  let checkpoint: Checkpoint | undefined;
  const idRecords = new Map<string, { bucket: number; ids: string[] }>();
  let maxSeq = -1;

  const consumer = kafka.consumer({
    groupId: `pstn-connector-restore-${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 250,
    maxBytes: 64 * 1024 * 1024,
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: stateTopic, fromBeginning: true });
    await new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new PstnError(
              ErrorCode.STATE_INVALID,
              `state topic ${stateTopic}: did not reach this session's barrier within ${options.timeoutMs} ms`,
            ),
          ),
        options.timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              const key = message.key?.toString("utf8");
              if (key === undefined) continue;
              const parsed = parseStateKey(identity, key);
              if (!parsed) continue;
              if (parsed.kind === "barrier") {
                if (message.value && decodeBarrier(message.value) === barrierNonce) {
                  clearTimeout(timer);
                  resolvePromise();
                  return;
                }
              } else if (parsed.kind === "checkpoint") {
                checkpoint = message.value ? decodeCheckpoint(message.value) : undefined;
              } else {
                maxSeq = Math.max(maxSeq, parsed.seq);
                if (message.value)
                  idRecords.set(key, { bucket: parsed.bucket, ids: decodeIds(message.value) });
                else idRecords.delete(key);
              }
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }

  // A first run fixes the start; later ones keep it whatever CONNECTOR_START now resolves to.
  const start = checkpoint?.start ?? options.start;
  const watermark = checkpoint?.watermark;
  const horizon = Math.max(
    start.getTime(),
    (watermark?.getTime() ?? Number.NEGATIVE_INFINITY) - options.lookbackMs,
  );
  const staleKeys: string[] = [];
  const live: Array<[string, { bucket: number; ids: string[] }]> = [];
  for (const entry of idRecords) {
    if (watermark && entry[1].bucket + 3_600_000 <= horizon) staleKeys.push(entry[0]);
    else live.push(entry);
  }
  const tracker = new StateTracker(identity, start, { watermark, nextSeq: maxSeq + 1, staleKeys });
  for (const [key, record] of live) tracker.restoreIds(record.bucket, key, record.ids);
  options.logger?.info(
    {
      start: start.toISOString(),
      watermark: watermark?.toISOString() ?? null,
      ids: tracker.ids.size,
      liveKeys: live.length,
      staleKeys: staleKeys.length,
    },
    "state restored",
  );
  return tracker;
}
