/**
 * Where the credentials may go. For Microsoft's clouds the token endpoint is fixed here and msal is
 * given the metadata it would otherwise discover; for any other authority host (a proxy, the
 * simulator) msal discovers the endpoints, and the network module sends nothing off that host.
 */
import type { NodeAuthOptions } from "@azure/msal-node";
import { MICROSOFT_AUTHORITY_HOSTS } from "../config/clouds.js";

export interface AuthorityPlan {
  /** msal's `authority`: `<authority host>/<tenant>`. */
  authority: string;
  /** The only origin requests may go to: `https://<host>[:<port>]`. */
  origin: string;
  /** Set for Microsoft's clouds: the one URL (without query) a request may go to, a POST. */
  tokenEndpoint: string | undefined;
  /** The authority options for msal: the metadata for a pinned cloud, known authorities otherwise. */
  msal: Pick<
    NodeAuthOptions,
    "authority" | "authorityMetadata" | "cloudDiscoveryMetadata" | "knownAuthorities"
  >;
}

/** `authorityHost` is an https URL without a trailing slash (the configuration checks it). */
export function planAuthority(authorityHost: string, tenantId: string): AuthorityPlan {
  const url = new URL(authorityHost);
  const authority = `${authorityHost}/${tenantId}`;
  const pinned = url.pathname === "/" && url.port === "" && MICROSOFT_AUTHORITY_HOSTS.includes(url.host);
  if (!pinned) {
    return {
      authority,
      origin: url.origin,
      tokenEndpoint: undefined,
      // msal would validate an unknown host through Microsoft's instance discovery, which a private
      // network cannot reach; the host is declared instead and only its OpenID metadata is read.
      msal: { authority, knownAuthorities: [url.host] },
    };
  }
  const base = `https://${url.host}/${tenantId}`;
  const tokenEndpoint = `${base}/oauth2/v2.0/token`;
  const openIdConfiguration = {
    token_endpoint: tokenEndpoint,
    issuer: `${base}/v2.0`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    jwks_uri: `${base}/discovery/v2.0/keys`,
  };
  // The instance discovery answer for this host alone: msal keeps the host as given instead of
  // switching to a "preferred network" alias.
  const instanceDiscovery = {
    tenant_discovery_endpoint: `${base}/v2.0/.well-known/openid-configuration`,
    "api-version": "1.1",
    metadata: [{ preferred_network: url.host, preferred_cache: url.host, aliases: [url.host] }],
  };
  return {
    authority,
    origin: url.origin,
    tokenEndpoint,
    msal: {
      authority,
      authorityMetadata: JSON.stringify(openIdConfiguration),
      cloudDiscoveryMetadata: JSON.stringify(instanceDiscovery),
    },
  };
}
