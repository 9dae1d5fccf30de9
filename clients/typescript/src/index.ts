/**
 * The client portal's REST API in TypeScript, for Next.js (server and browser) and Node 20+.
 *
 * The paths and their types are generated from the API's OpenAPI document (make setup:
 * src/schema.ts, by openapi-typescript); calls go through openapi-fetch. This file adds what
 * the generated code leaves awkward: the credential (createPortalClient), one error type for
 * every error answer (PortalApiError), the success value of an answer (ok), and pagination.
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
/** The API's named shapes: `Schemas["Contact"]`, `Schemas["InvoiceInput"]`... */
export type Schemas = components["schemas"];
export type PortalClient = Client<paths>;

export interface PortalClientOptions {
  /** The gateway's origin, such as `http://127.0.0.1:8080` (the paths start with /api/v1). */
  baseUrl: string;
  /** The organization's API key (pk_...). Server side only: never ship it to a browser. */
  apiKey?: string;
  /** A portal user's session token (ps_..., sessionToken of POST /api/v1/auth/sync-user). */
  sessionToken?: string;
  /** Another fetch (a test's, or Next.js's with its caching options); the global one by default. */
  fetch?: typeof globalThis.fetch;
}

/** Every 4xx and 5xx answer: its status, and the body's {error, code, field}. */
export class PortalApiError extends Error {
  readonly status: number;
  /** The stable reason: INVALID_ARGUMENT, NOT_FOUND, RATE_LIMITED... (docs/troubleshooting.md). */
  readonly code: string | undefined;
  /** The JSON path at fault, as the request wrote it (`lineItems[2].unitPriceInCents`). */
  readonly field: string | undefined;
  /** Seconds to wait before retrying (Retry-After of a 429 or 503). */
  readonly retryAfter: number | undefined;

  constructor(status: number, error: string, code?: string, field?: string, retryAfter?: number) {
    super(`${status} ${code ?? "ERROR"}: ${error}`);
    this.name = "PortalApiError";
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }

  /** The error of an answer. A body that is not the API's error shape becomes the message as it is. */
  static async from(response: Response): Promise<PortalApiError> {
    const text = await response.text();
    const retry = response.headers.get("Retry-After");
    const retryAfter = retry !== null && /^\d+$/.test(retry) ? Number(retry) : undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (isErrorBody(body)) {
      return new PortalApiError(response.status, body.error, textOf(body.code), textOf(body.field), retryAfter);
    }
    return new PortalApiError(response.status, text || response.statusText, undefined, undefined, retryAfter);
  }
}

function isErrorBody(body: unknown): body is { error: string; code?: unknown; field?: unknown } {
  return typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string";
}

function textOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Every error answer rejects the call with a PortalApiError instead of returning `{ error }`. */
const throwOnError: Middleware = {
  async onResponse({ response }) {
    if (!response.ok) {
      throw await PortalApiError.from(response);
    }
    return undefined;
  },
};

/** A client of the API, authenticated with exactly one of an API key and a session token. */
export function createPortalClient(options: PortalClientOptions): PortalClient {
  const { apiKey, sessionToken } = options;
  if ((apiKey === undefined) === (sessionToken === undefined)) {
    throw new TypeError("give exactly one of apiKey and sessionToken");
  }
  const token = apiKey ?? sessionToken;
  if (!token) {
    throw new TypeError("the credential is empty");
  }
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers: { Authorization: `Bearer ${token}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use(throwOnError);
  return client;
}

/**
 * The data of an answer, typed as its success: `const page = await ok(portal.GET("/api/v1/crm/contacts"))`.
 * A client of createPortalClient already rejects on error answers; this also refuses an answer
 * without data (a 204).
 */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (error !== undefined) {
    throw new PortalApiError(response.status, typeof error === "string" ? error : JSON.stringify(error));
  }
  if (data === undefined) {
    throw new PortalApiError(response.status, "the answer has no body");
  }
  return data;
}

/** The largest `limit` of the API's lists. */
export const MAX_PAGE_SIZE = 200;

/**
 * Every item of a limit/offset list, page after page, read as they are consumed:
 *
 *     for await (const contact of paginate(
 *       ({ limit, offset }) => ok(portal.GET("/api/v1/crm/contacts", { params: { query: { limit, offset } } })),
 *       (page) => page.contacts,
 *     )) { ... }
 *
 * It stops at the page that reaches the list's `total`, or at an empty page. Offsets shift when
 * items are added or removed during the walk: an item may then be seen twice or not at all.
 */
export async function* paginate<Page extends { total: number }, Item>(
  fetchPage: (window: { limit: number; offset: number }) => Promise<Page>,
  items: (page: Page) => readonly Item[],
  pageSize = 100,
): AsyncGenerator<Item, void, undefined> {
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  let offset = 0;
  for (;;) {
    const page = await fetchPage({ limit: pageSize, offset });
    const batch = items(page);
    yield* batch;
    offset += batch.length;
    if (batch.length === 0 || offset >= page.total) {
      return;
    }
  }
}
