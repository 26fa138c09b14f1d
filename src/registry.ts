import { type SchemaRegistry, SchemaType } from "@kafkajs/confluent-schema-registry";

/** Registers a value schema under a subject; the pipeline needs nothing else of a registry. */
export interface SchemaRegistrar {
  /** The schema's id under `subject` (registered if new, the existing id if the same). */
  register(subject: string, avroSchemaText: string): Promise<number>;
}

/**
 * The registrar over a Confluent-compatible registry client (Confluent, Apicurio's ccompat API).
 * A subject and schema are registered once per registrar: the sources of many tenants share a
 * stream's subject, and ask together. A failed registration is asked again by the next caller.
 */
export function registrarOf(registry: SchemaRegistry): SchemaRegistrar {
  const registered = new Map<string, Promise<number>>();
  return {
    register(subject, avroSchemaText) {
      const key = `${subject}\n${avroSchemaText}`;
      let id = registered.get(key);
      if (id === undefined) {
        id = registry
          .register({ type: SchemaType.AVRO, schema: avroSchemaText }, { subject })
          .then((answer) => answer.id);
        registered.set(key, id);
        id.catch(() => registered.delete(key));
      }
      return id;
    },
  };
}
