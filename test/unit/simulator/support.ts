/** Helpers for the simulator's tests: a trusting undici agent, tokens, Graph GETs and paging. */
import type { TestContext } from "node:test";
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from "@azure/msal-node";
import { Agent, request } from "undici";
import {
  type GraphSimulator,
  type SimulatorOptions,
  startGraphSimulator,
} from "../../../tools/simulator/index.js";

export const SECRET = "test-secret-value";
export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export interface Harness {
  sim: GraphSimulator;
  agent: Agent;
}

/** Starts a simulator (secret SECRET unless given) and an agent trusting it; both closed after the test. */
export async function harness(t: TestContext, options: SimulatorOptions): Promise<Harness> {
  const sim = await startGraphSimulator({ clientSecret: SECRET, ...options });
  const agent = new Agent({ connect: { ca: sim.caCertificatePem } });
  t.after(async () => {
    await agent.close();
    await sim.close();
  });
  return { sim, agent };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

export async function call(
  h: Harness,
  url: string,
  init: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const response = await request(url, {
    dispatcher: h.agent,
    method: init.method ?? "GET",
    headers: init.headers,
    body: init.body,
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

export function tokenUrl(sim: GraphSimulator): string {
  return `${sim.url}/${sim.tenantId}/oauth2/v2.0/token`;
}

export function postForm(h: Harness, url: string, form: Record<string, string>): Promise<Reply> {
  return call(h, url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
}

/** A token by client secret. */
export async function token(h: Harness): Promise<string> {
  const reply = await postForm(h, tokenUrl(h.sim), {
    grant_type: "client_credentials",
    client_id: h.sim.clientId,
    client_secret: SECRET,
    scope: `${h.sim.url}/.default`,
  });
  if (reply.status !== 200) throw new Error(`token: ${reply.status} ${reply.text}`);
  return reply.json().access_token as string;
}

export function pstnUrl(sim: GraphSimulator, from: string, to: string, version = "beta"): string {
  return `${sim.url}/${version}/communications/callRecords/getPstnCalls(fromDateTime=${from},toDateTime=${to})`;
}

/** The URL of any call-log function (getPstnCalls, getDirectRoutingCalls, getSmsLog). */
export function functionUrl(
  sim: GraphSimulator,
  name: string,
  from: string,
  to: string,
  version = "beta",
): string {
  return `${sim.url}/${version}/communications/callRecords/${name}(fromDateTime=${from},toDateTime=${to})`;
}

export function graphGet(h: Harness, url: string, bearer: string): Promise<Reply> {
  return call(h, url, { headers: { authorization: `Bearer ${bearer}` } });
}

/** The nextLink of a page, whatever the spelling of its key; and which key it was. */
export function nextLinkOf(body: Record<string, unknown>): { key: string; link: string } | undefined {
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === "@odata.nextlink" && typeof value === "string") return { key, link: value };
  }
  return undefined;
}

export interface Pass {
  rows: Record<string, unknown>[];
  pages: Record<string, unknown>[];
  keys: string[];
  texts: string[];
}

/** Reads a range page by page, following nextLink as given. */
export async function readAll(h: Harness, url: string, bearer: string): Promise<Pass> {
  const pass: Pass = { rows: [], pages: [], keys: [], texts: [] };
  let next: string | undefined = url;
  while (next !== undefined) {
    const reply = await graphGet(h, next, bearer);
    if (reply.status !== 200) throw new Error(`page ${pass.pages.length}: ${reply.status} ${reply.text}`);
    const body = reply.json();
    pass.pages.push(body);
    pass.texts.push(reply.text);
    pass.rows.push(...(body.value as Record<string, unknown>[]));
    const found = nextLinkOf(body);
    if (found) pass.keys.push(found.key);
    next = found?.link;
  }
  return pass;
}

/** A clock the test moves by hand. */
export function manualClock(startMs: number): {
  now: () => number;
  set: (ms: number) => void;
  advance: (ms: number) => void;
} {
  let current = startMs;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
}

/** msal-node's HTTP through undici with the simulator's CA. */
export function networkModule(agent: Agent): INetworkModule {
  const send = async <T>(method: "GET" | "POST", url: string, options?: NetworkRequestOptions) => {
    const response = await request(url, {
      method,
      dispatcher: agent,
      headers: options?.headers,
      body: options?.body,
    });
    const text = await response.body.text();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers))
      if (typeof value === "string") headers[name] = value;
    return { headers, body: JSON.parse(text) as T, status: response.statusCode } satisfies NetworkResponse<T>;
  };
  return {
    sendGetRequestAsync: (url, options) => send("GET", url, options),
    sendPostRequestAsync: (url, options) => send("POST", url, options),
  };
}
