import { ErrorCode, PstnError } from "../errors.js";

export interface CallLogPage {
  rows: Record<string, unknown>[];
  nextLink: string | undefined;
}

/**
 * `charge` and `connectionCharge` are money: Graph writes them as JSON numbers (Double on v1.0,
 * Decimal on beta), which JSON.parse would turn into binary floating point. This turns such a
 * number token into a string token holding its exact source text, before parsing. A match can
 * only be a real key: inside a JSON string every `"` is escaped, and a real key follows `{` or `,`.
 */
const MONEY_NUMBER = /(?<=[{,]\s*)"(charge|connectionCharge)"(\s*):(\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

export function parseCallLogPage(text: string): CallLogPage {
  let body: unknown;
  try {
    body = JSON.parse(text.replace(MONEY_NUMBER, '"$1"$2:$3"$4"'));
  } catch (error) {
    throw new PstnError(
      ErrorCode.GRAPH_BAD_RESPONSE,
      `Graph sent a body that is not JSON (${text.length} bytes, ends ${JSON.stringify(text.slice(-40))})`,
      { cause: error, retriable: true },
    );
  }
  if (typeof body !== "object" || body === null || !Array.isArray((body as { value?: unknown }).value)) {
    throw new PstnError(ErrorCode.GRAPH_BAD_RESPONSE, "Graph sent JSON without a 'value' array", {
      retriable: true,
    });
  }
  const record = body as Record<string, unknown>;
  return { rows: record.value as Record<string, unknown>[], nextLink: findNextLink(record) };
}

/** Older docs spell it `@odata.NextLink`: read the key without regard to case. */
function findNextLink(body: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(body)) {
    if (key.length === 15 && key.toLowerCase() === "@odata.nextlink") {
      const value = body[key];
      return typeof value === "string" && value !== "" ? value : undefined;
    }
  }
  return undefined;
}
