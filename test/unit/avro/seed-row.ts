/**
 * The example row of Graph's getPstnCalls page (beta), as the connector hands it to the codec: the
 * body is parsed keeping the source text of charge and connectionCharge ("0.00", not the number 0).
 */
export const SEED_ROW: Readonly<Record<string, unknown>> = Object.freeze({
  id: "9c4984c7-6c3c-427d-a30c-bd0b2eacee90",
  callId: "1835317186_112562680@61.221.3.176",
  userId: "db03c14b-06eb-4189-939b-7cbf3a20ba27",
  userPrincipalName: "richard.malk@contoso.com",
  userDisplayName: "Richard Malk",
  startDateTime: "2019-11-01T00:00:08.2589935Z",
  endDateTime: "2019-11-01T00:03:47.2589935Z",
  duration: 219,
  charge: "0.00",
  callType: "user_in",
  currency: "USD",
  calleeNumber: "+1234567890",
  usageCountryCode: "US",
  tenantCountryCode: "US",
  connectionCharge: "0.00",
  callerNumber: "+0123456789",
  destinationContext: null,
  destinationName: "United States",
  conferenceId: null,
  licenseCapability: "MCOPSTNU",
  inventoryType: "Subscriber",
  operator: "Microsoft",
  callDurationSource: "microsoft",
  otherPartyCountryCode: "US",
  clientPublicIpV4Address: "99.76.33.16",
  clientPublicIpV6Address: "1234:fd2:5621:1:89::4500",
  clientLocalIpV4Address: "192.168.1.165",
  clientLocalIpV6Address: "2600:1700:1dca:8110::40",
  administrativeUnitInfos: [
    { id: "639b616c-f164-4a6f-a933-24936b8eb210" },
    { id: "cc6ea167-4e92-4c2d-9391-85791e978006" },
  ],
});

/** A copy that a test may change. */
export function seedRow(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...structuredClone(SEED_ROW), ...changes };
}
