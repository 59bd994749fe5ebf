// Per-user rate limits for the byok routes (express-rate-limit): in the Redis of a RedisStore, else in process memory.
import { debuglog } from "node:util";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { type ClientRateLimitInfo, type Options, rateLimit, type Store } from "express-rate-limit";
import { RedisStore as RateLimitRedisStore, type RedisReply } from "rate-limit-redis";
import type { KeyStore } from "../core/types.js";
import { ByokError } from "../errors.js";
import { RATE_LIMIT_COUNTERS, type RateLimitCounters } from "../stores/redis-store.js";
import type { ParsedRouterOptions, RateLimitWindow } from "./options.js";
import { userIdOf } from "./request-user.js";

const debug = debuglog("byok");

/**
 * rate-limit-redis's store, changed in two ways for a Redis that may be down or restart: its Lua
 * scripts are loaded on first use rather than in `init` (express-rate-limit prints a failed init to
 * the console, and byok-ai never prints), and after any failure the next request loads the script
 * again. rate-limit-redis would keep a failed load's promise (503 until a restart), and it reloads on
 * NOSCRIPT only, which a restarted Redis answers but RedisStore's STORE_UNAVAILABLE hides.
 */
class CounterStore extends RateLimitRedisStore {
  #increment?: Promise<string>;
  #get?: Promise<string>;

  override async init(options: Options): Promise<void> {
    this.windowMs = options.windowMs;
  }

  override async increment(key: string): Promise<ClientRateLimitInfo> {
    this.incrementScriptSha = this.#increment ??= this.loadIncrementScript();
    try {
      return await super.increment(key);
    } catch (error) {
      this.#increment = undefined;
      throw error;
    }
  }

  override async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    this.getScriptSha = this.#get ??= this.loadGetScript();
    try {
      return await super.get(key);
    } catch (error) {
      this.#get = undefined;
      throw error;
    }
  }
}

/** The store's hook for counters, when it has the brand (byok-ai's own RedisStore). */
function countersOf(keyStore: KeyStore): RateLimitCounters | undefined {
  const hook = (keyStore as { [RATE_LIMIT_COUNTERS]?: () => RateLimitCounters | undefined })[RATE_LIMIT_COUNTERS];
  return typeof hook === "function" ? hook.call(keyStore) : undefined;
}

/**
 * Where a limiter counts: in the key store's Redis when the key store is byok-ai's `RedisStore` (a
 * single node), so every instance shares the limits, with the store's connection and its time limit;
 * else in this process's memory (any other store, or a Redis Cluster client). Chosen from the
 * store's brand, never guessed from its properties.
 */
function counterStore(keyStore: KeyStore, name: "keys" | "chat"): { store?: Store; keyOf: (userId: string) => string } {
  const counters = countersOf(keyStore);
  if (!counters) return { keyOf: (userId) => userId };
  const store = new CounterStore({
    prefix: `${counters.prefix}${name}:`,
    sendCommand: (command, ...args) => counters.sendCommand(command!, ...args) as Promise<RedisReply>,
  });
  return { store, keyOf: counters.userKey };
}

/** express-rate-limit's warnings and errors go to `NODE_DEBUG=byok`, never to the console. */
const quietLogger = {
  warn: (error: unknown) => debug("rate limiter warning: %s", error instanceof Error ? error.name : typeof error),
  error: (error: unknown) => debug("rate limiter error: %s", error instanceof Error ? error.name : typeof error),
};

function limiter(window: Required<RateLimitWindow>, keyStore: KeyStore, name: "keys" | "chat"): RequestHandler {
  const { store, keyOf } = counterStore(keyStore, name);
  const limit = rateLimit({
    windowMs: window.windowMs,
    limit: window.limit,
    // Runs after requireUser, so there always is a user id to count by.
    keyGenerator: (req) => keyOf(userIdOf(req)),
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

/** The limiters for the keys routes and for chat (empty lists with `rateLimit: false`). */
export function createLimiters(
  settings: ParsedRouterOptions["rateLimit"],
  keyStore: KeyStore,
): { keys: RequestHandler[]; chat: RequestHandler[] } {
  if (settings === false) return { keys: [], chat: [] };
  return { keys: [limiter(settings.keys, keyStore, "keys")], chat: [limiter(settings.chat, keyStore, "chat")] };
}
