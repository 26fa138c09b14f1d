import { type SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";

/** Registers a value schema under a subject; the pipeline needs nothing else of a registry. */
export interface SchemaRegistrar {
  /** The schema's id under `subject` (registered if new, the existing id if the same). */
  register(subject: string, avroSchemaText: string): Promise<number>;
}

/** The registrar over a Confluent-compatible registry client (Confluent, Apicurio's ccompat API). */
export function registrarOf(registry: SchemaRegistry): SchemaRegistrar {
  return {
    async register(subject, avroSchemaText) {
      const { id } = await registry.register({ type: SchemaType.AVRO, schema: avroSchemaText }, { subject });
      return id;
    },
  };
}
