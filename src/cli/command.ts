import { type ParseArgsConfig, parseArgs } from "node:util";
import { ErrorCode, PstnError } from "../errors.js";

export interface Command {
  name: string;
  summary: string;
  help: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** util.parseArgs with usage errors turned into PSTN_USAGE (exit 2) and `--help` always accepted. */
export function parseCommandArgs<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new PstnError(ErrorCode.USAGE, (error as Error).message);
  }
}

export function parseIntegerOption(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new PstnError(ErrorCode.USAGE, `--${name}: "${value}" is not an integer from ${min} to ${max}`);
  }
  return parsed;
}
