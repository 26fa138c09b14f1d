/**
 * Tokens for SASL OAUTHBEARER: Entra ID through msal (Azure Event Hubs; the same client as Graph's
 * tokens, another scope), or any OAuth2 token endpoint by a client_credentials POST (Confluent Cloud
 * with an identity provider, Keycloak, Okta, ...).
 */
import type { Dispatcher } from "undici";
import { request } from "undici";
import { MsalTokenSource, type TokenSource } from "../auth/token-provider.js";
import type { KafkaOAuthBearer, OAuthClientAuthMethod } from "../config/types.js";
import { ErrorCode, PstnError } from "../errors.js";

export interface KafkaTokenSourceOptions {
  /** Trusts what the token requests need (the connector's dispatcher). */
  dispatcher: Dispatcher;
  timeoutMs: number;
  now?: () => number;
}

/** The token source the configuration names. */
export function kafkaTokenSource(oauth: KafkaOAuthBearer, options: KafkaTokenSourceOptions): TokenSource {
  const endpoint = oauth.tokenEndpoint;
  if (endpoint.kind === "entra") {
    return new MsalTokenSource({
      tenantId: endpoint.tenantId,
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      clientCertificatePath: oauth.clientCertificatePath,
      authorityHost: endpoint.authorityHost,
      scope: oauth.scope,
      dispatcher: options.dispatcher,
      timeoutMs: options.timeoutMs,
      now: options.now,
    });
  }
  if (oauth.clientSecret === undefined) {
    throw new PstnError(ErrorCode.CONFIG_INVALID, "KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET is required", {
      final: true,
    });
  }
  return new ClientCredentialsTokenSource({
    url: endpoint.url,
    clientId: oauth.clientId,
    clientSecret: oauth.clientSecret,
    scope: oauth.scope,
    authMethod: oauth.clientAuthMethod,
    ...options,
  });
}

export interface ClientCredentialsOptions extends KafkaTokenSourceOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  authMethod: OAuthClientAuthMethod;
  /** Largest token response read; default 1 MiB. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
/** Without `expires_in`, a token is reused this long. */
const DEFAULT_LIFETIME_MS = 5 * 60_000;
const MAX_REFRESH_MARGIN_MS = 5 * 60_000;
/** RFC 6750 b64token; it also keeps SOH and spaces, which frame the SASL message, out of the token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const FINAL_ERRORS = new Set([
  "invalid_client",
  "unauthorized_client",
  "invalid_scope",
  "invalid_grant",
  "invalid_request",
  "unsupported_grant_type",
]);

/**
 * OAuth2 client credentials (RFC 6749 4.4) against one https token endpoint. Redirects are not
 * followed, so the secret goes to the configured URL only; the answer is read up to a bound; the
 * token is reused until shortly before it expires.
 */
export class ClientCredentialsTokenSource implements TokenSource {
  private readonly url: URL;
  private readonly now: () => number;
  private current: { token: string; refreshAt: number } | undefined;
  private inFlight: Promise<string> | undefined;

  constructor(private readonly options: ClientCredentialsOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== "https:") {
      throw new PstnError(
        ErrorCode.CONFIG_INVALID,
        "KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL must be https: the client secret travels to it",
        { final: true },
      );
    }
    this.now = options.now ?? Date.now;
  }

  getToken(): Promise<string> {
    const current = this.current;
    if (current !== undefined && current.refreshAt > this.now()) return Promise.resolve(current.token);
    this.inFlight ??= this.acquire().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  invalidate(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  private async acquire(): Promise<string> {
    const { clientId, clientSecret, scope, authMethod } = this.options;
    const form = new URLSearchParams({ grant_type: "client_credentials", scope });
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    if (authMethod === "client_secret_basic") {
      // RFC 6749 2.3.1: each part form-encoded before base64.
      const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
    } else {
      form.set("client_id", clientId);
      form.set("client_secret", clientSecret);
    }
    const where = `the token endpoint ${this.url.origin}${this.url.pathname}`;
    const started = this.now();
    let status: number;
    let text: string;
    try {
      const response = await request(this.url, {
        method: "POST",
        dispatcher: this.options.dispatcher,
        headers,
        body: form.toString(),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      status = response.statusCode;
      text = await readBounded(response, this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, where);
    } catch (error) {
      if (error instanceof PstnError) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
      throw new PstnError(
        ErrorCode.KAFKA_AUTH_FAILED,
        `could not reach ${where} for a Kafka token: ${code}`,
        {
          cause: error,
          retriable: true,
        },
      );
    }
    const body = parseJson(text);
    if (status >= 300 && status < 400) {
      throw new PstnError(
        ErrorCode.KAFKA_AUTH_FAILED,
        `${where} answered ${status} (a redirect); redirects are not followed, so that the client secret goes nowhere else: set KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL to the final URL`,
        { statusCode: status },
      );
    }
    if (status !== 200) {
      const error = typeof body?.error === "string" ? body.error : "";
      const description =
        typeof body?.error_description === "string" ? `: ${oneLine(body.error_description)}` : "";
      const final = FINAL_ERRORS.has(error) || status === 401 || status === 403;
      throw new PstnError(
        ErrorCode.KAFKA_AUTH_FAILED,
        `${where} refused a Kafka token for client ${clientId} (HTTP ${status}${error ? ` ${error}` : ""})${description}`,
        { statusCode: status, retriable: !final && (status >= 500 || status === 429 || status === 408) },
      );
    }
    const token = body?.access_token;
    if (typeof token !== "string" || !B64TOKEN.test(token)) {
      throw new PstnError(
        ErrorCode.KAFKA_AUTH_FAILED,
        `${where} answered 200 without a usable access_token`,
        {
          retriable: true,
        },
      );
    }
    const type = body?.token_type;
    if (type !== undefined && (typeof type !== "string" || type.toLowerCase() !== "bearer")) {
      throw new PstnError(
        ErrorCode.KAFKA_AUTH_FAILED,
        `${where} issued a token of type ${JSON.stringify(String(type)).slice(0, 40)}, not Bearer`,
      );
    }
    const expiresIn = Number(body?.expires_in);
    const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : DEFAULT_LIFETIME_MS;
    // Fetched again once 80% of its life has passed, and at least a few minutes before expiry.
    const margin = Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs * 0.2);
    this.current = { token, refreshAt: started + lifetimeMs - margin };
    return token;
  }
}

async function readBounded(response: Dispatcher.ResponseData, limit: number, where: string): Promise<string> {
  const declared = Number(response.headers["content-length"]);
  const tooLarge = () =>
    new PstnError(
      ErrorCode.KAFKA_AUTH_FAILED,
      `${where} answered more than ${limit} bytes; not a token response`,
      {
        retriable: true,
      },
    );
  if (Number.isFinite(declared) && declared > limit) {
    response.body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      response.body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function formEncode(text: string): string {
  return new URLSearchParams({ v: text }).toString().slice(2);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").slice(0, 300);
}
