// byokHandler: the fetch-style adapter of the route layer (Request → Response) for Next.js, Hono, Bun.serve and Deno.serve on Node.
import type { BYOK } from "../byok.js";
import { checkOptionsObject, configError, type KeysEnum } from "../core/option-checks.js";
import type { AiClient } from "../core/types.js";
import { ByokError } from "../errors.js";
import { type ErrorMessages, type MessageFor, parseMessages } from "./error-messages.js";
import type { ConnectOpenRouterOptions, RateLimitStoreFactory, RateLimitWindow } from "./options.js";
import { parseRouterOptions } from "./options.js";
import { OPENROUTER_CALLBACK_PATH } from "./connect-routes.js";
import { createLimiters } from "./rate-limit.js";
import { normalizeUserId } from "./request-user.js";
import { clientOptions, type Route, type RouteAnswer, routeTable, runRoute } from "./route-layer.js";
import { headerTable, helmetFor } from "./security-headers.js";
import { bodyNotJson, bodyNotUtf8, bodyTooLarge, errorReply } from "./send-error.js";
import { SSE_HEADERS } from "./sse.js";
import { type BodyCheck, checkJsonType } from "./validation.js";
import { requestIdOf } from "./request-id.js";
import type { HelmetOptions } from "helmet";

/** Options of {@link byokHandler}: as byokRouter's, with each request function taking the web `Request`. */
export interface HandlerOptions {
  /** The BYOK instance whose keys and providers the routes use. Required. */
  byok: BYOK;
  /** The path the routes answer under, as the URL shows it (e.g. `"/api/byok"`). Defaults to `"/byok"`. */
  basePath?: string;
  /**
   * Who the signed-in user is, from the app's session (Auth.js `auth()`, a cookie, a token); `undefined`
   * (or `""`) when nobody is signed in. Required: a `Request` has no `req.user`. Never from the body or query.
   */
  getUserId: (request: Request) => string | undefined | Promise<string | undefined>;
  /** The team whose keys this request may use and manage; `undefined` for none. Asked on every request. */
  getTeamId?: (request: Request) => string | undefined | Promise<string | undefined>;
  /** Whether this request may add or remove its team's keys. Defaults to `() => false`. */
  canManageTeamKeys?: (request: Request) => boolean | Promise<boolean>;
  /** Per-user limits, as byokRouter's (the same stores: a user's limit holds across both). */
  rateLimit?: boolean | { keys?: RateLimitWindow; chat?: RateLimitWindow; store?: RateLimitStoreFactory };
  /** Largest JSON body accepted, as bytes or a string like `"16kb"`. Defaults to `"16kb"`. */
  bodyLimit?: string | number;
  /** helmet's headers, as byokRouter's `helmet` option: the same headers on every answer. Defaults to `true`. */
  helmet?: boolean | HelmetOptions;
  /** The end-user text of error answers, as byokRouter's. */
  messages?: ErrorMessages;
  /** "Connect your account" flows, as byokRouter's. */
  connect?: { openrouter?: boolean | ConnectOpenRouterOptions };
}

const W = "byokHandler";

/**
 * Why byok-ai cannot run here, or `undefined` on Node.js: Next.js's Edge runtime sets `EdgeRuntime`,
 * Cloudflare Workers identify as `Cloudflare-Workers`.
 */
function unsupportedRuntime(): string | undefined {
  if (typeof (globalThis as { EdgeRuntime?: unknown }).EdgeRuntime === "string") return "Next.js's Edge runtime";
  const agent = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent;
  if (agent === "Cloudflare-Workers") return "Cloudflare Workers";
  return undefined;
}

/** The part of `pathname` under `basePath` (`""` for basePath itself), or `undefined` outside it. */
function pathUnder(pathname: string, basePath: string): string | undefined {
  if (pathname === basePath) return "";
  return pathname.startsWith(`${basePath}/`) ? pathname.slice(basePath.length) : undefined;
}

