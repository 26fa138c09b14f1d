/**
 * The Graph simulator: a real HTTPS server on 127.0.0.1 that plays Entra ID (token endpoint) and
 * Graph's call-log function getPstnCalls, faithful to what Graph does, awkward parts included
 * (late rows and `$skip` paging over them, both spellings of nextLink, throttling, revoked tokens).
 */
export { type ClientCertificate, generateClientCertificate } from "./certificates.js";
export type { SimulatorStats } from "./context.js";
export type { LoggedRequest } from "./faults.js";
export type { HostileOptions } from "./hostile.js";
export {
  CALL_RECORDS_PERMISSION,
  DEFAULT_CLIENT_ID,
  DEFAULT_TENANT_ID,
  type SimulatorFaults,
  type SimulatorOptions,
} from "./options.js";
export type { SimulatedRow } from "./rows.js";
export { MISPLACED_START_MS, OVERLONG_ID_LENGTH } from "./rows.js";
export { type GraphSimulator, type GraphVersion, startGraphSimulator } from "./server.js";
