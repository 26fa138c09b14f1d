import { ErrorCode, PstnError } from "../errors.js";

/**
 * The configuration cannot be used. `problems` holds one line per problem, each naming the variable,
 * the offending value (never a secret's) and what is expected; the message is those lines joined.
 */
export class ConfigError extends PstnError {
  readonly problems: string[];

  constructor(problems: readonly string[]) {
    super(ErrorCode.CONFIG_INVALID, problems.join("\n"), { final: true });
    this.name = "ConfigError";
    this.problems = [...problems];
  }
}
