// Checks `byokRouter(options)` once, at construction: unknown keys, types, basePath, limits, helmet and rate-limit settings.
import type { Request } from "express";
import type { Store } from "express-rate-limit";
import type { HelmetOptions } from "helmet";
import { BYOK } from "../byok.js";
import { checkDuration, checkOptionsObject, configError, type KeysEnum } from "../core/option-checks.js";
import { isPlainObject } from "../core/validate.js";
import { isOpenRouterProvider } from "../providers/openrouter.js";
import { sitePath } from "./site-path.js";
import { type ErrorMessages, type MessageFor, parseMessages } from "./error-messages.js";

/** One rate-limit window: at most `limit` requests per user every `windowMs` milliseconds. */
export interface RateLimitWindow {
  /** Length of the window in ms. Defaults to 10 minutes for the keys routes, 1 minute for chat. */
  windowMs?: number;
  /** Requests allowed per user and window. Defaults to 30 for the keys routes, 60 for chat. */
  limit?: number;
}

/**
 * Where a limiter counts: called once per limiter (`"keys"`, `"chat"`) at construction, it returns
 * a new express-rate-limit `Store` for that limiter (express-rate-limit refuses one store shared
 * by two limiters: each has its own window). E.g. `(name) => new RedisStore({ sendCommand, prefix: \`rl:${name}:\` })`
 * with rate-limit-redis, or any other express-rate-limit store.
 */
export type RateLimitStoreFactory = (limiter: "keys" | "chat") => Store;

/** Settings of the "Connect OpenRouter" flow (`connect: { openrouter: { … } }`). */
export interface ConnectOpenRouterOptions {
  /**
   * Where the user lands after connecting when the start link gives no `?returnTo=`: a path on this site
   * (e.g. `"/settings"`). Defaults to `"/"`.
   */
  returnTo?: string;
  /**
   * The absolute URL of `{basePath}/connect/openrouter/callback` as the user's browser reaches it, e.g.
   * `"https://app.example.com/byok/connect/openrouter/callback"`. Set it when the app cannot tell from the
   * request: behind a proxy that changes the host or ends TLS without Express's `trust proxy` (a plain
   * Connect app has no `req.protocol`). Defaults to one built from each request: `req.protocol` (Express,
   * which honours `trust proxy`), else `https` on a TLS socket and `http` otherwise; the `Host` header; and
   * the path the router is mounted at.
   */
  callbackUrl?: string;
  /**
   * What a person whose browser opened a connect route sees when it fails (a double click on the way back,
   * a link older than 10 minutes, a refused approval): with `true`, a `303` back to `returnTo` with the
   * error code in the query, e.g. `/settings?byok_error=INVALID_REQUEST&byok_error_fields=state`, for the
   * page to explain; with `false`, the JSON error. A browser's page load is a request with
   * `Sec-Fetch-Mode: navigate` or an `Accept` that ranks `text/html` above `application/json`; every other
   * request (a script's `fetch`) gets the JSON error either way. After a failed start, `returnTo` is the
   * link's own when it is a path on this site; after a failed callback, the configured one. Defaults to `true`.
   */
  errorRedirect?: boolean;
}