const NOT_FOUND = () => new ByokError("NOT_FOUND", "No byok route answers this method and path.");

/** The charset a Content-Type names, lower-case, or `undefined`. */
const charsetOf = (contentType: string): string | undefined =>
  /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase();

/**
 * The body's bytes, at most `limit`, counted as they arrive: a body whose `Content-Length` lies (or that has none, or
 * comes over a transport that does not frame by it) is cut off at the limit too, never read whole first.
 */
async function bodyBytes(request: Request, limit: number): Promise<Buffer> {
  if (request.body === null) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw bodyTooLarge();
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks);
}

/**
 * The request's JSON body read as the router's parser reads one: declared `application/json`, UTF-8
 * and uncompressed, at most `limit` bytes (see {@link bodyBytes}), an object or an array; then `check` on it.
 */
async function readJsonBody(request: Request, limit: number, check: BodyCheck): Promise<Record<string, unknown>> {
  const header = (name: string) => request.headers.get(name) ?? undefined;
  checkJsonType(header);
  const encoding = (header("content-encoding") ?? "identity").toLowerCase();
  const charset = charsetOf(header("content-type") ?? "");
  if (encoding !== "identity" || (charset !== undefined && charset !== "utf-8")) throw bodyNotUtf8();
  if (Number(header("content-length")) > limit) throw bodyTooLarge();
  const holder: { body?: unknown } = {};
  const text = (await bodyBytes(request, limit)).toString("utf8");
  if (text.trim() !== "") {
    // As body-parser's `strict`: only an object or an array.
    if (!/^[\s]*[{[]/.test(text)) throw bodyNotJson();
    try {
      holder.body = JSON.parse(text) as unknown;
    } catch {
      throw bodyNotJson();
    }
  }
  await check(holder);
  return holder.body as Record<string, unknown>;
}

/** A route's answer as a `Response`, with the headers set so far. */
function toResponse(answer: RouteAnswer, headers: Headers): Response {
  if ("frames" in answer) {
    for (const [name, value] of Object.entries(SSE_HEADERS)) headers.set(name, value);
    const { frames } = answer;
    const encoder = new TextEncoder();
    // Pulled as the client reads: a slow reader holds back the upstream; a reader that leaves cancels it.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await frames.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await frames.return(undefined);
      },
    });
    return new Response(body, { status: 200, headers });
  }
  if ("json" in answer) {
    headers.set("Content-Type", "application/json; charset=utf-8");
    return new Response(JSON.stringify(answer.json), { status: answer.status, headers });
  }
  if ("location" in answer) headers.set("Location", answer.location);
  return new Response(null, { status: answer.status, headers });
}

