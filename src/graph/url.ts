/**
 * Builds the function URL by hand: Graph wants the OData function-call syntax with bare ISO
 * instants, which URLSearchParams-style encoding would break. Full instants with milliseconds keep
 * window bounds exact.
 */
export function callLogUrl(endpoint: string, apiVersion: string, fn: string, from: Date, to: Date): string {
  return `${endpoint}/${apiVersion}/communications/callRecords/${fn}(fromDateTime=${from.toISOString()},toDateTime=${to.toISOString()})`;
}
