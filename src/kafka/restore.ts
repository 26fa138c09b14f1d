import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import { ErrorCode, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import { StateRestorer } from "../state/restore.js";
import type { StateTracker } from "../state/tracker.js";

export interface RestoreOptions {
  kafka: Kafka;
  stateTopic: string;
  identity: string;
  /** The nonce of the barrier this session committed just before: reading stops there. */
  barrierNonce: string;
  lookbackMs: number;
  start: Date;
  timeoutMs: number;
  logger?: Logger;
}

/**
 * Reads the state topic with read_committed from its beginning up to this session's barrier, and
 * rebuilds the source's state from it (StateRestorer). A consumer of its own group, which commits
 * no offsets: every session reads the topic whole.
 */
export async function restoreState(options: RestoreOptions): Promise<StateTracker> {
  const { kafka, stateTopic } = options;
  const restorer = new StateRestorer(options.identity, options.barrierNonce);
  const consumer = kafka.consumer({
    groupId: `pstn-connector-restore-${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 250,
    maxBytes: 64 * 1024 * 1024,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: stateTopic, fromBeginning: true });
    await new Promise<void>((resolvePromise, reject) => {
      timer = setTimeout(
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
            if (restorer.done) return;
            try {
              for (const message of batch.messages) {
                if (message.key === null) continue;
                if (restorer.accept(message.key.toString("utf8"), message.value)) {
                  resolvePromise();
                  return;
                }
              }
            } catch (error) {
              // An unreadable record of this source: kafkajs would retry the batch for ever, and
              // reading it again cannot heal it. The restore fails with the decoder's reason.
              reject(error);
            }
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
  const { tracker, summary } = restorer.build(options.start, options.lookbackMs);
  options.logger?.info(summary, "state restored");
  return tracker;
}
