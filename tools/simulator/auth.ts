/**
 * The simulated Entra ID: OIDC metadata, instance discovery and the v2.0 token endpoint for the
 * client-credentials grant, with a client secret or a certificate-signed client assertion.
 */
import { constants, randomUUID, verify } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RegisteredCertificate } from "./certificates.js";
import type { SharedContext, SimulatorContext } from "./context.js";
import { header, readBody, sendJson } from "./http.js";
import { CALL_RECORDS_PERMISSION } from "./options.js";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const CLOCK_SKEW_SECONDS = 300;

/** The tenant Entra knows by `tenant` (any case): undefined when it never existed or was removed. */
export function knownTenant(shared: SharedContext, tenant: string): SimulatorContext | undefined {
  const ctx = shared.tenants.get(tenant.toLowerCase());
  return ctx === undefined || ctx.removed ? undefined : ctx;
}

/** Entra's error JSON: `error`, an AADSTS `error_description` with trace lines, codes, ids. */
function entraError(
  ctx: SimulatorContext,
  res: ServerResponse,
  status: number,
  error: string,
  code: number,
  description: string,
  correlationId: string,
): void {
  const timestamp = new Date(ctx.options.now())
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
  const traceId = randomUUID();
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${ctx.url}/error?code=${code}`,
  });
}

export function unknownTenant(ctx: SimulatorContext, res: ServerResponse, tenant: string): void {
  entraError(
    ctx,
    res,
    400,
    "invalid_request",
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    randomUUID(),
  );
}

/** `GET /{tenant}/v2.0/.well-known/openid-configuration` */
export function openIdConfiguration(ctx: SimulatorContext, res: ServerResponse): void {
  const base = `${ctx.url}/${ctx.options.tenantId}`;
  const host = new URL(ctx.url).host;
  sendJson(res, 200, {
    token_endpoint: ctx.options.metadataTokenEndpoint ?? `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${ctx.url}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: [
      "sub",
      "iss",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "acr",
      "nonce",
      "tid",
      "ver",
      "at_hash",
    ],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: "NA",
    cloud_instance_name: host,
    cloud_graph_host_name: host,
    msgraph_host: host,
    rbac_url: ctx.url,
  });
}

/**
 * `GET /common/discovery/instance`: where msal finds the tenant's metadata; the tenant of the
 * `authorization_endpoint` asked about when Entra knows it, else `ctx`'s (the main tenant).
 */
export function instanceDiscovery(ctx: SimulatorContext, res: ServerResponse, url: URL): void {
  const asked = /^https?:\/\/[^/]+\/([^/]+)\/oauth2\/v2\.0\/authorize/i.exec(
    url.searchParams.get("authorization_endpoint") ?? "",
  );
  let tenant: string | undefined;
  try {
    tenant = asked ? decodeURIComponent(asked[1] as string) : undefined;
  } catch {
    tenant = undefined;
  }
  const named = (tenant === undefined ? undefined : knownTenant(ctx.shared, tenant)) ?? ctx;
  sendJson(res, 200, {
    tenant_discovery_endpoint: `${ctx.url}/${named.options.tenantId}/v2.0/.well-known/openid-configuration`,
    "api-version": "1.1",
    metadata: [],
  });
}

/**
 * What a client-credentials request asks for: the Graph resource's `.default`, or (with the option
 * kafkaTokens) the Kafka audience's; `undefined` for anything else.
 */
function requestedResource(ctx: SimulatorContext, scope: string): "graph" | "kafka" | undefined {
  const wanted = scope
    .split(/\s+/)
    .filter((s) => s !== "" && !["openid", "profile", "offline_access"].includes(s));
  if (wanted.length !== 1) return undefined;
  if (ctx.kafkaTokens !== undefined && wanted[0] === ctx.kafkaTokens.scope) return "kafka";
  const resource = (wanted[0] as string).toLowerCase().replace(/\/+\.default$/, "");
  return resource === ctx.url.toLowerCase() || resource === "https://graph.microsoft.com"
    ? "graph"
    : undefined;
}

