import { request } from "undici";
import { createApp } from "../app.js";
import type { PrivacyOutput } from "../config/index.js";
import { ErrorCode, PstnError } from "../errors.js";
import { createLogger } from "../log.js";
import { type Command, parseCommandArgs } from "./command.js";
import { CONFIG_HELP, CONFIG_OPTION, loadCommandConfig } from "./runtime.js";

const help = `Usage: pstn-connector check [options]

Validates the configuration, then reaches each dependency once: an access token from Entra ID, one
page from Graph (the last minute) for each stream of CONNECTOR_STREAMS, at the API version the
stream reads (sms: beta only), the Kafka cluster, the schema registry. With CONNECTOR_TENANTS_FILE,
the token and Graph lines repeat for each tenant, each naming it. With PRIVACY_POLICY_FILE, a line
per stream names its output topics and what each policy does. Prints one line per check;
exits 0 when all pass, 2 with one line per problem otherwise.

Options:
${CONFIG_HELP}
  -h, --help           this help
`;

interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export const checkCommand: Command = {
  name: "check",
  summary: "validate configuration and reach token, Graph, Kafka and registry",
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, CONFIG_OPTION);
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    if (positionals.length > 0)
      throw new PstnError(ErrorCode.USAGE, `unexpected argument: ${positionals.join(" ")}`);
    const config = loadCommandConfig(values.config);
    const app = createApp(config, { logger: createLogger("silent") });
    const results: CheckResult[] = [];
    const attempt = async (name: string, action: () => Promise<string>) => {
      try {
        results.push({ name, ok: true, detail: await action() });
      } catch (error) {
        results.push({ name, ok: false, detail: (error as Error).message.split("\n")[0] ?? String(error) });
      }
    };
    try {
      // With a tenants file every tenant is checked, each line naming its tenant.
      const fleet = config.tenantsFile !== undefined;
      for (const tenant of app.tenants) {
        const whose = fleet ? ` ${tenant.tenant.tenantId}` : "";
        await attempt(`token${whose}`, async () => {
          await tenant.tokens.getToken();
          return `access token for ${config.graph.scope} from ${config.azure.authorityHost}`;
        });
        for (const source of tenant.sources) {
          const { stream } = source.unit;
          await attempt(`graph${fleet ? `${whose}/` : " "}${stream.name}`, async () => {
            const to = new Date();
            const from = new Date(to.getTime() - 60_000);
            const { graph } = source;
            const page = await graph.getPage(graph.functionUrl(stream.function, from, to));
            const version =
              graph.apiVersion === config.graph.apiVersion
                ? ""
                : ` (${stream.function} exists only in ${stream.apiVersions.join(" and ")}: read there whatever GRAPH_API_VERSION says)`;
            return `${config.graph.endpoint}/${graph.apiVersion} ${stream.function} answered (${page.rows.length} rows in the last minute)${version}`;
          });
        }
      }
      await attempt("kafka", async () => {
        const { brokers } = await app.sink.describeCluster();
        return `${brokers} broker(s) at ${config.kafka.brokers.join(",")}`;
      });
      await attempt("registry", async () => {
        const headers: Record<string, string> = {};
        if (config.schemaRegistry.username) {
          const basic = Buffer.from(
            `${config.schemaRegistry.username}:${config.schemaRegistry.password ?? ""}`,
          );
          headers.authorization = `Basic ${basic.toString("base64")}`;
        }
        const response = await request(`${config.schemaRegistry.url}/subjects`, {
          headers,
          headersTimeout: 10_000,
        });
        await response.body.dump();
        if (response.statusCode !== 200)
          throw new Error(`GET /subjects answered HTTP ${response.statusCode}`);
        return `schema registry at ${config.schemaRegistry.url}`;
      });
    } finally {
      await app.close();
    }
    // What each topic will see of a row: checked when the configuration loaded, shown here.
    for (const [stream, outputs] of Object.entries(config.privacy?.outputs ?? {}))
      results.push({ name: `privacy ${stream}`, ok: true, detail: describeOutputs(outputs ?? []) });
    for (const result of results) {
      const line = `${result.ok ? "ok  " : "FAIL"} ${result.name}: ${result.detail}\n`;
      (result.ok ? process.stdout : process.stderr).write(line);
    }
    return results.every((result) => result.ok) ? 0 : 2;
  },
};

/** `topic (as Graph sends it), topic (hash 2, drop 3; key k1)`: an output's actions, counted. */
function describeOutputs(outputs: readonly PrivacyOutput[]): string {
  return outputs
    .map(({ topic, policy, keyId }) => {
      const counts = new Map<string, number>();
      for (const [, action] of policy.changes)
        counts.set(action.action, (counts.get(action.action) ?? 0) + 1);
      const actions = [...counts].map(([action, count]) => `${action} ${count}`).join(", ");
      if (actions === "") return `${topic} (as Graph sends it)`;
      return `${topic} (${actions}${keyId === undefined ? "" : `; key ${keyId}`})`;
    })
    .join(", ");
}
