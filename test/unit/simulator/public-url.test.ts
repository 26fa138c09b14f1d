import assert from "node:assert/strict";
import { test } from "node:test";
import { Agent, request } from "undici";
import { startGraphSimulator } from "../../../tools/simulator/index.js";
import { freePort } from "../../support/processes.js";

test("behind a public URL (a container network), metadata, nextLinks and the certificate use it", async (t) => {
  const port = await freePort();
  const publicUrl = `https://localhost:${port}`;
  const sim = await startGraphSimulator({
    host: "0.0.0.0",
    port,
    publicUrl,
    clientSecret: "s",
    dataStart: new Date(Date.now() - 86_400_000),
    dataEnd: new Date(Date.now() - 60_000),
    callsPerHour: 100,
    pageSize: 10,
  });
  t.after(() => sim.close());
  assert.equal(sim.url, publicUrl);
  const dispatcher = new Agent({ connect: { ca: sim.caCertificatePem } });
  const metadata = await request(`${publicUrl}/${sim.tenantId}/v2.0/.well-known/openid-configuration`, {
    dispatcher,
  });
  const body = (await metadata.body.json()) as { token_endpoint: string };
  assert.equal(body.token_endpoint, `${publicUrl}/${sim.tenantId}/oauth2/v2.0/token`);

  const token = await request(body.token_endpoint, {
    dispatcher,
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `grant_type=client_credentials&client_id=${sim.clientId}&client_secret=s&scope=${encodeURIComponent(`${publicUrl}/.default`)}`,
  });
  const { access_token: accessToken } = (await token.body.json()) as { access_token: string };
  const to = new Date(Date.now() - 60_000).toISOString();
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const page = await request(
    `${publicUrl}/v1.0/communications/callRecords/getPstnCalls(fromDateTime=${from},toDateTime=${to})`,
    { dispatcher, headers: { authorization: `Bearer ${accessToken}` } },
  );
  const json = (await page.body.json()) as Record<string, unknown>;
  const nextLink = Object.entries(json).find(([key]) => key.toLowerCase() === "@odata.nextlink")?.[1];
  assert.match(String(nextLink), new RegExp(`^${publicUrl}/v1\\.0/`));
});
