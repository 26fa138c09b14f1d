import type { SinkSession } from "../sink.js";
import type { StateRecord } from "../state/records.js";
import type { BatchBuilder, EncodingTally } from "./batch.js";

/**
 * Commits batches one transaction after another, in order, with at most one in flight: the next
 * batch is fetched and encoded meanwhile. A failed transaction fails the next submit or drain, so
 * that no later batch is committed after one that was not.
 */
export class Committer {
  private pending: Promise<void> | undefined;
  /** The transaction in flight, until it settles (drained or not). */
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly session: SinkSession,
    private readonly onEncoded: (tally: EncodingTally) => void,
  ) {}

  /**
   * Waits for the transaction in flight and for this batch's encodings, then starts this batch's
   * transaction with its state records: its new ids, `extraState` (a checkpoint), and the
   * tombstones pending. `onCommitted` runs once the transaction is committed.
   */
  async submit(batch: BatchBuilder, extraState: StateRecord[], onCommitted: () => void): Promise<void> {
    const settling = batch.settle();
    settling.catch(() => undefined);
    await this.drain();
    this.onEncoded(await settling);
    // Built now, in order: ids records take their sequence numbers, tombstones are taken once.
    const tracker = this.session.state;
    const state = [...tracker.idsRecords(batch.newIds), ...extraState, ...tracker.takeTombstones()];
    const committed = this.session
      .commit({ outputs: batch.outputs, dlq: batch.dlq, state })
      .then(onCommitted);
    this.inFlight = committed;
    // Observed by the next submit or drain; marked handled so that it never surfaces unawaited.
    committed
      .finally(() => {
        if (this.inFlight === committed) this.inFlight = undefined;
      })
      .catch(() => undefined);
    this.pending = committed;
  }

  /** Whether no transaction is in flight: a commit now costs no throughput. */
  get idle(): boolean {
    return this.inFlight === undefined;
  }

  /** Waits for the transaction in flight; rejects if it (or an earlier undrained one) failed. */
  async drain(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    await pending;
  }
}
