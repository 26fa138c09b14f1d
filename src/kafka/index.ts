/** The Sink on kafkajs and the client's configuration: everything kafkajs-specific of the connector. */
export { kafkaClientConfig } from "./client.js";
export { kafkaLogCreator } from "./log.js";
export { kafkaTokenSource } from "./oauth.js";
export { KafkaSink, type KafkaSinkOptions } from "./sink.js";
