import { ErrorCode, isPstnError } from "../errors.js";
import { Leadership } from "../kafka/leadership.js";
import { type Connector, transactionalIdOf } from "./connector.js";

export interface StandbyOptions {
  sessionTimeoutMs: number;
}

/**
 * `run` for one of several replicas: stand by until elected, poll while active, stand by again
 * when the election moves on (or another instance fences this one), until `signal` aborts.
 */
export async function runWithStandby(
  connector: Connector,
  signal: AbortSignal,
  options: StandbyOptions,
): Promise<void> {
  const { kafka, logger, topics, metrics } = connector.settings;
  await connector.prepare();
  const leadership = await Leadership.join({
    kafka,
    groupId: `${transactionalIdOf(topics.state, connector.identity())}:leader`,
    topic: topics.state,
    sessionTimeoutMs: options.sessionTimeoutMs,
    logger,
    metrics,
  });
  try {
    while (!signal.aborted) {
      if (!leadership.isActive) {
        logger.info("standing by until this instance is elected active");
        connector.health.setRole("standby");
      }
      try {
        await leadership.waitUntilActive(signal);
      } catch {
        break;
      }
      connector.health.setRole("active");
      try {
        await connector.run(AbortSignal.any([signal, leadership.lostSignal]));
      } catch (error) {
        if (!isPstnError(error, ErrorCode.KAFKA_FENCED)) throw error;
        logger.warn({ err: error }, "fenced by another instance; standing by");
      }
    }
  } finally {
    await leadership.leave();
  }
}