/** Options of {@link byokRouter}. */
export interface RouterOptions {
  /** The BYOK instance whose keys and providers the routes use. Required. */
  byok: BYOK;
  /** Where the routes are mounted: starts with "/", does not end with "/". Defaults to `"/byok"`. */
  basePath?: string;
  /**
   * Who the signed-in user is. Return `undefined` (or `""`) when nobody is signed in; numbers are
   * stringified. Never read it from the body or query. Defaults to `req.user?.id`.
   */
  getUserId?: (req: Request) => string | undefined;
  /**
   * The team whose keys this request may use (`req.ai`, chat) and whose keys `{basePath}/team/keys`
   * shows and changes; `undefined` for none. Asked on every request: byok-ai keeps no memberships, so a
   * user the app takes out of a team loses the team's keys at once. Defaults to no team.
   */
  getTeamId?: (req: Request) => string | undefined;
  /**
   * Whether this request may add or remove its team's keys (`POST`/`DELETE {basePath}/team/keys`).
   * Every member can list them (hints only). Defaults to `() => false`: nobody.
   */
  canManageTeamKeys?: (req: Request) => boolean | Promise<boolean>;
  /**
   * Per-user limits, counted separately for the keys routes and for chat (`POST /chat` and
   * `GET /models`); `false` turns them off. Defaults to keys 30 per 10 minutes and chat 60 per minute,
   * counted in the key store's Redis when it is a `RedisStore`, else in this process's memory.
   */
  rateLimit?: boolean | { keys?: RateLimitWindow; chat?: RateLimitWindow; store?: RateLimitStoreFactory };
  /** Largest JSON body accepted, as bytes or a string like `"16kb"`. Defaults to `"16kb"`. */
  bodyLimit?: string | number;
  /** helmet's headers on the byok routes only: `true`/undefined defaults, `false` off, an object configures helmet. Defaults to `true`. */
  helmet?: boolean | HelmetOptions;
  /**
   * The end-user text of error answers, to reword or translate them: a partial map by code
   * (`{ KEY_NOT_FOUND: "…" }`) or a function `(code, details) => string | undefined` (`undefined`
   * keeps the default). Codes, statuses and `details` do not change. Defaults to each code's
   * documented message.
   */
  messages?: ErrorMessages;
  /**
   * "Connect your account" flows, where the user brings a key by signing in to the provider instead of
   * pasting it: `{ openrouter: true }` (or settings) mounts `GET {basePath}/connect/openrouter` and its
   * callback (PKCE S256, a single-use `state` bound to the user, kept 10 minutes in the key store). Needs the
   * `openrouter` provider and a `store.once` capability (all three built-in stores have one). Defaults to none.
   */
  connect?: { openrouter?: boolean | ConnectOpenRouterOptions };
}

/** The checked, frozen result of {@link parseRouterOptions}. */
export interface ParsedRouterOptions {
  byok: BYOK;
  basePath: string;
  getUserId: (req: Request) => unknown;
  getTeamId: (req: Request) => unknown;
  canManageTeamKeys: (req: Request) => boolean | Promise<boolean>;
  rateLimit:
    false | { keys: Required<RateLimitWindow>; chat: Required<RateLimitWindow>; store?: RateLimitStoreFactory };
  /** `bodyLimit` in bytes. */
  bodyLimit: number;
  helmet: false | HelmetOptions;
  messageFor: MessageFor;
  /** The connect flows that are on, with their defaults filled in. */
  connect: { openrouter?: { returnTo: string; callbackUrl?: string; errorRedirect: boolean } };
}

const KNOWN: KeysEnum<RouterOptions> = {
  byok: true,
  basePath: true,
  getUserId: true,
  getTeamId: true,
  canManageTeamKeys: true,
  rateLimit: true,
  bodyLimit: true,
  helmet: true,
  messages: true,
  connect: true,
};
const CONNECT_KNOWN: KeysEnum<NonNullable<RouterOptions["connect"]>> = { openrouter: true };
const OPENROUTER_KNOWN: KeysEnum<ConnectOpenRouterOptions> = { returnTo: true, callbackUrl: true, errorRedirect: true };
const WINDOW_KNOWN: KeysEnum<RateLimitWindow> = { windowMs: true, limit: true };
const LIMITS_KNOWN: KeysEnum<{ keys: unknown; chat: unknown; store: unknown }> = {
  keys: true,
  chat: true,
  store: true,
};
/** Default per-user limits. */
export const DEFAULT_RATE_LIMITS = Object.freeze({
  keys: { windowMs: 10 * 60_000, limit: 30 },
  chat: { windowMs: 60_000, limit: 60 },
});
const BASE_PATH = /^(\/[A-Za-z0-9._~-]+)+$/;
const BYTES = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i;
/** The units of a size string, in bytes (1 kb = 1024 b, as body-parser counts). */
const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const MAX_WINDOW_MS = 24 * 60 * 60_000;

