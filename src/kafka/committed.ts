/**
 * The committed records of one partition's fetch answer, as Kafka's own consumer finds them under
 * read_committed: the broker answers up to the last stable offset and lists the aborted
 * transactions that overlap the answer; the client must drop their records itself. A producer is
 * aborted from the first offset of an aborted transaction up to its ABORT marker, and may abort
 * several transactions in one answer (a source's sessions all share one producer id).
 */
export interface FetchedBatch {
  firstOffset: bigint;
  lastOffsetDelta: number;
  attributes: number;
  producerId: bigint;
  records: { key: Buffer | null; value: Buffer | null }[];
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

/** Record batch attributes (KIP-98). */
const IS_TRANSACTIONAL = 0x10;
const IS_CONTROL = 0x20;
/** A control record's key: int16 version, int16 type; type 0 is ABORT, 1 COMMIT. */
const ABORT = 0;

export function committedRecords(
  batches: readonly FetchedBatch[],
  abortedTransactions: readonly AbortedTransaction[] | null | undefined,
): { key: Buffer | null; value: Buffer | null }[] {
  const pending = [...(abortedTransactions ?? [])].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const aborting = new Set<bigint>();
  const records: { key: Buffer | null; value: Buffer | null }[] = [];
  let next = 0;
  for (const batch of batches) {
    const lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    while (next < pending.length && (pending[next] as AbortedTransaction).firstOffset <= lastOffset) {
      aborting.add((pending[next] as AbortedTransaction).producerId);
      next++;
    }
    if (batch.attributes & IS_CONTROL) {
      const key = batch.records[0]?.key;
      if (key && key.length >= 4 && key.readInt16BE(2) === ABORT) aborting.delete(batch.producerId);
      continue;
    }
    if (batch.attributes & IS_TRANSACTIONAL && aborting.has(batch.producerId)) continue;
    for (const record of batch.records) records.push(record);
  }
  return records;
}

/** The offset after the answer's last batch (control batches included), or `from` for an empty answer. */
export function nextOffset(batches: readonly FetchedBatch[], from: bigint): bigint {
  const last = batches.at(-1);
  return last === undefined ? from : last.firstOffset + BigInt(last.lastOffsetDelta) + 1n;
}
