/**
 * The call-log streams, described by data: adding one is a new entry here and its schema file in
 * schemas/, not a branch in the engine. Everything a stream differs in is a field of its definition.
 */
export interface StreamDefinition {
  /** The stream's name in identities, state keys and metrics labels. */
  readonly name: string;
  /** The Graph function under /communications/callRecords/ that lists its rows. */
  readonly function: string;
  /** The Avro schema of one row, a file under schemas/. */
  readonly schemaFile: string;
  /** The row property that identifies a row: the dedupe key and the Kafka message key. */
  readonly keyField: string;
  /** The row property Graph selects rows by: the dedupe hour and the check against the window. */
  readonly startField: string;
  /**
   * Whether Graph's `toDateTime` includes rows that start at that instant. Windows meet at their
   * bounds either way; with an inclusive bound a row at a boundary is read twice and deduped.
   */
  readonly toDateTimeInclusive: boolean;
  /** The Graph API versions that serve the function. */
  readonly apiVersions: readonly string[];
}

export const STREAMS = {
  pstn: {
    name: "pstn",
    function: "getPstnCalls",
    schemaFile: "pstnCallLogRow.avsc",
    keyField: "id",
    startField: "startDateTime",
    toDateTimeInclusive: true,
    apiVersions: ["v1.0", "beta"],
  },
  directRouting: {
    name: "directRouting",
    function: "getDirectRoutingCalls",
    schemaFile: "directRoutingLogRow.avsc",
    keyField: "id",
    startField: "startDateTime",
    toDateTimeInclusive: false,
    apiVersions: ["v1.0", "beta"],
  },
  sms: {
    name: "sms",
    function: "getSmsLog",
    schemaFile: "smsLogRow.avsc",
    keyField: "id",
    startField: "sentDateTime",
    toDateTimeInclusive: true,
    apiVersions: ["beta"],
  },
} as const satisfies Record<string, StreamDefinition>;

export type StreamName = keyof typeof STREAMS;

export function isStreamName(name: string): name is StreamName {
  return Object.hasOwn(STREAMS, name);
}

/** The definition of `name`; throws for a name that is not a stream (a programming error). */
export function streamNamed(name: string): StreamDefinition {
  if (!isStreamName(name)) throw new Error(`no stream named "${name}"`);
  return STREAMS[name];
}

/**
 * The API version a stream reads: the configured one (GRAPH_API_VERSION) where the stream's
 * function is served there, otherwise the one version that serves it (getSmsLog: beta only).
 */
export function apiVersionFor(stream: StreamDefinition, configured: string): string {
  return stream.apiVersions.includes(configured) ? configured : (stream.apiVersions[0] as string);
}
