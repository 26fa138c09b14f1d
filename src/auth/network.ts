import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";
import { type Dispatcher, request } from "undici";

/**
 * msal-node's HTTP through undici, so that token requests share the connector's dispatcher (its
 * timeouts and, for a private endpoint, its trusted CA) with Graph requests.
 */
export class UndiciNetworkModule implements INetworkModule {
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly timeoutMs: number,
  ) {}

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
    const limit = timeout ?? this.timeoutMs;
    const response = await request(url, {
      method,
      dispatcher: this.dispatcher,
      headers: options?.headers,
      body: options?.body,
      headersTimeout: limit,
      bodyTimeout: limit,
    });
    const text = await response.body.text();
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
    return { headers, body: body as T, status: response.statusCode };
  }
}
