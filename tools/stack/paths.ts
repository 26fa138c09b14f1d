import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** Where downloaded artifacts and the running stacks' state live; never inside git. */
export function stackCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PSTN_STACK_CACHE) return resolve(env.PSTN_STACK_CACHE);
  const base = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), ".cache");
  return join(base, "pstn-connector");
}

export interface StackPaths {
  cache: string;
  /** Per-stack runtime folder: state file, logs, data dirs. */
  run: string;
  state: string;
  lock: string;
}

export function stackPaths(stackName: string, env: NodeJS.ProcessEnv = process.env): StackPaths {
  const cache = stackCacheDir(env);
  const run = join(cache, "run", stackName);
  return { cache, run, state: join(run, "state.json"), lock: join(run, "lock") };
}
