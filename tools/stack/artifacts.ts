import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, PstnError } from "../../src/errors.js";
import { requireMaven, runCommand } from "./tools.js";
import { APICURIO_VERSION, KAFKA_VERSION, LOG4J_VERSION } from "./versions.js";

export type Progress = (message: string) => void;

/**
 * Resolves Kafka's runtime classpath through Maven (jars land in the local Maven repository) and
 * remembers it in the cache; later calls read the remembered classpath and never start Maven.
 */
export async function resolveKafkaClasspath(
  cacheDir: string,
  progress: Progress,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const dir = join(cacheDir, `kafka-${KAFKA_VERSION}`);
  const classpathFile = join(dir, "classpath.txt");
  const cached = await readCachedClasspath(classpathFile);
  if (cached) return cached;

  const mvn = await requireMaven(env);
  progress(`resolving Apache Kafka ${KAFKA_VERSION} from Maven Central (first use only)`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "pom.xml"), kafkaPom());
  const log = join(dir, "maven.log");
  const result = await runCommand(
    mvn,
    [
      "-B",
      "dependency:build-classpath",
      "-Dmdep.includeScope=runtime",
      `-Dmdep.outputFile=${classpathFile}.tmp`,
    ],
    { cwd: dir, env },
  );
  await writeFile(log, result.stdout + result.stderr);
  if (result.code !== 0) {
    throw new PstnError(
      ErrorCode.STACK_RESOLVE_FAILED,
      `Maven could not resolve org.apache.kafka:kafka_2.13:${KAFKA_VERSION}; read ${log}`,
    );
  }
  await rename(`${classpathFile}.tmp`, classpathFile);
  const classpath = await readCachedClasspath(classpathFile);
  if (!classpath) {
    throw new PstnError(ErrorCode.STACK_RESOLVE_FAILED, `Maven wrote an unusable classpath; read ${log}`);
  }
  return classpath;
}

/** A classpath Maven wrote before, while every jar on it still exists. */
export async function readCachedClasspath(file: string): Promise<string | undefined> {
  if (!existsSync(file)) return undefined;
  const classpath = (await readFile(file, "utf8")).trim();
  const jars = classpath.split(":");
  // A cleaned local Maven repository invalidates the remembered classpath.
  if (jars.length < 2 || !jars.every((jar) => existsSync(jar))) return undefined;
  return classpath;
}

function kafkaPom(): string {
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.pstn-connector</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <!-- Kafka logs through slf4j 1.x; without a binding it logs nothing. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>${LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
`;
}

/** Unpacks Apicurio Registry's `all` archive (a Quarkus fast-jar) into the cache once. */
export async function resolveApicurio(
  cacheDir: string,
  progress: Progress,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const dir = join(cacheDir, `apicurio-${APICURIO_VERSION}`);
  const runJar = join(dir, "quarkus-run.jar");
  if (existsSync(runJar)) return dir;

  const mvn = await requireMaven(env);
  progress(`resolving Apicurio Registry ${APICURIO_VERSION} from Maven Central (first use only)`);
  const staging = `${dir}.partial`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const log = join(cacheDir, `apicurio-${APICURIO_VERSION}-maven.log`);
  const result = await runCommand(
    mvn,
    [
      "-B",
      "dependency:unpack",
      `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`,
      `-DoutputDirectory=${staging}`,
    ],
    { cwd: cacheDir, env },
  );
  await writeFile(log, result.stdout + result.stderr);
  if (result.code !== 0 || !existsSync(join(staging, "quarkus-run.jar"))) {
    throw new PstnError(
      ErrorCode.STACK_RESOLVE_FAILED,
      `Maven could not resolve io.apicurio:apicurio-registry-app:${APICURIO_VERSION} (all, tar.gz); read ${log}`,
    );
  }
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return dir;
}