/** client_secret_basic: the id and secret, each form-encoded, in an `Authorization: Basic` header. */
function basicCredentials(req: IncomingMessage): { id: string; secret: string } | undefined | false {
  const value = header(req, "authorization");
  if (value === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
  if (!match) return false;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  const unform = (text: string) => decodeURIComponent(text.replace(/\+/g, " "));
  try {
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    return false;
  }
}

function base64UrlJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function stripQuery(url: string): string {
  const at = url.indexOf("?");
  return (at < 0 ? url : url.slice(0, at)).toLowerCase();
}

/** Checks a client assertion; returns [AADSTS code, description] of the failure, or undefined. */
export function checkClientAssertion(
  assertion: string,
  certificate: RegisteredCertificate | undefined,
  clientId: string,
  audiences: readonly string[],
  nowMs: number,
): [number, string] | undefined {
  const parts = assertion.split(".");
  const header = parts.length === 3 ? base64UrlJson(parts[0] as string) : undefined;
  const payload = parts.length === 3 ? base64UrlJson(parts[1] as string) : undefined;
  if (!header || !payload) return [50027, "JWT token is invalid or malformed."];
  if (certificate === undefined) {
    return [
      700027,
      "Client assertion failed signature validation: no certificate is registered on the application.",
    ];
  }
  const s256 = header["x5t#S256"];
  const s1 = header.x5t;
  if (s256 === undefined && s1 === undefined) {
    return [700027, "Client assertion contains no x5t or x5t#S256 thumbprint."];
  }
  if (
    (s256 !== undefined && s256 !== certificate.x5tS256) ||
    (s256 === undefined && s1 !== certificate.x5t)
  ) {
    return [
      700027,
      "The certificate with identifier used to sign the client assertion is not registered on application.",
    ];
  }
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2] as string, "base64url");
  const key = certificate.certificate.publicKey;
  let valid: boolean;
  try {
    if (header.alg === "RS256") valid = verify("sha256", data, key, signature);
    else if (header.alg === "PS256") {
      valid = verify(
        "sha256",
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      );
    } else
      return [5002738, `Signing algorithm '${String(header.alg)}' is not supported; use RS256 or PS256.`];
  } catch {
    valid = false;
  }
  if (!valid) return [700027, "Client assertion failed signature validation."];
  if (payload.iss !== clientId || payload.sub !== clientId) {
    return [700021, "Client assertion application identifier doesn't match 'client_id' parameter."];
  }
  const audience = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!audience.some((a) => typeof a === "string" && audiences.includes(stripQuery(a)))) {
    return [
      700212,
      `Client assertion audience claim does not match the token endpoint: ${String(payload.aud)}.`,
    ];
  }
  const nowSeconds = nowMs / 1000;
  if (typeof payload.exp !== "number" || payload.exp <= nowSeconds) {
    return [700024, "Client assertion is not within its valid time range (expired)."];
  }
  if (typeof payload.nbf === "number" && payload.nbf > nowSeconds + CLOCK_SKEW_SECONDS) {
    return [700024, "Client assertion is not within its valid time range (not yet valid)."];
  }
  return undefined;
}

/**
 * `POST /{tenant}/oauth2/v2.0/token`: `ctx` is the tenant's, or (for a tenant Entra does not
 * know, or no longer) the main tenant's, whose stats count the request.
 */
