import type { StartSpec } from "./types.js";

/** The instant a first run begins, given when it starts. */
export function resolveStart(spec: StartSpec, now: Date): Date {
  return spec.kind === "instant" ? new Date(spec.at.getTime()) : new Date(now.getTime() - spec.ms);
}
