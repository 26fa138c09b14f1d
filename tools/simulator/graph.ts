/**
 * The simulated Graph endpoint: `/{v1.0|beta}/communications/callRecords/<function>(...)` for each
 * call-log stream (getPstnCalls, getDirectRoutingCalls, and getSmsLog on beta only), with Graph's
 * authentication, validation, paging and error shapes, and the request faults. Every function goes
 * through the same checks in the same order, so one app's throttle budget counts them all.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SharedContext, SimulatorContext } from "./context.js";
import { deliver, later, type Outgoing } from "./delivery.js";
import {
  bodyFault,
  checkBudget,
  drawRequest,
  type FaultResponse,
  isNotJsonRange,
  type LoggedRequest,
  latencyMs,
  maybeRevokeTokens,
  NOT_JSON_BODY,
  noteArrival,
  type RequestDraws,
  randomFault,
  retryAfterHeader,
  retryAfterInstant,
} from "./faults.js";
import {
  deepRow,
  type HostileOptions,
  hostileFor,
  hostileLink,
  streamOversized,
  streamRows,
} from "./hostile.js";
import { GRAPH_CONTENT_TYPE, header } from "./http.js";
import { CALL_RECORDS_PERMISSION } from "./options.js";
import {
  type SimulatedStream,
  STREAM_NAMES,
  STREAMS,
  type StreamName,
  type StreamRows,
  servesVersion,
  streamOfFunction,
} from "./streams.js";
import { DAY_MS, type Instant, parseInstant } from "./time.js";

const MAX_RANGE_MS = 90 * DAY_MS;
const FUNCTION_PATH = new RegExp(
  `^/(v1\\.0|beta)/communications/callRecords/(?:microsoft\\.graph\\.callRecords\\.)?(${STREAM_NAMES.map((name) => STREAMS[name].functionName).join("|")})\\((.*)\\)$`,
  "i",
);

interface GraphReply {
  status: number;
  body: string;
  headers: Record<string, string>;
  /** Rows in a page; 0 in an error. */
  rows: number;
  /** A hostile answer written as the client reads it, instead of `body`. */
  stream?: (res: ServerResponse, headers: Record<string, string>) => void;
}

/** How a hostile page differs from the one the data gives. */
interface PageShape {
  nextLink?: (natural: string | undefined) => string | undefined;
  firstRow?: string;
}

interface RequestInfo {
  requestId: string;
  clientRequestId: string;
  /** When the request arrived (on the simulator's clock). */
  now: number;
  /** When the answer leaves, after the configured latency: what Retry-After counts from. */
  sentAt: number;
}

function graphError(info: RequestInfo, status: number, code: string, message: string): GraphReply {
  const date = new Date(info.now).toISOString().replace(/\.\d+Z$/, "Z");
  const body = JSON.stringify({
    error: {
      code,
      message,
      innerError: { date, "request-id": info.requestId, "client-request-id": info.clientRequestId },
    },
  });
  return { status, body, headers: {}, rows: 0 };
}

function faultReply(
  ctx: SimulatorContext,
  info: RequestInfo,
  client: string,
  fault: FaultResponse,
): GraphReply {
  const reply = graphError(info, fault.status, fault.code, fault.message);
  if (fault.retryAfterSeconds !== undefined) {
    reply.headers["Retry-After"] = retryAfterHeader(ctx, client, fault.retryAfterSeconds, info.sentAt);
  }
  return reply;
}

const UNAUTHORIZED_MESSAGES = {
  missing: "Access token is empty.",
  malformed: "Access token validation failure. Invalid audience.",
  unknown: "Access token validation failure.",
  revoked: "Access token has been revoked or is no longer valid.",
  expired: "Lifetime validation failed, the token is expired.",
} as const;