const noTeam = (): undefined => undefined;
const nobody = (): boolean => false;
const defaultGetUserId = (req: Request): unknown => (req as { user?: { id?: unknown } }).user?.id;

function checkWindow(value: unknown, name: "keys" | "chat", W: string): Required<RateLimitWindow> {
  const window = checkOptionsObject<RateLimitWindow>(value, WINDOW_KNOWN, `${W}: rateLimit.${name}`);
  const limit = window.limit ?? DEFAULT_RATE_LIMITS[name].limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw configError(
      `${W}: rateLimit.${name}.limit must be a whole number of requests >= 1; use rateLimit: false to turn limiting off.`,
    );
  }
  return {
    windowMs: checkDuration(
      window.windowMs ?? DEFAULT_RATE_LIMITS[name].windowMs,
      `${W}: rateLimit.${name}.windowMs`,
      MAX_WINDOW_MS,
    ),
    limit,
  };
}

function checkRateLimit(value: unknown, W: string): ParsedRouterOptions["rateLimit"] {
  if (value === false) return false;
  if (value === undefined || value === true)
    return { keys: { ...DEFAULT_RATE_LIMITS.keys }, chat: { ...DEFAULT_RATE_LIMITS.chat } };
  if (!isPlainObject(value))
    throw configError(
      `${W}: rateLimit must be false, true or { keys?: { windowMs, limit }, chat?: { windowMs, limit } }.`,
    );
  const limits = checkOptionsObject<{ keys: unknown; chat: unknown; store: unknown }>(
    value,
    LIMITS_KNOWN,
    `${W}: rateLimit`,
  );
  const parsed = { keys: checkWindow(limits.keys, "keys", W), chat: checkWindow(limits.chat, "chat", W) };
  if (limits.store === undefined) return parsed;
  if (typeof limits.store !== "function")
    throw configError(
      `${W}: rateLimit.store must be a function (limiter: "keys" | "chat") => Store that returns a new express-rate-limit store per limiter.`,
    );
  return { ...parsed, store: limits.store as RateLimitStoreFactory };
}

function checkBodyLimit(value: unknown, W: string): number {
  if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  const size = typeof value === "string" ? BYTES.exec(value.trim()) : null;
  if (size) {
    const bytes = Math.floor(Number(size[1]) * UNIT_BYTES[(size[2] ?? "b").toLowerCase()]!);
    if (bytes > 0) return bytes;
  }
  throw configError(`${W}: bodyLimit must be a positive number of bytes or a size string such as "16kb" or "1mb".`);
}

function checkHelmet(value: unknown, W: string): false | HelmetOptions {
  if (value === false) return false;
  if (value === undefined || value === true) return {};
  if (!isPlainObject(value)) throw configError(`${W}: helmet must be true, false or helmet's options object.`);
  return value as HelmetOptions;
}

