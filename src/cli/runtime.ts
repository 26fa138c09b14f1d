import { type ConnectorConfig, loadConfig } from "../config/index.js";

/** `--config <file>` is the one option every connector command shares. */
export const CONFIG_OPTION = { config: { type: "string" as const, short: "c" } };

export const CONFIG_HELP = `  -c, --config <file>  a config file (.json, or KEY=VALUE lines) adding to the environment;
                       the environment wins. Variables: see docs/operations.md or the README.`;

export function loadCommandConfig(
  file: string | undefined,
  overrides?: Record<string, string>,
): ConnectorConfig {
  return loadConfig({ env: process.env, file, overrides });
}

/**
 * An AbortSignal that SIGTERM or SIGINT abort: commands stop taking new work, finish or abandon
 * in-flight work safely, then exit. A second signal exits at once.
 */
export function shutdownSignal(onFirst?: (signal: string) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    onFirst?.(name);
    controller.abort(new Error(`received ${name}`));
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGTERM", handler);
      process.off("SIGINT", handler);
    },
  };
}
