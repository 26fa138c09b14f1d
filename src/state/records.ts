import { ErrorCode, PstnError } from "../errors.js";

/**
 * Keys and values of the compacted state topic. Several connectors may share the topic: every key
 * starts with the connector's identity (tenant/stream/name) and a `|`.
 *
 *   <identity>|checkpoint            → {"v":1,"start":"<ISO>","watermark":"<ISO>"|null}
 *   <identity>|barrier               → {"v":1,"nonce":"..."}        (written at start-up, see restore)
 *   <identity>|ids|<bucketMs>|<seq>  → {"v":1,"ids":["...", ...]}   (ids one transaction published
 *                                                                   for rows starting in that hour)
 * A null value (tombstone) deletes a key once the horizon has passed its bucket.
 */
/** A record of the state topic; a null value is a tombstone. */
export interface StateRecord {
  key: string;
  value: Buffer | null;
}

export interface Checkpoint {
  /**
   * Where this identity's first run began: fixed at that run, so that a start given as a duration
   * ago (`30d`) does not move forward with every restart.
   */
  start: Date;
  watermark: Date | undefined;
}

export type StateKey =
  | { kind: "checkpoint" }
  | { kind: "barrier" }
  | { kind: "ids"; bucket: number; seq: number };

export function checkpointKey(identity: string): string {
  return `${identity}|checkpoint`;
}

export function barrierKey(identity: string): string {
  return `${identity}|barrier`;
}

export function idsKey(identity: string, bucket: number, seq: number): string {
  return `${identity}|ids|${bucket}|${seq}`;
}

/** Parses a key of this identity; undefined for another connector's keys. */
export function parseStateKey(identity: string, key: string): StateKey | undefined {
  const prefix = `${identity}|`;
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  if (rest === "checkpoint") return { kind: "checkpoint" };
  if (rest === "barrier") return { kind: "barrier" };
  const match = /^ids\|(-?\d+)\|(\d+)$/.exec(rest);
  if (match) return { kind: "ids", bucket: Number(match[1]), seq: Number(match[2]) };
  return undefined;
}

export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      start: checkpoint.start.toISOString(),
      watermark: checkpoint.watermark?.toISOString() ?? null,
    }),
  );
}

export function decodeCheckpoint(value: Buffer): Checkpoint {
  const parsed = parseJson(value, "checkpoint") as { v?: number; start?: unknown; watermark?: unknown };
  const start = typeof parsed.start === "string" ? new Date(parsed.start) : undefined;
  const watermark = typeof parsed.watermark === "string" ? new Date(parsed.watermark) : undefined;
  const valid =
    parsed.v === 1 &&
    start !== undefined &&
    !Number.isNaN(start.getTime()) &&
    (parsed.watermark === null || (watermark !== undefined && !Number.isNaN(watermark.getTime())));
  if (!valid) {
    throw new PstnError(
      ErrorCode.STATE_INVALID,
      `state topic: unreadable checkpoint ${value.toString().slice(0, 200)}`,
    );
  }
  return { start, watermark };
}

export function encodeIds(ids: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ids }));
}

export function decodeIds(value: Buffer): string[] {
  const parsed = parseJson(value, "ids") as { v?: number; ids?: unknown };
  if (parsed.v !== 1 || !Array.isArray(parsed.ids) || !parsed.ids.every((id) => typeof id === "string")) {
    throw new PstnError(ErrorCode.STATE_INVALID, "state topic: unreadable id list");
  }
  return parsed.ids as string[];
}

export function encodeBarrier(nonce: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, nonce }));
}

export function decodeBarrier(value: Buffer): string | undefined {
  const parsed = parseJson(value, "barrier") as { nonce?: unknown };
  return typeof parsed.nonce === "string" ? parsed.nonce : undefined;
}

function parseJson(value: Buffer, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString("utf8"));
  } catch (error) {
    throw new PstnError(ErrorCode.STATE_INVALID, `state topic: ${what} record is not JSON`, { cause: error });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new PstnError(ErrorCode.STATE_INVALID, `state topic: ${what} record is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
