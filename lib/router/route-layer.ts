// The byok routes once, free of any framework: what each route reads, checks, asks of BYOK and answers.
// byokRouter (Express/Connect) and byokHandler (Request → Response) are thin adapters over this table.
import type { BYOK } from "../byok.js";
import { KEY_CHAIN, type RouterUseOptions } from "../core/ai-client.js";
import { KeyChain, unauthenticated } from "../core/key-choice.js";
import type { AiClient, KeyStore } from "../core/types.js";
import { ByokError } from "../errors.js";
import { chatRoute } from "./chat-route.js";
import { connectOpenRouterRoutes, OPENROUTER_CALLBACK_PATH } from "./connect-routes.js";
import { keysRoutes, teamKeysRoutes } from "./keys-routes.js";
import { modelsRoute } from "./models-route.js";
import { backWithError, isBrowserNavigation } from "./navigation.js";
import type { ParsedRouterOptions } from "./options.js";
import type { Limits } from "./rate-limit.js";
import { normalizeUserId } from "./request-user.js";
import { usageRoute } from "./usage-route.js";
import {
  type BodyCheck,
  bodyCheck,
  chatBody,
  checkKeyBody,
  deleteKeyBody,
  type HeaderOf,
  registerKeyBody,
} from "./validation.js";

/** What a route's handler reads of its request, whatever the framework. */
export interface RouteInput {
  query: URLSearchParams;
  header: HeaderOf;
  /** The checked JSON body (`{}` on routes without one). */
  body: Record<string, unknown>;
  /** The signed-in user (never from the body or query). */
  userId: string;
  /** The request's team, asked of the app's `getTeamId` now. */
  teamId(): Promise<string | undefined>;
  /** Whether the app's `canManageTeamKeys` allows this request. */
  canManage(): Promise<boolean>;
  /** The user's AiClient bound to the request (its requestId and the client's disconnect). */
  ai: AiClient;
  requestId: string;
  /** Fires when the client goes away before its answer was sent. */
  signal(): AbortSignal;
  /** The absolute URL of the connect flow's callback as the browser reaches it. */
  callbackUrl(): string;
}

/** What a route answers; each adapter writes it its own way. */
export type RouteAnswer =
  | { status: number; json: unknown }
  | { status: 204 }
  | { status: 302 | 303; location: string }
  /** An SSE answer: its frames, the first chunk already read. */
  | { status: 200; frames: AsyncGenerator<string> };

/** One byok route. */
export interface Route {
  method: "GET" | "POST" | "DELETE";
  /** Under basePath, e.g. `/keys`. */
  path: string;
  /** The limiter it counts in. */
  limiter: "keys" | "chat";
  /** Its JSON body's envelope check; no body read without it. */
  body?: BodyCheck;
  /** Team routes: a team is required (`NO_TEAM` without), and for `"manager"`, canManageTeamKeys too. */
  team?: "member" | "manager";
  /** The handler's first step reads the user's (and team's) key records: they are read ahead beside the limiter's count. */
  readsKeys?: true;
  handle(input: RouteInput): Promise<RouteAnswer>;
  /**
   * For a route a browser opens as a page: the path on this site that a failed browser navigation goes
   * back to, its error code in the query (see {@link backWithError}); other requests still get JSON.
   * Absent: every failure is JSON.
   */
  backOnError?: (query: URLSearchParams) => string;
}

/**
 * The byok routes of one configuration. The limiter comes before the body and any other store call: a refused
 * request costs one counter update (and, for a chat counted in the key store, the key-record read that went with it).
 */
export function routeTable(byok: BYOK, parsed: Readonly<ParsedRouterOptions>): Route[] {
  const keys = keysRoutes(byok);
  const team = teamKeysRoutes(byok);
  const json = {
    register: bodyCheck(registerKeyBody),
    check: bodyCheck(checkKeyBody),
    remove: bodyCheck(deleteKeyBody),
    chat: bodyCheck(chatBody),
  };
  const routes: Route[] = [
    { method: "POST", path: "/keys", limiter: "keys", body: json.register, handle: keys.register },
    { method: "GET", path: "/keys", limiter: "keys", handle: keys.list },
    { method: "POST", path: "/keys/check", limiter: "keys", body: json.check, handle: keys.check },
    { method: "DELETE", path: "/keys", limiter: "keys", body: json.remove, handle: keys.remove },
    {
      method: "POST",
      path: "/chat",
      limiter: "chat",
      body: json.chat,
      readsKeys: true,
      handle: chatRoute(parsed.messageFor),
    },
    { method: "GET", path: "/models", limiter: "chat", handle: modelsRoute },
    // Usage reads sit on the chat limiter: a usage table refreshed beside the chat must not use up the key settings' limit.
    { method: "GET", path: "/usage", limiter: "chat", handle: usageRoute(byok) },
    // A team's keys: listed by any member, changed only by a manager; limited per member, like every route.
    {
      method: "POST",
      path: "/team/keys",
      limiter: "keys",
      team: "manager",
      body: json.register,
      handle: team.register,
    },
    { method: "GET", path: "/team/keys", limiter: "keys", team: "member", handle: team.list },
    { method: "DELETE", path: "/team/keys", limiter: "keys", team: "manager", body: json.remove, handle: team.remove },
  ];
  // "Connect OpenRouter": a browser navigation each way, limited like the keys routes it ends in.
  if (parsed.connect.openrouter) {
    const connect = connectOpenRouterRoutes(byok, parsed.connect.openrouter);
    const back = parsed.connect.openrouter.errorRedirect;
    routes.push(
      {
        method: "GET",
        path: "/connect/openrouter",
        limiter: "keys",
        handle: connect.start,
        ...(back && { backOnError: connect.startBack }),
      },
      {
        method: "GET",
        path: OPENROUTER_CALLBACK_PATH,
        limiter: "keys",
        handle: connect.callback,
        ...(back && { backOnError: connect.callbackBack }),
      },
    );
  }
  return routes;
}

