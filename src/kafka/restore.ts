import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Consumer, FetchIsolationLevels, ListOffsetTimestamps } from "@platformatic/kafka";
import { ErrorCode, PstnError } from "../errors.js";
import type { Logger } from "../log.js";
import { StateRestorer, StatesRestorer } from "../state/restore.js";
import type { StateTracker } from "../state/tracker.js";
import { CommittedRecords, nextOffset } from "./committed.js";
import { describe } from "./errors.js";
import type { Kafka } from "./index.js";

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

const MAX_FETCH_BYTES = 64 * 1024 * 1024;

/**
 * Reads the state topic (one partition) from its beginning up to this
 * session's barrier, and rebuilds the source's state from it (StateRestorer).
 */
export async function restoreState(options: RestoreOptions): Promise<StateTracker> {
  const restorer = new StateRestorer(options.identity, options.barrierNonce);
  await readStateTopic(options.kafka, options.stateTopic, options.timeoutMs, (key, value) =>
    restorer.accept(key, value),
  );
  const { tracker, summary } = restorer.build(options.start, options.lookbackMs);
  options.logger?.info(summary, "state restored");
  return tracker;
}

export interface RestoreStatesOptions {
  kafka: Kafka;
  stateTopic: string;
  /** The sources whose state is rebuilt. */
  identities: Iterable<string>;
  /** Per writer that just fenced its predecessors, the nonce of the barrier it committed. */
  barriers: ReadonlyMap<string, string>;
  timeoutMs: number;
}

/** Rebuilds many sources' state in one read of their state topic, up to every barrier given. */
export async function restoreStates(options: RestoreStatesOptions): Promise<StatesRestorer> {
  const restorer = new StatesRestorer(options.identities, options.barriers);
  await readStateTopic(options.kafka, options.stateTopic, options.timeoutMs, (key, value) =>
    restorer.accept(key, value),
  );
  return restorer;
}

/**
 * Reads a state topic from its beginning, handing each committed keyed record to `accept` until it
 * returns true. It fetches without a group: nothing is committed, and every read takes the topic
 * whole. It reads uncommitted and keeps what the transaction markers commit (`CommittedRecords`):
 * the client's read_committed filter can drop committed records (docs/kafka-client.md).
 */
async function readStateTopic(
  kafka: Kafka,
  stateTopic: string,
  timeoutMs: number,
  accept: (key: string, value: Buffer | null) => boolean,
): Promise<void> {
  const consumer = kafka.consumer({
    groupId: `pstn-connector-restore-${randomUUID()}`,
    isolationLevel: FetchIsolationLevels.READ_UNCOMMITTED,
  });
  consumer.topics.track(stateTopic);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    const progress: ReadProgress = {};
    const reading = readUntilBarrier(consumer, stateTopic, accept, deadline.signal, progress);
    const timedOut = new Promise<never>((_, reject) =>
      deadline.signal.addEventListener("abort", () =>
        reject(
          new PstnError(
            ErrorCode.STATE_INVALID,
            `state topic ${stateTopic}: did not reach this session's barrier within ${timeoutMs} ms` +
              (progress.lastError === undefined
                ? ""
                : ` (last fetch error: ${describe(progress.lastError)})`),
            { cause: progress.lastError },
          ),
        ),
      ),
    );
    await Promise.race([reading, timedOut]);
  } finally {
    clearTimeout(timer);
    deadline.abort();
    await consumer.close(true).catch(() => undefined);
  }
}

interface ReadProgress {
  lastError?: unknown;
}

async function readUntilBarrier(
  consumer: Consumer,
  topic: string,
  accept: (key: string, value: Buffer | null) => boolean,
  stop: AbortSignal,
  progress: ReadProgress,
): Promise<void> {
  const earliest = await consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.EARLIEST });
  let offset = earliest.get(topic)?.[0] ?? 0n;
  const committed = new CommittedRecords();
  let forceUpdate = false;
  while (!stop.aborted) {
    const metadata = await consumer.metadata({ topics: [topic], forceUpdate });
    const described = metadata.topics.get(topic);
    const leader = described?.partitions[0]?.leader ?? -1;
    if (described === undefined || leader < 0) {
      forceUpdate = true;
      await sleep(100);
      continue;
    }
    const answer = await consumer
      .fetch({
        node: leader,
        topics: [
          {
            topicId: described.id,
            partitions: [
              {
                partition: 0,
                fetchOffset: offset,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
                partitionMaxBytes: MAX_FETCH_BYTES,
              },
            ],
          },
        ],
        maxBytes: MAX_FETCH_BYTES,
        maxWaitTime: 250,
        minBytes: 1,
      })
      .catch((error: unknown) => {
        progress.lastError = error;
        return undefined;
      });
    const partition = answer?.responses.flatMap((t) => t.partitions).find((p) => p.partitionIndex === 0);
    if (answer === undefined || (partition !== undefined && partition.errorCode !== 0)) {
      // The leader moved or is still loading: ask the cluster again.
      forceUpdate = true;
      await sleep(100);
      continue;
    }
    forceUpdate = false;
    const batches = partition?.records ?? [];
    for (const record of committed.take(batches)) {
      if (record.key === null) continue;
      // An unreadable record of this source throws the decoder's reason: reading it again cannot heal it.
      if (accept(record.key.toString("utf8"), record.value)) return;
    }
    offset = nextOffset(batches, offset);
  }
}
