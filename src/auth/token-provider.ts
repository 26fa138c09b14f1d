import {
  type AuthenticationResult,
  ConfidentialClientApplication,
  type Configuration,
  LogLevel,
} from "@azure/msal-node";
import type { Dispatcher } from "undici";
import { ErrorCode, PstnError } from "../errors.js";
import type { Metrics } from "../metrics/index.js";
import { planAuthority } from "./authority.js";
import { loadClientCertificate } from "./certificate.js";
import { AuthorityNetworkModule } from "./network.js";

export interface TokenSource {
  /** A bearer token for Graph, from the cache while it has more than a few minutes to live. */
  getToken(): Promise<string>;
  /** Graph rejected this token before its expiry: the next getToken fetches a fresh one. */
  invalidate(token: string): void;
}

export interface MsalTokenSourceOptions {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  clientCertificatePath?: string;
  authorityHost: string;
  scope: string;
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** Largest answer read from the authority; default 1 MiB. */
  maxResponseBytes?: number;
  metrics?: Metrics;
  /** The tenant label of its token metrics, when several tenants share the process. */
  metricsTenant?: string;
  now?: () => number;
}

const REFRESH_MARGIN_MS = 5 * 60_000;

/** OAuth2 client credentials (secret or certificate) through msal-node. */
export class MsalTokenSource implements TokenSource {
  /** Made at the first token request: a replica holds every tenant of the file, reads only some. */
  private app: ConfidentialClientApplication | undefined;
  private readonly auth: Configuration["auth"];
  private readonly network: AuthorityNetworkModule;
  private readonly scope: string;
  private readonly metrics: Metrics | undefined;
  private readonly tenantLabel: { tenant?: string };
  private readonly now: () => number;
  private readonly describe: string;
  private current: { token: string; expiresAt: number } | undefined;
  private inFlight: Promise<string> | undefined;
  private forceRefresh = false;

  constructor(options: MsalTokenSourceOptions) {
    const plan = planAuthority(options.authorityHost, options.tenantId);
    const auth: Configuration["auth"] = { clientId: options.clientId, ...plan.msal };
    if (options.clientSecret !== undefined) {
      auth.clientSecret = options.clientSecret;
    } else if (options.clientCertificatePath !== undefined) {
      auth.clientCertificate = loadClientCertificate(options.clientCertificatePath);
    } else {
      throw new PstnError(
        ErrorCode.CONFIG_INVALID,
        "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH is required",
        { final: true },
      );
    }
    // The secret and the certificate's assertions leave only through this module.
    this.network = new AuthorityNetworkModule({
      dispatcher: options.dispatcher,
      timeoutMs: options.timeoutMs,
      origin: plan.origin,
      tokenEndpoint: plan.tokenEndpoint,
      maxResponseBytes: options.maxResponseBytes,
    });
    this.auth = auth;
    this.scope = options.scope;
    this.metrics = options.metrics;
    this.tenantLabel = options.metricsTenant === undefined ? {} : { tenant: options.metricsTenant };
    this.now = options.now ?? Date.now;
    this.describe = `app ${options.clientId} in tenant ${options.tenantId}`;
  }

  getToken(): Promise<string> {
    const current = this.current;
    if (current && !this.forceRefresh && current.expiresAt - REFRESH_MARGIN_MS > this.now()) {
      return Promise.resolve(current.token);
    }
    this.inFlight ??= this.acquire().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  invalidate(token: string): void {
    if (this.current?.token === token) {
      this.current = undefined;
      this.forceRefresh = true;
    }
  }

  private async acquire(): Promise<string> {
    let result: AuthenticationResult | null;
    this.network.takeFailure();
    try {
      this.app ??= new ConfidentialClientApplication({
        auth: this.auth,
        system: {
          networkClient: this.network,
          loggerOptions: {
            logLevel: LogLevel.Error,
            piiLoggingEnabled: false,
            loggerCallback: () => undefined,
          },
        },
      });
      result = await this.app.acquireTokenByClientCredential({
        scopes: [this.scope],
        skipCache: this.forceRefresh,
      });
    } catch (error) {
      // msal reports what the network module refused as its own network_error: the module's own
      // error says what happened, and it is final (the same metadata would be refused again).
      const failure = this.network.takeFailure();
      const refused = failure?.code === ErrorCode.AUTH_ENDPOINT_REFUSED;
      this.metrics?.tokenRequests.inc({ ...this.tenantLabel, outcome: refused ? "refused" : "error" });
      if (failure !== undefined) {
        throw new PstnError(failure.code, `${failure.message} (${this.describe})`, {
          cause: error,
          final: failure.final,
        });
      }
      throw tokenError(error, this.describe);
    }
    if (!result?.accessToken) {
      this.metrics?.tokenRequests.inc({ ...this.tenantLabel, outcome: "error" });
      throw new PstnError(ErrorCode.AUTH_FAILED, `Entra ID returned no access token for ${this.describe}`, {
        retriable: true,
      });
    }
    this.metrics?.tokenRequests.inc({ ...this.tenantLabel, outcome: result.fromCache ? "cache" : "issued" });
    this.forceRefresh = false;
    this.current = {
      token: result.accessToken,
      expiresAt: result.expiresOn?.getTime() ?? this.now() + 3_600_000,
    };
    return result.accessToken;
  }
}

/** Credential and configuration errors are final; anything that looks like the network is retried. */
function tokenError(error: unknown, describe: string): PstnError {
  const details = error as { errorCode?: string; errorMessage?: string; message?: string; status?: number };
  const code = details.errorCode ?? "";
  const text = (details.errorMessage || details.message || String(error)).split("\n")[0]?.slice(0, 300) ?? "";
  const final =
    ["invalid_client", "unauthorized_client", "invalid_request", "invalid_scope", "invalid_grant"].includes(
      code,
    ) || /AADSTS(7000215|700016|90002|700027|7000222|500011)/.test(text);
  if (final) {
    return new PstnError(ErrorCode.AUTH_FAILED, `Entra ID refused the credentials of ${describe}: ${text}`, {
      cause: error,
      final: true,
    });
  }
  return new PstnError(ErrorCode.AUTH_FAILED, `could not get a token for ${describe}: ${code || text}`, {
    cause: error,
    retriable: true,
  });
}
