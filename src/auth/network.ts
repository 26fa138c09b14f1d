import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";
import { type Dispatcher, request } from "undici";
import { ErrorCode, PstnError } from "../errors.js";

/** The largest token-endpoint or metadata answer read: real ones are a few KiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

export interface AuthorityNetworkOptions {
  dispatcher: Dispatcher;
  timeoutMs: number;
  /** The only origin requests go to: `https://<host>[:<port>]`. */
  origin: string;
  /** When set, the one URL (query aside) a request may go to, and only as a POST. */
  tokenEndpoint?: string;
  maxResponseBytes?: number;
}

/**
 * msal-node's HTTP through undici, so that token requests share the connector's dispatcher (its
 * timeouts and, for a private endpoint, its trusted CA) with Graph requests. It is also where the
 * credentials are kept at home: a request whose URL is not https on the authority's host and port
 * (or, for a pinned cloud, not the token endpoint) is refused before anything is sent, whatever
 * the OpenID metadata says.
 *
 * msal turns any error of its network module into its own `network_error`, so the last refusal or
 * oversized answer is kept for the caller to report ({@link takeFailure}).
 */
export class AuthorityNetworkModule implements INetworkModule {
  private readonly dispatcher: Dispatcher;
  private readonly timeoutMs: number;
  private readonly origin: URL;
  private readonly tokenEndpoint: string | undefined;
  private readonly maxResponseBytes: number;
  private failure: PstnError | undefined;

  constructor(options: AuthorityNetworkOptions) {
    this.dispatcher = options.dispatcher;
    this.timeoutMs = options.timeoutMs;
    this.origin = new URL(options.origin);
    this.tokenEndpoint =
      options.tokenEndpoint === undefined ? undefined : withoutQuery(new URL(options.tokenEndpoint));
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** The refusal or oversized answer behind msal's last failure, once. */
  takeFailure(): PstnError | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return this.send<T>("GET", url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>("POST", url, options);
  }

  private async send<T>(
    method: "GET" | "POST",
    url: string,
    options: NetworkRequestOptions | undefined,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    this.admit(method, url);
    const limit = timeout ?? this.timeoutMs;
    const response = await request(url, {
      method,
      dispatcher: this.dispatcher,
      headers: options?.headers,
      body: options?.body,
      headersTimeout: limit,
      bodyTimeout: limit,
    });
    const text = await this.readBody(response, url);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    let body: unknown = {};
    try {
      body = text === "" ? {} : JSON.parse(text);
    } catch {
      body = { error: "invalid_response", error_description: `non-JSON body (HTTP ${response.statusCode})` };
    }
    this.noteUnknownTenant(method, response.statusCode, body);
    return { headers, body: body as T, status: response.statusCode };
  }

  /**
   * An authority whose metadata msal discovers (any host but Microsoft's clouds) answers a tenant
   * it does not know (AADSTS90002) before any token request: msal reports only that it could not
   * resolve the endpoints, which would be retried for ever. Remembered as final, as the same answer
   * to the token request is.
   */
  private noteUnknownTenant(method: string, status: number, body: unknown): void {
    if (method !== "GET" || status < 400 || status >= 500) return;
    const description = (body as { error_description?: unknown }).error_description;
    if (typeof description !== "string" || !/AADSTS90002/.test(description)) return;
    this.failure = new PstnError(
      ErrorCode.AUTH_FAILED,
      `Entra ID does not know the tenant: ${description.split(/ Trace ID:|\n/)[0]?.slice(0, 300)}`,
      { final: true },
    );
  }

  /** Throws, and remembers, a refusal for any URL the credentials must not go to. */
  private admit(method: "GET" | "POST", text: string): void {
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    const onHost =
      url !== undefined &&
      url.protocol === "https:" &&
      url.hostname === this.origin.hostname &&
      url.port === this.origin.port &&
      url.username === "" &&
      url.password === "";
    const reason = !onHost
      ? `it is not https on the authority host ${this.origin.origin}`
      : this.tokenEndpoint !== undefined &&
          (method !== "POST" || withoutQuery(url as URL) !== this.tokenEndpoint)
        ? `the only request made to this cloud is the POST to its token endpoint ${this.tokenEndpoint}`
        : undefined;
    if (reason === undefined) return;
    this.failure = new PstnError(
      ErrorCode.AUTH_ENDPOINT_REFUSED,
      `refused to send a ${method} request to ${url === undefined ? "an unreadable URL" : withoutQuery(url)}: ${reason}; the client credentials go nowhere else (check AZURE_AUTHORITY_HOST and the authority's OpenID metadata)`,
      { final: true },
    );
    throw this.failure;
  }

  private async readBody(response: Dispatcher.ResponseData, url: string): Promise<string> {
    const tooLarge = (): PstnError => {
      this.failure = new PstnError(
        ErrorCode.AUTH_RESPONSE_TOO_LARGE,
        `the answer of ${withoutQuery(new URL(url))} (HTTP ${response.statusCode}) is larger than ${this.maxResponseBytes} bytes; an authority's answers are a few KiB`,
        { final: true },
      );
      return this.failure;
    };
    const declared = Number(response.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
      response.body.destroy();
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > this.maxResponseBytes) {
        response.body.destroy();
        throw tooLarge();
      }
      chunks.push(buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}

/** A URL as it may appear in a message or be compared: no user info, query or fragment. */
function withoutQuery(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
