/** Server versions the local stack runs; the docker-compose images use the same ones. */
export const KAFKA_VERSION = "4.1.2";
/** log4j-core version Kafka 4.1.2 brings; the slf4j 1.x binding must match it. */
export const LOG4J_VERSION = "2.24.3";
export const APICURIO_VERSION = "3.3.3";

export const KAFKA_MIN_JAVA = 17;
/** Apicurio 3.3 is compiled for Java 21 (class file 65). */
export const APICURIO_MIN_JAVA = 21;
