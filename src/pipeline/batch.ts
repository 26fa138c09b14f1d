import { createHash } from "node:crypto";
import type { Message } from "kafkajs";
import { isoToMicros, type RowCodec } from "../avro/index.js";
import { HorizonIdSet } from "../dedupe/id-set.js";
import type { StateTracker } from "../state/tracker.js";

/** Counts of one page, for metrics and the live view. */
export interface PageTally {
  fetched: number;
  duplicates: number;
  dead: number;
  unknownProperties: number;
  deadReasons: string[];
}

/**
 * Rows on their way into one Kafka transaction: encoded values for the topic, dead letters, and
 * the ids that the transaction's state records must carry.
 */
export class BatchBuilder {
  data: Message[] = [];
  dlq: Message[] = [];
  newIds = new Map<number, string[]>();
  /** The wire format's header, written by the codec before each row's Avro. */
  private readonly header: Buffer;

  constructor(
    private readonly codec: RowCodec,
    schemaId: number,
    private readonly tracker: StateTracker,
    private readonly now: () => number = Date.now,
  ) {
    this.header = wireFormat(schemaId, Buffer.alloc(0));
  }

  get size(): number {
    return this.data.length + this.dlq.length;
  }

  isEmpty(): boolean {
    return this.data.length === 0 && this.dlq.length === 0 && this.newIds.size === 0;
  }

  /** Dedupes, encodes and batches one page of rows. The hot path: no logging, no promises. */
  addPage(rows: readonly Record<string, unknown>[], window: { from: Date; to: Date }): PageTally {
    const tally: PageTally = {
      fetched: rows.length,
      duplicates: 0,
      dead: 0,
      unknownProperties: 0,
      deadReasons: [],
    };
    const ids = this.tracker.ids;
    for (const row of rows) {
      const id = row.id;
      const start = row.startDateTime;
      const startMicros = typeof start === "string" ? isoToMicros(start) : undefined;
      let key: string;
      if (typeof id === "string" && id !== "" && startMicros !== undefined) {
        const startMs = Math.floor(startMicros / 1000);
        if (!ids.add(id, startMs)) {
          tally.duplicates++;
          continue;
        }
        this.remember(HorizonIdSet.bucketOf(startMs), id);
        key = id;
      } else {
        // Without a usable start time the row has no hour: it is remembered under the hour it was
        // seen, which is never before its real start, so the horizon forgets it no earlier.
        key = typeof id === "string" && id !== "" ? id : `sha256:${contentHash(row)}`;
        if (ids.hasAnywhere(key)) {
          tally.duplicates++;
          continue;
        }
        const bucket = HorizonIdSet.bucketOf(this.now());
        ids.add(key, bucket);
        this.remember(bucket, key);
      }
      const encoded = this.codec.encode(row, this.header);
      if (encoded.ok) {
        tally.unknownProperties += encoded.unknownProperties;
        this.data.push({ key, value: encoded.value });
      } else {
        tally.dead++;
        tally.deadReasons.push(encoded.reason);
        this.dlq.push(deadLetter(key, row, encoded.reason, window));
      }
    }
    return tally;
  }

  private remember(bucket: number, id: string): void {
    const list = this.newIds.get(bucket);
    if (list) list.push(id);
    else this.newIds.set(bucket, [id]);
  }
}

/** Confluent wire format: magic byte 0, the schema id (4 bytes, big-endian), the Avro binary. */
export function wireFormat(schemaId: number, avro: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + avro.length);
  out[0] = 0;
  out.writeUInt32BE(schemaId, 1);
  avro.copy(out, 5);
  return out;
}

function contentHash(row: Record<string, unknown>): string {
  return createHash("sha256").update(JSON.stringify(row)).digest("hex").slice(0, 32);
}

function deadLetter(
  key: string,
  row: Record<string, unknown>,
  reason: string,
  window: { from: Date; to: Date },
): Message {
  return {
    key,
    value: JSON.stringify({
      reason,
      row,
      window: { from: window.from.toISOString(), to: window.to.toISOString() },
      deadLetteredAt: new Date().toISOString(),
    }),
    headers: { "pstn.reason": reason.slice(0, 500) },
  };
}