interface FunctionCall {
  version: string;
  /** The function's name as the request spells it (its links repeat it). */
  name: string;
  stream: SimulatedStream<StreamRows[StreamName]>;
  fromText: string;
  toText: string;
  from: Instant;
  to: Instant;
  skip: number;
}

/** Parses the function call in the path; a string is the 400's message. */
function parseCall(rawPath: string, search: URLSearchParams): FunctionCall | string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return "The request URI is not valid.";
  }
  const match = FUNCTION_PATH.exec(path);
  if (!match) return undefined;
  const [, version, name, args] = match as unknown as [string, string, string, string];
  const stream = streamOfFunction(name);
  // A version without the function (getSmsLog on v1.0) knows the segment no more than any other.
  if (stream === undefined || !servesVersion(stream, version)) return undefined;
  const values = new Map<string, string>();
  for (const part of args.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return `Invalid function parameter '${part}'.`;
    const key = part.slice(0, eq).trim().toLowerCase();
    const canonical = key === "from" ? "fromdatetime" : key === "to" ? "todatetime" : key;
    values.set(canonical, part.slice(eq + 1).trim());
  }
  const fromText = values.get("fromdatetime");
  const toText = values.get("todatetime");
  if (fromText === undefined || toText === undefined) {
    return `The function '${name}' requires the parameters fromDateTime and toDateTime.`;
  }
  const from = parseInstant(fromText);
  if (!from) return `Invalid value '${fromText}' for parameter fromDateTime: not a DateTimeOffset.`;
  const to = parseInstant(toText);
  if (!to) return `Invalid value '${toText}' for parameter toDateTime: not a DateTimeOffset.`;
  if (from.ms > to.ms || (from.ms === to.ms && from.sub > to.sub)) {
    return "fromDateTime must be earlier than or equal to toDateTime.";
  }
  if (to.ms - from.ms + (to.sub - from.sub) / 10_000 > MAX_RANGE_MS) {
    return "The date range between fromDateTime and toDateTime cannot be more than 90 days.";
  }
  const skipText = search.get("$skip");
  let skip = 0;
  if (skipText !== null) {
    if (!/^\d{1,9}$/.test(skipText))
      return `Invalid value '${skipText}' for $skip: a non-negative integer is expected.`;
    skip = Number(skipText);
  }
  return { version, name, stream, fromText, toText, from, to, skip };
}

function page(ctx: SimulatorContext, call: FunctionCall, info: RequestInfo): GraphReply {
  const { options } = ctx;
  if (isNotJsonRange(ctx, call.from.ms, call.to.ms)) {
    return { status: 200, body: NOT_JSON_BODY, headers: {}, rows: 0 };
  }
  const settled =
    options.cachePages &&
    options.live === undefined &&
    info.now >= options.dataEndMs + options.visibilityDelayMs.max;
  if (!settled) return renderPage(ctx, call, info);
  const key = `${call.version}|${call.name}|${call.fromText}|${call.toText}|${call.skip}`;
  let cached = ctx.pageCache.get(key);
  if (cached) ctx.stats.pagesFromCache++;
  else {
    const rendered = renderPage(ctx, call, info);
    cached = { body: rendered.body, rows: rendered.rows };
    ctx.pageCache.set(key, cached);
  }
  return { status: 200, body: cached.body, headers: {}, rows: cached.rows };
}

function contextUrl(ctx: SimulatorContext, call: FunctionCall): string {
  return `${ctx.url}/${call.version}/$metadata#Collection(microsoft.graph.callRecords.${call.stream.rowType})`;
}

/** The link to the page at `skip`, in the form Graph's documentation shows. */
function skipLink(ctx: SimulatorContext, call: FunctionCall, skip: number): string {
  return `${ctx.url}/${call.version}/communications/callRecords/${call.name}(from=${call.fromText},to=${call.toText})?$skip=${skip}`;
}

