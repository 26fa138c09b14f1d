export type { StackSecurity } from "./security.js";
export type { StackDownResult, StackInfo, StackState, StackStatus, StackUpOptions } from "./stack.js";
export {
  DEFAULT_PORTS,
  DEFAULT_START_TIMEOUT_MS,
  killKafkaNode,
  restartKafkaNode,
  securityFile,
  stackDown,
  stackStatus,
  stackUp,
} from "./stack.js";
export { APICURIO_VERSION, KAFKA_VERSION } from "./versions.js";
