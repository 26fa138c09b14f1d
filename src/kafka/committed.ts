/**
 * The committed records of one partition, told apart by the log's own transaction markers: a
 * fetch with read_uncommitted returns every batch, and each producer's transactional batches wait
 * for that producer's next marker, COMMIT taking them and ABORT dropping them. The broker's list
 * of aborted transactions is not used: a transaction aborted before any of its records reached the
 * partition leaves an ABORT marker there that no list names, and the client's own read_committed
 * filter, reading that marker as the end of an earlier aborted transaction, drops the committed
 * records in between (docs/kafka-client.md).
 */
export interface FetchedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  attributes: number;
  producerId: bigint;
  records: FetchedRecord[];
}

export interface FetchedRecord {
  key: Buffer | null;
  value: Buffer | null;
}

/** Record batch attributes (KIP-98). */
const IS_TRANSACTIONAL = 0x10;
const IS_CONTROL = 0x20;
/** A control record's key: int16 version, int16 type; type 0 is ABORT, 1 COMMIT. */
const COMMIT = 1;

/**
 * Reads one partition's batches, fetch answer after fetch answer, in offset order from its
 * earliest offset. A transaction may span answers: its records wait here until its marker.
 */
export class CommittedRecords {
  /** Per producer, the records of its open transaction, in offset order. */
  private readonly open = new Map<bigint, FetchedRecord[]>();

  /**
   * The records that `batches` (the next answer) made committed, in the order their transactions
   * committed; a record outside any transaction counts as committed where it stands.
   */
  take(batches: readonly FetchedBatch[]): FetchedRecord[] {
    const committed: FetchedRecord[] = [];
    for (const batch of batches) {
      if (batch.attributes & IS_CONTROL) {
        const key = batch.records[0]?.key;
        const pending = this.open.get(batch.producerId);
        this.open.delete(batch.producerId);
        if (pending && key && key.length >= 4 && key.readInt16BE(2) === COMMIT) committed.push(...pending);
      } else if (batch.attributes & IS_TRANSACTIONAL) {
        const pending = this.open.get(batch.producerId);
        if (pending) pending.push(...batch.records);
        else this.open.set(batch.producerId, [...batch.records]);
      } else committed.push(...batch.records);
    }
    return committed;
  }
}

/** The offset after the answer's last batch (control batches included), or `from` for an empty answer. */
export function nextOffset(batches: readonly FetchedBatch[], from: bigint): bigint {
  const last = batches.at(-1);
  return last === undefined ? from : last.firstOffset + BigInt(last.lastOffsetDelta) + 1n;
}