function renderPage(
  ctx: SimulatorContext,
  call: FunctionCall,
  info: RequestInfo,
  shape: PageShape = {},
): GraphReply {
  const beta = call.version.toLowerCase() === "beta";
  const context = contextUrl(ctx, call);
  const pageSize = ctx.options.pageSize;
  const result = ctx.stores[call.stream.name].page(call.from, call.to, call.skip, pageSize, info.now, beta);
  let next = "";
  const natural = result.more ? skipLink(ctx, call, call.skip + result.rows.length) : undefined;
  const link = shape.nextLink ? shape.nextLink(natural) : natural;
  if (link !== undefined) {
    // Graph has spelled the key both ways; clients must read it without regard to case.
    const key =
      (ctx.options.seed + Math.floor(call.skip / pageSize)) % 2 === 0 ? "@odata.nextLink" : "@odata.NextLink";
    next = `,"${key}":${JSON.stringify(link)}`;
  }
  const rows = shape.firstRow === undefined ? result.rows : [shape.firstRow, ...result.rows];
  const body = `{"@odata.context":${JSON.stringify(context)},"@odata.count":${rows.length}${next},"value":[${rows.join(",")}]}`;
  return { status: 200, body, headers: {}, rows: rows.length };
}

/** The answer a hostile Graph gives instead of the page. */
function hostilePage(
  ctx: SimulatorContext,
  req: IncomingMessage,
  call: FunctionCall,
  info: RequestInfo,
  hostile: HostileOptions,
): GraphReply {
  const oversized = hostile.oversized;
  if (oversized !== undefined) {
    return {
      status: 200,
      body: "",
      headers: {},
      rows: 0,
      stream: (res, h) => streamOversized(ctx, res, oversized, h),
    };
  }
  const count = hostile.rows;
  if (count !== undefined) {
    const page = {
      context: contextUrl(ctx, call),
      startField: call.stream.startField,
      start: call.fromText,
      contentType: GRAPH_CONTENT_TYPE,
    };
    return {
      status: 200,
      body: "",
      headers: {},
      rows: 0,
      stream: (res, h) => streamRows(ctx, res, count, page, h),
    };
  }
  return renderPage(ctx, call, info, {
    nextLink: (natural) =>
      hostileLink(hostile, {
        natural,
        self: `${ctx.url}${req.url ?? ""}`,
        following: skipLink(ctx, call, call.skip + ctx.options.pageSize),
      }),
    firstRow: hostile.depth === undefined ? undefined : deepRow(hostile.depth),
  });
}

function answer(
  ctx: SimulatorContext,
  req: IncomingMessage,
  info: RequestInfo,
  draws: RequestDraws,
): GraphReply {
  const authorization = header(req, "authorization");
  const client = authorization ?? "anonymous";
  noteArrival(ctx, client, info.now);
  maybeRevokeTokens(ctx);

  const check = ctx.tokens.check(authorization);
  if (!check.ok) {
    const reply = graphError(info, 401, "InvalidAuthenticationToken", UNAUTHORIZED_MESSAGES[check.reason]);
    reply.headers["WWW-Authenticate"] =
      `Bearer realm="", authorization_uri="${ctx.url}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`;
    return reply;
  }
  if (ctx.consentRevoked || !check.token.roles.includes(CALL_RECORDS_PERMISSION)) {
    const roles = check.token.roles.filter((role) => !ctx.consentRevoked || role !== CALL_RECORDS_PERMISSION);
    return graphError(
      info,
      403,
      "Forbidden",
      `Missing application roles. API required roles: ${CALL_RECORDS_PERMISSION}. Application roles: ${roles.join(",")}.`,
    );
  }
  const overBudget = checkBudget(ctx, check.token.clientId, info.now);
  if (overBudget) return faultReply(ctx, info, client, overBudget);
  const fault = randomFault(ctx, draws);
  if (fault) return faultReply(ctx, info, client, fault);

  const url = new URL(req.url ?? "/", ctx.url);
  if (req.method !== "GET") {
    return graphError(
      info,
      405,
      "Request_BadRequest",
      `Method ${req.method ?? ""} is not allowed on this resource.`,
    );
  }
  const call = parseCall(url.pathname, url.searchParams);
  if (call === undefined) {
    const segment = url.pathname.split("/").slice(2).join("/");
    return graphError(info, 404, "ResourceNotFound", `Resource not found for the segment '${segment}'.`);
  }
  if (typeof call === "string") return graphError(info, 400, "BadRequest", call);
  const hostile = hostileFor(ctx, call.to.ms);
  if (hostile !== undefined) return hostilePage(ctx, req, call, info, hostile);
  return page(ctx, call, info);
}

