import { randomUUID } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface ConsumeOptions {
  /** How many messages to wait for before the settle period starts. */
  expected: number;
  readUncommitted?: boolean;
  groupId?: string;
  timeoutMs?: number;
  /** After `expected` arrived, keep reading this long so that extra messages are seen too. */
  settleMs?: number;
  /** At the timeout, return what was read instead of failing (for callers that say what is missing). */
  returnShort?: boolean;
}

/** Reads a topic from the beginning in a fresh consumer group and returns every message seen. */
/** The partition each message consumeAll returned came from. */
export const partitionOf = new WeakMap<KafkaMessage, number>();

export async function consumeAll(
  kafka: Kafka,
  topic: string,
  options: ConsumeOptions,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({
    groupId: options.groupId ?? uniqueName("test-group"),
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 200,
  });
  const messages: KafkaMessage[] = [];
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let reached: () => void = () => undefined;
    const enough = new Promise<void>((resolvePromise) => {
      reached = resolvePromise;
    });
    await consumer.run({
      eachMessage: async ({ message, partition }) => {
        partitionOf.set(message, partition);
        messages.push(message);
        if (messages.length >= options.expected) reached();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `saw ${messages.length} of ${options.expected} messages on ${topic} in ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([enough, timedOut]);
    } catch (error) {
      if (!options.returnShort) throw error;
      return messages;
    } finally {
      clearTimeout(timer);
    }
    await new Promise((resolvePromise) => setTimeout(resolvePromise, options.settleMs ?? 1000));
    return messages;
  } finally {
    await consumer.disconnect();
  }
}