export async function tokenEndpoint(
  ctx: SimulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  tenant: string,
): Promise<void> {
  ctx.stats.tokenRequests++;
  const requestUrl = new URL(req.url ?? "/", ctx.url);
  const correlationId =
    requestUrl.searchParams.get("client-request-id") ?? header(req, "client-request-id") ?? randomUUID();
  const fail = (status: number, error: string, code: number, description: string) =>
    entraError(ctx, res, status, error, code, description, correlationId);

  const form = new URLSearchParams(await readBody(req));
  if (knownTenant(ctx.shared, tenant) !== ctx) {
    unknownTenant(ctx, res, tenant);
    return;
  }
  const grantType = form.get("grant_type");
  if (grantType !== "client_credentials") {
    fail(
      400,
      "unsupported_grant_type",
      70003,
      `The app requested an unsupported grant type '${grantType ?? ""}'.`,
    );
    return;
  }
  const basic = basicCredentials(req);
  if (basic === false) {
    fail(401, "invalid_client", 7000218, "The Authorization header is not valid client_secret_basic.");
    return;
  }
  if (basic !== undefined && (form.has("client_secret") || form.has("client_assertion"))) {
    fail(400, "invalid_request", 90002, "Use one client authentication method, not several.");
    return;
  }
  const clientId = basic?.id ?? form.get("client_id") ?? "";
  const scope = form.get("scope") ?? "";
  const resource = requestedResource(ctx, scope);
  const kafkaClient = resource === "kafka" ? ctx.kafkaTokens?.options.client : undefined;
  const ownKafkaClient =
    kafkaClient !== undefined && clientId.toLowerCase() === kafkaClient.clientId.toLowerCase();
  if (clientId.toLowerCase() !== ctx.options.clientId.toLowerCase() && !ownKafkaClient) {
    fail(
      400,
      "unauthorized_client",
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${ctx.options.tenantId}'.`,
    );
    return;
  }
  if (resource === undefined) {
    fail(
      400,
      "invalid_scope",
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
    return;
  }
  const secret = basic?.secret ?? form.get("client_secret");
  const assertion = form.get("client_assertion");
  const expectedSecret = ownKafkaClient ? kafkaClient?.clientSecret : ctx.options.clientSecret;
  if (secret !== null) {
    if (expectedSecret === undefined || secret !== expectedSecret) {
      fail(
        401,
        "invalid_client",
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${ctx.options.clientId}'.`,
      );
      return;
    }
  } else if (assertion !== null) {
    if (form.get("client_assertion_type") !== JWT_BEARER) {
      fail(400, "invalid_request", 90002, `client_assertion_type must be '${JWT_BEARER}'.`);
      return;
    }
    const tokenUrl = `${ctx.url}/${tenant}/oauth2/v2.0/token`.toLowerCase();
    const canonical = `${ctx.url}/${ctx.options.tenantId}/oauth2/v2.0/token`.toLowerCase();
    const problem = checkClientAssertion(
      assertion,
      ctx.certificate,
      ctx.options.clientId,
      [tokenUrl, canonical],
      ctx.options.now(),
    );
    if (problem) {
      fail(401, "invalid_client", problem[0], problem[1]);
      return;
    }
  } else {
    fail(
      401,
      "invalid_client",
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
    return;
  }
  if (resource === "kafka" && ctx.kafkaTokens !== undefined) {
    const lifetime = ctx.kafkaTokens.options.lifetimeSeconds ?? ctx.options.tokenLifetimeSeconds;
    sendJson(res, 200, {
      token_type: "Bearer",
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: ctx.kafkaTokens.issue(
        ownKafkaClient ? (kafkaClient?.clientId ?? clientId) : ctx.options.clientId,
        lifetime,
      ),
    });
    return;
  }
  const lifetime = ctx.options.tokenLifetimeSeconds;
  // Consent revoked: Entra still issues the app a token, without the role Graph wants.
  const roles = ctx.consentRevoked
    ? ctx.options.grantedPermissions.filter((role) => role !== CALL_RECORDS_PERMISSION)
    : ctx.options.grantedPermissions;
  const accessToken = ctx.tokens.issue(ctx.key, ctx.options.clientId, roles, lifetime);
  ctx.stats.tokensIssued++;
  sendJson(res, 200, {
    token_type: "Bearer",
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: accessToken,
  });
}
