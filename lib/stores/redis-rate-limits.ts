// RedisStore's rateLimits capability: the router's per-user counters (express-rate-limit's Store) in the store's Redis.
import { type ClientRateLimitInfo, MemoryStore as MemoryCounters, type Options, type Store } from "express-rate-limit";
import { RedisStore as RateLimitRedisStore, type RedisReply } from "rate-limit-redis";

/** What the counters need of a RedisStore: its prefix, its client (to tell a Cluster) and its raw command. */
interface CounterHost {
  readonly prefix: string;
  readonly client?: { isCluster?: boolean };
  command(name: string, ...args: (string | number)[]): Promise<unknown>;
}

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
 * The counters of the router's `limiter` on `store`'s Redis: rate-limit-redis on the store's own connection (its
 * public `command`, with the store's time limit), so every instance shares the limits. Counters live under
 * `byok-rl:<store prefix><limiter>:`, outside what the store scans, keyed as the router counts (the user's
 * {@link encodedOwnerId}, hash-tagged as the store's hashes). A Redis Cluster client counts in memory instead: rate-limit-redis's `sendCommand` loads its
 * script on one node only.
 */
export function redisRateLimits(store: CounterHost, limiter: "keys" | "chat"): Store {
  if (store.client?.isCluster) return new MemoryCounters();
  return new HealingCounters(
    () =>
      new RateLimitRedisStore({
        prefix: `byok-rl:${store.prefix}${limiter}:`,
        sendCommand: (command, ...args) => store.command(command!, ...args) as Promise<RedisReply>,
      }),
  );
}
