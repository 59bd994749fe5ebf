// Per-user rate limits for the byok routes (express-rate-limit): in the app's store, else a RedisStore's Redis, else memory.
import { debuglog } from "node:util";
import type { Request, Response } from "express";
import { type ClientRateLimitInfo, type Options, rateLimit, type Store } from "express-rate-limit";
import { RedisStore as RateLimitRedisStore, type RedisReply } from "rate-limit-redis";
import type { KeyStore } from "../core/types.js";
import { ByokError } from "../errors.js";
import { encodedUserId } from "../stores/redis-layout.js";
import { RedisStore } from "../stores/redis-store.js";
import type { ParsedRouterOptions, RateLimitStoreFactory, RateLimitWindow } from "./options.js";

const debug = debuglog("byok");

type Limiter = "keys" | "chat";

/**
 * rate-limit-redis, remade after any failure. It keeps the promise of its script load for good: a
 * load that failed (Redis down when the app started, or restarting) would fail every later request
 * until the process restarts. Here the next request after a failure gets a fresh rate-limit-redis
 * store, which loads its scripts again, so the limiter heals as soon as Redis answers. (A script
 * Redis lost while up, after a restart, failover or `SCRIPT FLUSH`, answers `NOSCRIPT`, which
 * RedisStore's `command` passes on as it is and rate-limit-redis itself reloads on.)
 */
class HealingCounters implements Store {
  readonly #make: () => RateLimitRedisStore;
  #windowMs = 60_000;
  #current?: Promise<RateLimitRedisStore>;

  constructor(make: () => RateLimitRedisStore) {
    this.#make = make;
  }

  init(options: Options): void {
    this.#windowMs = options.windowMs; // the scripts load on first use: Redis may not be up yet
  }

  async #use<T>(call: (store: RateLimitRedisStore) => Promise<T>): Promise<T> {
    const current = (this.#current ??= (async () => {
      const store = this.#make();
      await store.init({ windowMs: this.#windowMs } as Options); // it reads windowMs only
      return store;
    })());
    try {
      return await call(await current);
    } catch (error) {
      if (this.#current === current) this.#current = undefined;
      throw error;
    }
  }

  increment(key: string): Promise<ClientRateLimitInfo> {
    return this.#use((store) => store.increment(key));
  }

  get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return this.#use((store) => store.get(key));
  }

  decrement(key: string): Promise<void> {
    return this.#use((store) => store.decrement(key));
  }

  resetKey(key: string): Promise<void> {
    return this.#use((store) => store.resetKey(key));
  }
}

/**
 * The default counter store when the key store is byok-ai's `RedisStore` on a single node: rate-limit-redis
 * on the store's own connection (its public `command`, with the store's time limit), so every instance
 * shares the limits. Counters live under `byok-rl:<store prefix><limiter>:`, outside what the store scans,
 * keyed by the same hash-tagged user encoding as the store's hashes. A Redis Cluster client counts in
 * memory instead: rate-limit-redis's `sendCommand` loads its script on one node only.
 */
function redisCounters(keyStore: KeyStore): RateLimitStoreFactory | undefined {
  if (!RedisStore.is(keyStore) || keyStore.client?.isCluster) return undefined;
  return (name) =>
    new HealingCounters(
      () =>
        new RateLimitRedisStore({
          prefix: `byok-rl:${keyStore.prefix}${name}:`,
          sendCommand: (command, ...args) => keyStore.command(command!, ...args) as Promise<RedisReply>,
        }),
    );
}

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

/** The request express-rate-limit sees: only the user to count by (its IP checks are off). */
interface CountedRequest {
  byokUserId: string;
  headers: Record<string, never>;
}

function limiter(window: Required<RateLimitWindow>, name: Limiter, store: Store | undefined): Limit {
  const limit = rateLimit({
    windowMs: window.windowMs,
    limit: window.limit,
    keyGenerator: (req) => encodedUserId((req as unknown as CountedRequest).byokUserId),
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
 * in a store of its own: the app's `rateLimit.store(name)`, else the key store's Redis (see
 * {@link redisCounters}), else express-rate-limit's memory store.
 */
export function createLimiters(
  settings: ParsedRouterOptions["rateLimit"],
  keyStore: KeyStore,
): { keys?: Limit; chat?: Limit } {
  if (settings === false) return {};
  const storeFor = settings.store ?? redisCounters(keyStore);
  const make = (name: Limiter) => limiter(settings[name], name, storeFor?.(name));
  return { keys: make("keys"), chat: make("chat") };
}
