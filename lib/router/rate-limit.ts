// Per-user rate limits for the byok routes (express-rate-limit), in memory or in the BYOK store's Redis.
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { rateLimit, type Store } from "express-rate-limit";
import { RedisStore, type RedisReply } from "rate-limit-redis";
import type { KeyStore } from "../core/types.js";
import { ByokError } from "../errors.js";
import type { ParsedRouterOptions, RateLimitWindow } from "./options.js";
import { userIdOf } from "./request-user.js";

type RedisLike = {
  call?: (command: string, ...args: string[]) => Promise<unknown>;
  sendCommand?: (args: string[]) => Promise<unknown>;
  isCluster?: boolean;
};

/**
 * The counter store: Redis when the BYOK store is backed by a single Redis node (a `RedisStore`, which
 * connects on first use, or any store exposing an ioredis `client.call` / node-redis `sendCommand`),
 * so every instance shares the limits; else process memory. A Redis Cluster falls back to memory:
 * rate-limit-redis's single-connection mode loads its script on one node only. The counters' prefix
 * stays outside the key store's own prefix so key scans never see them.
 */
export function limiterStore(keyStore: KeyStore, name: "keys" | "chat"): Store | undefined {
  const { client, prefix, connect } = keyStore as {
    client?: RedisLike;
    prefix?: unknown;
    connect?: () => Promise<RedisLike>;
  };
  const rlPrefix = `byok-rl:${typeof prefix === "string" ? prefix : ""}${name}:`;
  if (client?.isCluster) return undefined;
  if (typeof connect === "function") {
    // RedisStore opens its connection on first use; so does this.
    const send = async (command: string, ...args: string[]) => {
      const redis = await connect.call(keyStore);
      return redis.call!(command, ...args) as Promise<RedisReply>;
    };
    return new RedisStore({ prefix: rlPrefix, sendCommand: (command, ...args) => send(command!, ...args) });
  }
  if (typeof client !== "object" || client === null) return undefined;
  const { call, sendCommand } = client;
  if (typeof call === "function") {
    return new RedisStore({
      prefix: rlPrefix,
      sendCommand: (command, ...args) => call.call(client, command!, ...args) as Promise<RedisReply>,
    });
  }
  if (typeof sendCommand === "function") {
    return new RedisStore({
      prefix: rlPrefix,
      sendCommand: (...args) => sendCommand.call(client, args) as Promise<RedisReply>,
    });
  }
  return undefined;
}

function limiter(window: Required<RateLimitWindow>, keyStore: KeyStore, name: "keys" | "chat"): RequestHandler {
  const store = limiterStore(keyStore, name);
  const limit = rateLimit({
    windowMs: window.windowMs,
    limit: window.limit,
    // Runs after requireUser, so there always is a user id to count by.
    keyGenerator: (req) => userIdOf(req),
    standardHeaders: "draft-7",
    legacyHeaders: false,
    ...(store ? { store } : {}),
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
