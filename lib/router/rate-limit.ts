// Per-user rate limits for the byok routes (express-rate-limit): in the app's store, else stores.rateLimits, else memory.
import { debuglog } from "node:util";
import type { Request, Response } from "express";
import { rateLimit, type Store } from "express-rate-limit";
import { encodedOwnerId } from "../core/owner.js";
import { countsWithKeys } from "../core/stores.js";
import type { ByokStores, KeyStore } from "../core/types.js";
import { ByokError } from "../errors.js";
import type { ParsedRouterOptions, RateLimitWindow } from "./options.js";

const debug = debuglog("byok");

type Limiter = "keys" | "chat";

/** express-rate-limit's warnings and errors go to `NODE_DEBUG=byok`, never to the console. */
const quietLogger = {
  warn: (error: unknown) => debug("rate limiter warning: %s", error instanceof Error ? error.name : typeof error),
  error: (error: unknown) => debug("rate limiter error: %s", error instanceof Error ? error.name : typeof error),
};

/** What one count said: the rate-limit headers to send, and `RATE_LIMITED` (or `STORE_UNAVAILABLE`) when refused. */
export interface LimitVerdict {
  headers: [name: string, value: string][];
  error?: ByokError;
}

/** Counts one request of `userId` in a limiter; framework-free, so the router and the fetch handler count alike. */
export type Limit = (userId: string) => Promise<LimitVerdict>;

/** A router's limiters (none with `rateLimit: false`). */
export interface Limits {
  keys?: Limit;
  chat?: Limit;
  /**
   * The key store, when the limiters count in the same store's `rateLimits` and it sends both together (RedisStore):
   * a chat's key records are then read beside its count, in one round trip. (On a Cluster client, whose counters
   * are in memory, the read just starts as early.)
   */
  keyStore?: KeyStore;
}

/** The request express-rate-limit sees: only the user to count by (its IP checks are off). */
interface CountedRequest {
  byokUserId: string;
  headers: Record<string, never>;
}

function limiter(window: Required<RateLimitWindow>, name: Limiter, store: Store | undefined): Limit {
  const limit = rateLimit({
    windowMs: window.windowMs,
    limit: window.limit,
    keyGenerator: (req) => encodedOwnerId((req as unknown as CountedRequest).byokUserId),
    standardHeaders: "draft-7",
    legacyHeaders: false,
    ...(store ? { store } : {}),
    logger: quietLogger,
    // Keyed by user, not IP: the IP checks would only warn about settings that do not matter here.
    validate: {
      ip: false,
      trustProxy: false,
      xForwardedForHeader: false,
      forwardedHeader: false,
      keyGeneratorIpFallback: false,
    },
    handler: (req, _res, next) => {
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfter = Math.max(
        1,
        Math.ceil(((resetTime?.getTime() ?? Date.now() + window.windowMs) - Date.now()) / 1000),
      );
      next(
        new ByokError(
          "RATE_LIMITED",
          `Too many ${name} requests for this user; wait ${retryAfter} seconds, then try again.`,
          { retryAfter },
        ),
      );
    },
  });
  // express-rate-limit only counts in its Store and sets headers: it runs here on a request of the user
  // alone and a response that collects its headers, whatever framework the request came through.
  return (userId) =>
    new Promise<LimitVerdict>((resolve) => {
      const headers: [string, string][] = [];
      const req: CountedRequest = { byokUserId: userId, headers: {} };
      const res = {
        headersSent: false,
        setHeader: (name: string, value: string) => void headers.push([name, String(value)]),
      };
      const done = (error?: unknown) => {
        if (error === undefined || ByokError.is(error)) return resolve({ headers, ...(error ? { error } : {}) });
        // The counter store failing is a store outage, answered 503 like the key store's.
        resolve({
          headers,
          error: new ByokError(
            "STORE_UNAVAILABLE",
            "The rate-limit store failed; check that it is reachable, then try again.",
            { cause: { type: error instanceof Error ? error.name : typeof error } },
          ),
        });
      };
      void limit(req as unknown as Request, res as unknown as Response, done); // it passes its own failures to done
    });
}

/**
 * The limiters for the keys routes and for chat (none with `rateLimit: false`), each counting
 * in a store of its own: the app's `rateLimit.store(name)`, else `stores.rateLimits` (RedisStore's counts in its
 * Redis, shared by every instance), else express-rate-limit's memory store.
 */
export function createLimiters(settings: ParsedRouterOptions["rateLimit"], stores: Readonly<ByokStores>): Limits {
  if (settings === false) return {};
  const inKeyStore = settings.store === undefined && countsWithKeys(stores);
  const storeFor = settings.store ?? stores.rateLimits;
  const make = (name: Limiter) => limiter(settings[name], name, storeFor?.(name));
  return { keys: make("keys"), chat: make("chat"), ...(inKeyStore ? { keyStore: stores.keys } : {}) };
}
