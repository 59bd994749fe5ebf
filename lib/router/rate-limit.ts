// Per-user rate limits for the byok routes (express-rate-limit): in the app's store, else the key store's rateLimits, else memory.
import { debuglog } from "node:util";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { rateLimit, type Store } from "express-rate-limit";
import { encodedOwnerId } from "../core/owner.js";
import type { KeyStore } from "../core/types.js";
import { ByokError } from "../errors.js";
import type { ParsedRouterOptions, RateLimitWindow } from "./options.js";
import { userIdOf } from "./request-user.js";

const debug = debuglog("byok");

type Limiter = "keys" | "chat";

/** express-rate-limit's warnings and errors go to `NODE_DEBUG=byok`, never to the console. */
const quietLogger = {
  warn: (error: unknown) => debug("rate limiter warning: %s", error instanceof Error ? error.name : typeof error),
  error: (error: unknown) => debug("rate limiter error: %s", error instanceof Error ? error.name : typeof error),
};

function limiter(window: Required<RateLimitWindow>, name: Limiter, store: Store | undefined): RequestHandler {
  const limit = rateLimit({
    windowMs: window.windowMs,
    limit: window.limit,
    // Runs after requireUser, so there always is a user id to count by.
    keyGenerator: (req) => encodedOwnerId(userIdOf(req)),
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
  // The counter store failing is a store outage, answered 503 like the key store's.
  return function rateLimitMiddleware(req: Request, res: Response, next: NextFunction): void {
    void limit(req, res, (error?: unknown) => {
      if (error === undefined || ByokError.is(error)) return next(error);
      next(
        new ByokError("STORE_UNAVAILABLE", "The rate-limit store failed; check that it is reachable, then try again.", {
          cause: { type: error instanceof Error ? error.name : typeof error },
        }),
      );
    });
  };
}

/**
 * The limiters for the keys routes and for chat (empty lists with `rateLimit: false`), each counting
 * in a store of its own: the app's `rateLimit.store(name)`, else the key store's `rateLimits` capability (RedisStore
 * counts in its Redis, shared by every instance), else express-rate-limit's memory store.
 */
export function createLimiters(
  settings: ParsedRouterOptions["rateLimit"],
  keyStore: KeyStore,
): { keys: RequestHandler[]; chat: RequestHandler[] } {
  if (settings === false) return { keys: [], chat: [] };
  const storeFor = settings.store ?? keyStore.rateLimits?.bind(keyStore);
  const make = (name: Limiter) => limiter(settings[name], name, storeFor?.(name));
  return { keys: [make("keys")], chat: [make("chat")] };
}
