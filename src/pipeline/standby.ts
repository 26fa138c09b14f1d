import { ErrorCode, isFinal, isPstnError } from "../errors.js";
import { type Source, transactionalIdOf } from "./source.js";

export interface StandbyOptions {
  sessionTimeoutMs: number;
}

/**
 * `run` for one of several replicas: stand by until elected, poll while active, stand by again
 * when the election moves on (or another instance fences this one), until `signal` aborts.
 */
export async function runWithStandby(
  source: Source,
  signal: AbortSignal,
  options: StandbyOptions,
): Promise<void> {
  const { sink, logger } = source.settings;
  const { topics } = source.unit;
  // A standby reports Kafka and the registry ready once it reached them; a failure here (two
  // replicas registering the first schema at once) is retried by run's sessions when elected.
  await source.prepare().catch((error: unknown) => {
    if (isFinal(error)) throw error;
    logger.warn({ err: error }, "preparing topics and schema failed; retried when this instance is active");
  });
  const leadership = await sink.joinElection({
    identity: source.identity(),
    groupId: `${transactionalIdOf(topics.state, source.identity())}:leader`,
    topic: topics.state,
    sessionTimeoutMs: options.sessionTimeoutMs,
    metrics: source.metrics,
  });
  try {
    while (!signal.aborted) {
      if (!leadership.isActive) {
        logger.info("standing by until this instance is elected active");
        source.health.setRole("standby");
      }
      try {
        await leadership.waitUntilActive(signal);
      } catch {
        break;
      }
      source.health.setRole("active");
      try {
        await source.run(AbortSignal.any([signal, leadership.lostSignal]));
      } catch (error) {
        if (!isPstnError(error, ErrorCode.KAFKA_FENCED)) throw error;
        logger.warn({ err: error }, "fenced by another instance; standing by");
      }
      if (!signal.aborted) source.metrics.standingBy();
    }
  } finally {
    await leadership.leave();
  }
}
