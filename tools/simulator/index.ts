/**
 * The Graph simulator: a real HTTPS server on 127.0.0.1 that plays Entra ID (token endpoint) and
 * Graph's call-log functions getPstnCalls, getDirectRoutingCalls and getSmsLog (beta), faithful to
 * what Graph does, awkward parts included (late rows and `$skip` paging over them, both spellings
 * of nextLink, throttling one budget for all functions, revoked tokens, Direct Routing's exclusive
 * `toDateTime` and its failed calls without `endDateTime`, SMS's masked numbers and 12-digit charges).
 * One simulator can serve many tenants (option `tenants`), each with its own rows, budget, faults
 * and stats, its requests told apart by their tokens.
 */
export { type ClientCertificate, generateClientCertificate } from "./certificates.js";
export type { SimulatorStats } from "./context.js";
export type { DirectRoutingRow } from "./direct-routing-rows.js";
export type { LoggedRequest } from "./faults.js";
export type { HostileOptions } from "./hostile.js";
export {
  CALL_RECORDS_PERMISSION,
  DEFAULT_CLIENT_ID,
  DEFAULT_DIRECT_ROUTING_RATIO,
  DEFAULT_SMS_RATIO,
  DEFAULT_TENANT_ID,
  type SimulatorFaults,
  type SimulatorOptions,
  type TenantSimulation,
  tenantSeed,
} from "./options.js";
export type { SimulatedRow } from "./rows.js";
export { MISPLACED_START_MS, OVERLONG_ID_LENGTH } from "./rows.js";
export {
  type GraphSimulator,
  type GraphVersion,
  type SimulatedTenant,
  type StreamTruth,
  type StreamTruths,
  startGraphSimulator,
} from "./server.js";
export type { SmsRow } from "./sms-rows.js";
export { STREAMS, type StreamName } from "./streams.js";