/** An error answer as a `Response`, with the headers set so far. */
function errorResponse(error: unknown, messageFor: MessageFor, headers: Headers): Response {
  const { status, headers: own, body } = errorReply(error, messageFor);
  for (const [name, value] of Object.entries(own)) headers.set(name, value);
  headers.set("Content-Type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status, headers });
}

/**
 * The byok routes for fetch-style servers: `(request: Request) => Promise<Response>`, answering every
 * route, status, body, header, SSE frame, limit and error exactly as {@link byokRouter} (both are thin
 * adapters over one route layer). A path under basePath that no route answers is `404 NOT_FOUND`; the
 * request's `signal` (a client that disconnects) aborts the upstream call. Node.js only: the stores and
 * the vault use Node's crypto and TCP.
 *
 * @example
 * ```ts
 * // app/api/byok/[...byok]/route.ts (Next.js App Router)
 * export const runtime = "nodejs";
 * const handler = byokHandler({ byok, basePath: "/api/byok", getUserId: async () => (await auth())?.user?.id });
 * export { handler as GET, handler as POST, handler as DELETE };
 * ```
 * @throws ByokError CONFIG_INVALID for bad options, or on the Edge runtime or Workers, naming the fix
 */
export function byokHandler(options: HandlerOptions): (request: Request) => Promise<Response> {
  const runtime = unsupportedRuntime();
  if (runtime !== undefined)
    throw configError(
      `${W}: byok-ai runs on Node.js only (its stores and vault use Node's crypto and TCP), and this is ${runtime}. Run the route on Node.js: in Next.js, \`export const runtime = "nodejs"\` in the route file; elsewhere, a Node.js server (Hono on @hono/node-server, Bun.serve, Deno.serve).`,
    );
  if (typeof (options as Partial<HandlerOptions> | undefined)?.getUserId !== "function")
    throw configError(
      `${W}: getUserId is required: a function (request) => string | undefined (or a promise of one) that returns the signed-in user's id from the app's session.`,
    );
  const parsed = parseRouterOptions(options, W);
  const { byok, basePath, messageFor } = parsed;
  const getUserId = options.getUserId;
  const getTeamId = (options.getTeamId ?? (() => undefined)) as (request: Request) => unknown;
  const canManage = options.canManageTeamKeys ?? (() => false);
  const limits = createLimiters(parsed.rateLimit, byok.stores);
  const security = [["Cache-Control", "no-store"], ...headerTable(helmetFor(parsed.helmet, W))] as const;
  const routes = routeTable(byok, parsed);
  const find = (method: string, path: string): Route | undefined =>
    routes.find((route) => route.method === method && route.path === path);

  return async function byokFetchHandler(request: Request): Promise<Response> {
    const headers = new Headers(security as unknown as [string, string][]);
    try {
      const url = new URL(request.url);
      const path = pathUnder(url.pathname, basePath);
      const route = path === undefined ? undefined : find(request.method, path);
      if (route === undefined) throw NOT_FOUND();
      const header = (name: string) => request.headers.get(name) ?? undefined;
      const requestId = requestIdOf(request, header("x-request-id"));
      const teamId = async () => normalizeUserId(await getTeamId(request), "getTeamId");
      const answer = await runRoute(route, limits, {
        query: url.searchParams,
        header,
        getUserId: () => getUserId(request),
        teamId,
        canManage: async () => canManage(request),
        aiFor: async (userId, keyChain): Promise<AiClient> =>
          byok.use(
            userId,
            clientOptions(requestId, request.signal, keyChain ? keyChain.teamId : await teamId(), keyChain),
          ),
        requestId,
        signal: () => request.signal,
        callbackUrl: () => `${url.origin}${basePath}${OPENROUTER_CALLBACK_PATH}`,
        readBody: (check) => readJsonBody(request, parsed.bodyLimit, check),
        setHeader: (name, value) => headers.set(name, value),
      });
      return toResponse(answer, headers);
    } catch (error) {
      return errorResponse(error, messageFor, headers);
    }
  };
}

/** Options of {@link byokErrorResponse}. */
export interface ErrorResponseOptions {
  /** The end-user text per error code, as in `byokHandler({ messages })`. */
  messages?: ErrorMessages;
}

const RESPONSE_KNOWN: KeysEnum<ErrorResponseOptions> = { messages: true };

/**
 * `byokErrorHandler`'s twin for an app's own fetch-style routes: a `ByokError` (from `byok.use(userId)`,
 * or the app's own) as the byok routes answer it — its status, `{ "error": { "code", "message",
 * "details"? } }`, `Retry-After` when it has `retryAfter`, `Cache-Control: no-store`; anything else `undefined`.
 *
 * @example
 * ```ts
 * try { return Response.json(await byok.use(userId).chat({ prompt })) }
 * catch (error) { return byokErrorResponse(error) ?? new Response("Internal error", { status: 500 }) }
 * ```
 * @throws ByokError CONFIG_INVALID for bad options
 */
export function byokErrorResponse(error: unknown, options?: ErrorResponseOptions): Response | undefined {
  if (!ByokError.is(error)) return undefined;
  const where = "byokErrorResponse";
  const parsed = checkOptionsObject<ErrorResponseOptions>(options, RESPONSE_KNOWN, where);
  return errorResponse(error, parseMessages(parsed.messages, where), new Headers());
}