/** The absolute http(s) URL `value`, without credentials or fragment, or `undefined`. */
function absoluteUrl(value: unknown): string | undefined {
  if (typeof value !== "string" || !URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (!["http:", "https:"].includes(url.protocol) || url.username || url.password || url.hash) return undefined;
  return url.href;
}

function checkConnect(value: unknown, byok: BYOK, W: string): ParsedRouterOptions["connect"] {
  if (value === undefined) return {};
  const connect = checkOptionsObject<NonNullable<RouterOptions["connect"]>>(value, CONNECT_KNOWN, `${W}: connect`);
  const openrouter = connect.openrouter;
  if (openrouter === undefined || openrouter === false) return {};
  const o: ConnectOpenRouterOptions =
    openrouter === true
      ? {}
      : checkOptionsObject<ConnectOpenRouterOptions>(openrouter, OPENROUTER_KNOWN, `${W}: connect.openrouter`);
  if (!isOpenRouterProvider(byok.provider("openrouter")))
    throw configError(
      `${W}: connect.openrouter needs BYOK's built-in openrouter provider (providers: { openrouter: {} }, with the openai package installed); this BYOK has ${byok.providers.includes("openrouter") ? "a custom provider under that id" : "none"}.`,
    );
  if (byok.stores.once === undefined)
    throw configError(
      `${W}: connect.openrouter keeps each flow's state in store.once (the once capability), which this BYOK's store lacks; MemoryStore, RedisStore and PostgresStore each have one (e.g. store: { keys, once: redis.once }).`,
    );
  const returnTo = sitePath(o.returnTo ?? "/");
  if (returnTo === undefined)
    throw configError(
      `${W}: connect.openrouter.returnTo must be a path on this site starting with one "/", e.g. "/settings" (not "//host", not a URL).`,
    );
  const errorRedirect = o.errorRedirect ?? true;
  if (typeof errorRedirect !== "boolean")
    throw configError(
      `${W}: connect.openrouter.errorRedirect must be true (a browser that fails goes back to returnTo with ?byok_error=) or false (JSON errors).`,
    );
  if (o.callbackUrl === undefined) return { openrouter: { returnTo, errorRedirect } };
  const callbackUrl = absoluteUrl(o.callbackUrl);
  if (callbackUrl === undefined)
    throw configError(
      `${W}: connect.openrouter.callbackUrl must be an absolute http(s) URL without credentials or #fragment, e.g. "https://app.example.com/byok/connect/openrouter/callback".`,
    );
  return { openrouter: { returnTo, callbackUrl, errorRedirect } };
}

/**
 * Checks the router's (or, with `W` "byokHandler", the fetch handler's) options: unknown keys (with a "did you mean"), types, then defaults; frozen.
 * @throws ByokError CONFIG_INVALID naming the option and the fix
 */
export function parseRouterOptions(input: unknown, W = "byokRouter"): Readonly<ParsedRouterOptions> {
  if (input === undefined) throw configError(`${W}: pass options with a BYOK instance: ${W}({ byok }).`);
  const options = checkOptionsObject<RouterOptions>(input, KNOWN, W);
  if (!BYOK.is(options.byok)) {
    throw configError(`${W}: byok must be a BYOK instance: ${W}({ byok: new BYOK({ masterKey }) }).`);
  }
  const basePath = options.basePath ?? "/byok";
  if (typeof basePath !== "string" || !BASE_PATH.test(basePath)) {
    throw configError(
      `${W}: basePath must start with "/" and not end with "/", using letters, digits, ".", "_", "~" or "-" (e.g. "/byok" or "/api/byok").`,
    );
  }
  if (options.getUserId !== undefined && typeof options.getUserId !== "function") {
    throw configError(
      `${W}: getUserId must be a function (req) => string | undefined that returns the signed-in user's id.`,
    );
  }
  for (const name of ["getTeamId", "canManageTeamKeys"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function")
      throw configError(
        `${W}: ${name} must be a function of the request, e.g. ${name === "getTeamId" ? "(req) => req.user?.teamId" : '(req) => req.user?.role === "admin"'}.`,
      );
  }
  return Object.freeze({
    byok: options.byok,
    basePath,
    getUserId: options.getUserId ?? defaultGetUserId,
    getTeamId: options.getTeamId ?? noTeam,
    canManageTeamKeys: options.canManageTeamKeys ?? nobody,
    rateLimit: checkRateLimit(options.rateLimit, W),
    bodyLimit: checkBodyLimit(options.bodyLimit ?? "16kb", W),
    helmet: checkHelmet(options.helmet, W),
    messageFor: parseMessages(options.messages, W),
    connect: checkConnect(options.connect, options.byok, W),
  });
}