/** The answer to a team route on a request without a team. */
export const noTeam = (): ByokError =>
  new ByokError("NO_TEAM", "This request has no team (getTeamId returned nothing): there are no team keys.");

/**
 * @param action - what a manager may do, for the message, e.g. "read the team's usage"
 * @throws ByokError FORBIDDEN unless `canManage()` is `true`
 */
export async function checkManager(canManage: () => Promise<boolean>, action: string): Promise<void> {
  if ((await canManage()) !== true)
    throw new ByokError("FORBIDDEN", `Only a team member canManageTeamKeys allows may ${action}.`);
}

/** What an adapter hands {@link runRoute}: the request's parts, and how to read its body and set a header. */
export interface AdapterRequest extends Omit<RouteInput, "body" | "userId" | "ai"> {
  getUserId(): unknown;
  /** The AiClient of the signed-in user, bound to the request; with `keyChain`, for its team and using its records. */
  aiFor(userId: string, keyChain?: KeyChain): Promise<AiClient>;
  /** Reads, size-checks and parses the JSON body, then runs `check` on it. */
  readBody(check: BodyCheck): Promise<Record<string, unknown>>;
  setHeader(name: string, value: string): void;
}

/** `use()`'s options for a route's client: the request's id and disconnect signal, its team, and the key chain read ahead. */
export function clientOptions(
  requestId: string,
  signal: AbortSignal,
  teamId: string | undefined,
  keyChain: KeyChain | undefined,
): RouterUseOptions {
  const options: RouterUseOptions = { requestId, signal };
  if (teamId !== undefined) options.teamId = teamId;
  if (keyChain !== undefined) options[KEY_CHAIN] = keyChain;
  return options;
}

/**
 * The request's key chain, read as soon as its team is known (at once when `getTeamId` answers without
 * waiting, so in the same tick as the limiter's count). Rejects as `getTeamId` does; nothing awaits it
 * on a refused request.
 */
function readAhead(store: KeyStore, userId: string, teamId: () => Promise<string | undefined>): Promise<KeyChain> {
  const chain = teamId().then((team) => new KeyChain(store, userId, team));
  chain.catch(() => undefined);
  return chain;
}

/**
 * One request through a route, in the order every adapter keeps: the user (401 without), the limiter
 * (its headers set, 429 when refused), the team gates, the body, then the handler. A route that
 * {@link Route.readsKeys} has them read beside the count when the limiter counts in the key store: on
 * RedisStore, one round trip for both. A failure is thrown for the adapter to answer as JSON, except on
 * a route with `backOnError` opened by a browser (see {@link isBrowserNavigation}), which is sent back to
 * the app's page with the error code instead.
 */
export async function runRoute(route: Route, limits: Limits, request: AdapterRequest): Promise<RouteAnswer> {
  try {
    return await answer(route, limits, request);
  } catch (error) {
    if (route.backOnError === undefined || !isBrowserNavigation(request.header)) throw error;
    return backWithError(route.backOnError(request.query), error);
  }
}

/** The route's steps, in that order; any failure is thrown. */
async function answer(route: Route, limits: Limits, request: AdapterRequest): Promise<RouteAnswer> {
  const userId = normalizeUserId(await request.getUserId());
  if (userId === undefined) throw unauthenticated();
  const limit = limits[route.limiter];
  const keyChain =
    limit && route.readsKeys && limits.keyStore ? readAhead(limits.keyStore, userId, request.teamId) : undefined;
  if (limit) {
    const { headers, error } = await limit(userId);
    for (const [name, value] of headers) request.setHeader(name, value);
    if (error) throw error;
  }
  if (route.team !== undefined) {
    if ((await request.teamId()) === undefined) throw noTeam();
    if (route.team === "manager") await checkManager(request.canManage, "add or remove the team's keys");
  }
  const body = route.body ? await request.readBody(route.body) : {};
  return route.handle({ ...request, userId, body, ai: await request.aiFor(userId, await keyChain) });
}