/**
 * The tenant a Graph request belongs to: its bearer token's (valid or not, removed or not), else
 * (no token, one never issued) the main tenant.
 */
export function tenantOfRequest(shared: SharedContext, req: IncomingMessage): SimulatorContext {
  const tenant = shared.tokens.tenantOf(header(req, "authorization"));
  return (tenant === undefined ? undefined : shared.tenants.get(tenant)) ?? shared.main;
}

/**
 * Answers one Graph request (after the configured latency), as its token's tenant: that tenant's
 * rows, faults, budget and stats. Transport faults hit pages only, after the page is built: the
 * rows a request is given depend on its URL alone, faulted or not.
 */
export function handleGraph(shared: SharedContext, req: IncomingMessage, res: ServerResponse): void {
  const ctx = tenantOfRequest(shared, req);
  ctx.stats.graphRequests++;
  const draws = drawRequest(ctx);
  const delay = latencyMs(ctx, draws);
  const now = ctx.options.now();
  const info: RequestInfo = {
    requestId: randomUUID(),
    clientRequestId: header(req, "client-request-id") ?? randomUUID(),
    now,
    sentAt: now + delay,
  };
  const reply = answer(ctx, req, info, draws);
  if (reply.status === 429) ctx.stats.throttled++;
  const status = String(reply.status);
  ctx.stats.byStatus[status] = (ctx.stats.byStatus[status] ?? 0) + 1;
  const out: Outgoing = {
    status: reply.status,
    headers: {
      ...reply.headers,
      "request-id": info.requestId,
      "client-request-id": info.clientRequestId,
      Date: new Date(info.sentAt).toUTCString(),
    },
    body: Buffer.from(reply.body),
    contentType: GRAPH_CONTENT_TYPE,
    rows: reply.rows,
  };
  if (ctx.options.recordRequests) logRequest(ctx, info, reply, out);
  const stream = reply.stream;
  if (stream !== undefined) {
    const send = () => {
      if (!res.destroyed && !res.headersSent)
        stream(res, { ...out.headers, "Cache-Control": "no-store, no-cache" });
    };
    if (delay <= 0) send();
    else later(ctx, res, delay, send);
    return;
  }
  const fault = reply.status === 200 ? bodyFault(ctx, draws, out.body.length) : undefined;
  if (delay <= 0) deliver(ctx, res, out, fault);
  else later(ctx, res, delay, () => deliver(ctx, res, out, fault));
}

/** Logs the request (option recordRequests), and the instant its answer is sent. */
function logRequest(ctx: SimulatorContext, info: RequestInfo, reply: GraphReply, out: Outgoing): void {
  const entry: LoggedRequest = {
    clientRequestId: info.clientRequestId,
    tenantId: ctx.options.tenantId,
    arrivedAt: info.now,
    status: reply.status,
  };
  const retryAfter = reply.headers["Retry-After"];
  if (retryAfter !== undefined) entry.retryAfter = retryAfter;
  ctx.requestLog.push(entry);
  out.onHead = () => {
    const sentAt = ctx.options.now();
    entry.sentAt = sentAt;
    if (retryAfter !== undefined) entry.notBefore = retryAfterInstant(retryAfter, sentAt);
  };
}
