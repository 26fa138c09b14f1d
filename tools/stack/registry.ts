import { request } from "undici";

export interface RegistrySpec {
  port: number;
  managementPort: number;
  logFile: string;
  heapMb: number;
}

/** The Confluent-compatible API of Apicurio Registry 3.x. */
export function registryUrl(port: number): string {
  return `http://127.0.0.1:${port}/apis/ccompat/v7`;
}

export function apicurioJvmArgs(spec: RegistrySpec, marker: string): string[] {
  return [
    `-Xmx${spec.heapMb}m`,
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    marker,
    "-Dquarkus.http.host=127.0.0.1",
    `-Dquarkus.http.port=${spec.port}`,
    "-Dquarkus.management.host=127.0.0.1",
    `-Dquarkus.management.port=${spec.managementPort}`,
    // Without a global rule a subject reports NONE and confluent-schema-registry's register()
    // refuses it; BACKWARD is also what Confluent's registry enforces by default.
    "-Dapicurio.rules.global.compatibility=BACKWARD",
    "-jar",
    "quarkus-run.jar",
  ];
}

export function registryReadinessProbe(port: number): () => Promise<boolean> {
  return async () => {
    const response = await request(`${registryUrl(port)}/subjects`, {
      headersTimeout: 2000,
      bodyTimeout: 2000,
    });
    await response.body.dump();
    return response.statusCode === 200;
  };
}
