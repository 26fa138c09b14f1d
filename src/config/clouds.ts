import type { GraphCloud } from "./types.js";

/** Microsoft's national clouds: the Entra ID authority host and the Graph endpoint of each. */
export const NATIONAL_CLOUDS: Readonly<
  Record<
    GraphCloud,
    { readonly label: string; readonly authorityHost: string; readonly graphEndpoint: string }
  >
> = {
  global: {
    label: "Global",
    authorityHost: "https://login.microsoftonline.com",
    graphEndpoint: "https://graph.microsoft.com",
  },
  usgov: {
    label: "US Government L4",
    authorityHost: "https://login.microsoftonline.us",
    graphEndpoint: "https://graph.microsoft.us",
  },
  dod: {
    label: "US Government L5 (DoD)",
    authorityHost: "https://login.microsoftonline.us",
    graphEndpoint: "https://dod-graph.microsoft.us",
  },
  china: {
    label: "China (21Vianet)",
    authorityHost: "https://login.chinacloudapi.cn",
    graphEndpoint: "https://microsoftgraph.chinacloudapi.cn",
  },
};

/**
 * Entra ID hosts of Microsoft's clouds. For these the connector knows the token endpoint
 * (`https://<host>/<tenant>/oauth2/v2.0/token`) and gives msal the metadata itself, so no answer
 * from the network can move the credentials elsewhere. `login.partner.microsoftonline.cn` is the
 * China cloud's other name.
 */
export const MICROSOFT_AUTHORITY_HOSTS: readonly string[] = [
  ...new Set([
    ...Object.values(NATIONAL_CLOUDS).map((cloud) => new URL(cloud.authorityHost).host),
    "login.partner.microsoftonline.cn",
  ]),
];
