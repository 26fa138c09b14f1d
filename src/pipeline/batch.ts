import { HorizonIdSet } from "../dedupe/id-set.js";
import type { OutRecord } from "../sink.js";
import type { StateTracker } from "../state/tracker.js";
import type { EncodedRows, PageKeys } from "./page-codec.js";

/** What encoding a batch's rows found, for metrics and the live view. */
export interface EncodingTally {
  unknownProperties: number;
  deadReasons: string[];
}

interface Part {
  keys: readonly string[];
  indexes: readonly number[];
  encoding: Promise<EncodedRows>;
}

/**
 * Rows on their way into one Kafka transaction. Pages are deduped here, in order, on the main
 * thread (the dedupe set belongs to the session); their new rows are encoded elsewhere meanwhile,
 * and `settle` turns the encodings into the transaction's messages, in row order.
 */
export class BatchBuilder {
  /** Per output, the same rows as it writes them. */
  readonly outputs: OutRecord[][];
  dlq: OutRecord[] = [];
  /** The ids that the transaction's state records must carry, by hour. */
  newIds = new Map<number, string[]>();
  private readonly parts: Part[] = [];
  private selected = 0;

  constructor(
    private readonly tracker: StateTracker,
    private readonly now: () => number = Date.now,
    /** Headers every record carries (the tenant's, when several share the topics). */
    private readonly headers?: Record<string, string>,
    /** Per output, the headers of its records (the tenant's and its policy's); one output without. */
    private readonly outputHeaders: readonly (Record<string, string> | undefined)[] = [headers],
  ) {
    this.outputs = outputHeaders.map(() => []);
  }

  /** Rows published once the batch is committed: each output holds all of them. */
  get published(): number {
    return this.outputs[0]?.length ?? 0;
  }

  /** Rows chosen for this batch (published or dead-lettered once settled). */
  get size(): number {
    return this.selected;
  }

  /**
   * Dedupes one page's rows against everything published or batched before (remembering the new
   * ones) and returns the positions of the new rows. The hot path: no logging, no promises.
   */
  select(page: PageKeys): number[] {
    const { keys, starts } = page;
    const ids = this.tracker.ids;
    const fresh: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const startMs = starts[i] as number;
      if (!Number.isNaN(startMs)) {
        if (!ids.add(key, startMs)) continue;
        this.remember(HorizonIdSet.bucketOf(startMs), key);
      } else {
        // Without a usable start time the row has no hour: it is remembered under the hour it was
        // seen, which is never before its real start, so the horizon forgets it no earlier.
        if (ids.hasAnywhere(key)) continue;
        const bucket = HorizonIdSet.bucketOf(this.now());
        ids.add(key, bucket);
        this.remember(bucket, key);
      }
      fresh.push(i);
    }
    return fresh;
  }

  /** The encoding of `page`'s rows at `indexes` (as `select` returned them) joins the batch. */
  add(page: PageKeys, indexes: readonly number[], encoding: Promise<EncodedRows>): void {
    // Observed by settle; marked handled so that a failure never surfaces unawaited before it.
    encoding.catch(() => undefined);
    this.parts.push({ keys: page.keys, indexes, encoding });
    this.selected += indexes.length;
  }

  /** Waits for the encodings and builds the messages: values for the topic, dead letters with reasons. */
  async settle(): Promise<EncodingTally> {
    const tally: EncodingTally = { unknownProperties: 0, deadReasons: [] };
    for (const part of this.parts) {
      const encoded = await part.encoding;
      tally.unknownProperties += encoded.unknownProperties;
      let dead = 0;
      const begins = encoded.outputs.map(() => 0);
      for (let at = 0; at < part.indexes.length; at++) {
        const key = part.keys[part.indexes[at] as number] as string;
        const next = encoded.dead[dead];
        const isDead = next !== undefined && next.at === at;
        if (isDead) {
          dead++;
          tally.deadReasons.push(next.reason);
          this.dlq.push({
            key,
            value: next.value,
            headers: { ...this.headers, "pstn.reason": next.reason.slice(0, 500) },
          });
        }
        for (let output = 0; output < encoded.outputs.length; output++) {
          const { buffer, ends } = encoded.outputs[output] as EncodedRows["outputs"][number];
          const begin = begins[output] as number;
          const end = ends[at] as number;
          if (!isDead) {
            const value = Buffer.from(buffer, begin, end - begin);
            const headers = this.outputHeaders[output];
            // One headers object for every record of an output: the client only reads it.
            (this.outputs[output] as OutRecord[]).push(headers ? { key, value, headers } : { key, value });
          }
          begins[output] = end;
        }
      }
    }
    this.parts.length = 0;
    return tally;
  }

  private remember(bucket: number, id: string): void {
    const list = this.newIds.get(bucket);
    if (list) list.push(id);
    else this.newIds.set(bucket, [id]);
  }
}
