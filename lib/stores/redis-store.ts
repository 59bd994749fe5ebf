// RedisStore: a KeyStore on Redis or Redis Cluster (ioredis), one hash per user, atomic Lua updates, fast failure.
import { debuglog } from "node:util";
import type { Cluster, Redis, RedisOptions } from "ioredis";
import { ByokError } from "../errors.js";
import { checkOptionsObject, configError, type KeysEnum } from "../core/option-checks.js";
import { loadOptionalPeer, requirePeerInstalled } from "../core/optional-peer.js";
import type { CompareAndSwap, KeyRecord, KeyStore, PutResult } from "../core/types.js";
import {
  COMPARE_AND_SWAP,
  compareAndSwapAll,
  DELETE_USER,
  PUT,
  runScript,
  SET_STATUS,
  TOUCH,
} from "./redis-scripts.js";
import { type RecordJson, toRecord, userIdOf, userKey } from "./redis-layout.js";
import { hgetallMany, waitUntilReady } from "./redis-client.js";
import { storeUnavailable, withTimeLimit } from "./store-support.js";
import { checkBatchSize } from "../core/batch-size.js";
import type { RedisClientLike } from "./driver-types.js";

const debug = debuglog("byok");

/** Options of `new RedisStore()`: exactly one of `client` / `url`. */
export interface RedisStoreOptions {
  /** Your ioredis `Redis` or `Cluster`. The store never closes it. */
  client?: RedisClientLike;
  /** e.g. `"redis://localhost:6379"`: the store opens (and on `close()` quits) its own fail-fast connection. */
  url?: string;
  /** Prepended to every key; letters, digits and `: _ . - /`. Defaults to `"byok:"`. */
  prefix?: string;
}

const KNOWN: KeysEnum<RedisStoreOptions> = { client: true, url: true, prefix: true };
// No braces (they would move the cluster hash tag) and no glob characters (SCAN MATCH uses the prefix).
const PREFIX = /^[A-Za-z0-9:_.\-/]{1,64}$/;
/** Longest any one store call may take before it rejects STORE_UNAVAILABLE. */
const CALL_LIMIT_MS = 500;
/** Added to that limit per item of a batched call (scan pages, compareAndSwapMany), which queue behind each other. */
const PER_ITEM_MS = 1;
/** The connection a url store opens: no offline queue (fail at once while down), reconnect forever in the background. */
const OWN_CONNECTION: RedisOptions = {
  enableOfflineQueue: false,
  connectTimeout: 1000,
  maxRetriesPerRequest: 1,
  retryStrategy: (times) => Math.min(50 * times, 500),
  enableAutoPipelining: true,
};

type Client = Redis | Cluster;

/** Marks a RedisStore from any copy of byok-ai (`Symbol.for`: an ESM and a CommonJS copy in one app share it). */
const BRAND = Symbol.for("byok-ai.RedisStore");

/**
 * Keeps encrypted keys in Redis or Redis Cluster: one hash per user, `<prefix>{<base64url user id>}`,
 * field = provider id, value = JSON of the record (ciphertext and metadata only). The hash tag keeps
 * a user's keys in one cluster slot; encoding the id means no id can reach another user's hash.
 * Every call rejects `STORE_UNAVAILABLE` within about 500 ms while Redis is down, and works again
 * by itself once Redis is back.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ url: process.env.REDIS_URL });     // or { client: new Redis(...) }
 * const byok = new BYOK({ masterKey: process.env.BYOK_MASTER_KEY!, store });
 * ```
 * @throws ByokError CONFIG_INVALID for bad options (both or neither of client/url, a bad prefix), or a url without ioredis installed
 */
export class RedisStore implements KeyStore {
  readonly #prefix: string;
  readonly #url?: string;
  #client?: Client;
  #opening?: Promise<Client>;
  // One wait for "ready" shared by every call made while connecting (not one listener set per call).
  #readyWait?: Promise<void>;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    const o = checkOptionsObject<RedisStoreOptions>(options, KNOWN, "RedisStore");
    if (o.client !== undefined && o.url !== undefined) throw configError("RedisStore: pass client or url, not both.");
    if (o.client === undefined && o.url === undefined)
      throw configError(
        'RedisStore: pass client (an ioredis Redis or Cluster) or url (e.g. "redis://localhost:6379").',
      );
    if (o.url !== undefined && (typeof o.url !== "string" || !/^rediss?:\/\/./.test(o.url)))
      throw configError('RedisStore: url must be a redis:// or rediss:// URL, e.g. "redis://localhost:6379".');
    const c = o.client as Partial<Redis> | undefined;
    if (
      c !== undefined &&
      (typeof c !== "object" || c === null || typeof c.hget !== "function" || typeof c.evalsha !== "function")
    ) {
      throw configError("RedisStore: client must be an ioredis Redis or Cluster instance.");
    }
    if (o.prefix !== undefined && (typeof o.prefix !== "string" || !PREFIX.test(o.prefix))) {
      throw configError(
        'RedisStore: prefix must be 1 to 64 letters, digits or `: _ . - /` (no braces or glob characters), e.g. "byok:".',
      );
    }
    // A url store opens its own connection with ioredis: say now, not on the first request, that it is missing.
    if (o.url !== undefined) requirePeerInstalled("ioredis", "RedisStore");
    this.#prefix = o.prefix ?? "byok:";
    this.#url = o.url;
    this.#client = o.client as Client | undefined;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * The ioredis client the store uses, for sharing it (e.g. with `rate-limit-redis`). `undefined`
   * for a url store until its first call or {@link RedisStore.connect}.
   */
  get client(): RedisClientLike | undefined {
    return this.#client;
  }

  /** The key prefix (e.g. `"byok:"`); the router's rate-limit counters live under `byok-rl:<prefix>`. */
  get prefix(): string {
    return this.#prefix;
  }

  /**
   * True for a RedisStore from any copy of byok-ai (an app that loads byok-ai both through
   * `import` and `require` has two). Use it instead of `instanceof`.
   */
  static is(value: unknown): value is RedisStore {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /**
   * Sends one raw command on the store's connection, under the store's time limit: for sharing the
   * connection, e.g. with rate-limit-redis's `sendCommand`. A Redis error reply rejects as it is
   * (rate-limit-redis reloads its script on `NOSCRIPT`); a connection failure or the time limit
   * rejects `STORE_UNAVAILABLE`.
   */
  async command(name: string, ...args: (string | number)[]): Promise<unknown> {
    let reply: { error: unknown } | undefined;
    const result = await this.#run("command", async (c) => {
      try {
        return await (c as Redis).call(name, ...args);
      } catch (error) {
        if ((error as Error | undefined)?.name !== "ReplyError") throw error;
        reply = { error }; // Redis answered: not an outage
        return undefined;
      }
    });
    if (reply) throw reply.error;
    return result;
  }

  /** Opens the connection now (a url store otherwise connects on first use) and resolves to the client. */
  connect(): Promise<RedisClientLike> {
    return this.#run("connect", async (c) => c);
  }

  async get(userId: string, provider: string): Promise<KeyRecord | undefined> {
    const json = await this.#run("get", (c) => c.hget(this.#key(userId), provider));
    return json === null ? undefined : toRecord(userId, provider, json);
  }

  async list(userId: string): Promise<KeyRecord[]> {
    const hash = await this.#run("list", (c) => c.hgetall(this.#key(userId)));
    return Object.entries(hash).map(([provider, json]) => toRecord(userId, provider, json));
  }

  async put(record: KeyRecord): Promise<PutResult> {
    const { userId, provider, ciphertext, hint, createdAt, updatedAt, endpoint } = record;
    const value: RecordJson = { ciphertext, hint, createdAt, updatedAt };
    if (endpoint !== undefined) value.endpoint = endpoint;
    const kept = await this.#run("put", (c) => runScript(c, PUT, this.#key(userId), provider, JSON.stringify(value)));
    const replaced = typeof kept === "string";
    const stored: KeyRecord = { userId, provider, ciphertext, hint, createdAt: replaced ? kept : createdAt, updatedAt };
    if (endpoint !== undefined) stored.endpoint = endpoint;
    return { record: stored, replaced };
  }

  async delete(userId: string, provider: string): Promise<boolean> {
    return (await this.#run("delete", (c) => c.hdel(this.#key(userId), provider))) > 0;
  }

  async deleteUser(userId: string): Promise<number> {
    return Number(await this.#run("deleteUser", (c) => runScript(c, DELETE_USER, this.#key(userId))));
  }

  async touch(userId: string, provider: string, lastUsedAt: string): Promise<void> {
    await this.#run("touch", (c) => runScript(c, TOUCH, this.#key(userId), provider, lastUsedAt));
  }

  async setStatus(userId: string, provider: string, ciphertext: string, status: "ok" | "invalid"): Promise<void> {
    await this.#run("setStatus", (c) => runScript(c, SET_STATUS, this.#key(userId), provider, ciphertext, status));
  }

  async compareAndSwap(
    userId: string,
    provider: string,
    expectedCiphertext: string,
    ciphertext: string,
  ): Promise<boolean> {
    return (
      (await this.#run("compareAndSwap", (c) =>
        runScript(c, COMPARE_AND_SWAP, this.#key(userId), provider, expectedCiphertext, ciphertext),
      )) === 1
    );
  }

  /**
   * Compare-and-sets a whole batch: on one node, one script call per 250 records (sent together);
   * on a Cluster, where a script cannot span slots, one call per record.
   */
  async compareAndSwapMany(swaps: readonly CompareAndSwap[]): Promise<boolean[]> {
    if (swaps.length === 0) return [];
    const keys = swaps.map((s) => this.#key(s.userId));
    return this.#run("compareAndSwap", (c) => compareAndSwapAll(c, keys, swaps), swaps.length);
  }

  /**
   * Walks every master with SCAN (never KEYS), one page of about `batchSize` keys at a time, each
   * page's hashes read in one pipeline. SCAN may return a key twice (when Redis shrinks its table
   * mid-walk), so the walk remembers the hash names it has read and yields every record once:
   * `verify` counts stay exact. That set is the one thing that grows, by about 100 bytes per user.
   */
  async *scan(options: { batchSize?: number } = {}): AsyncIterable<KeyRecord[]> {
    const size = checkBatchSize(options.batchSize);
    const client = await this.connect();
    const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes("master") : [client as Redis];
    const seen = new Set<string>();
    const batch: KeyRecord[] = [];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await this.#run("scan", () =>
          node.scan(cursor, "MATCH", `${this.#prefix}{*`, "COUNT", size),
        );
        cursor = next;
        const users: [key: string, userId: string][] = [];
        for (const key of keys) {
          const userId = userIdOf(this.#prefix, key);
          if (userId === undefined || seen.has(key)) continue;
          seen.add(key);
          users.push([key, userId]);
        }
        const hashes = users.length
          ? await this.#run(
              "scan",
              (c) =>
                hgetallMany(
                  c,
                  users.map(([key]) => key),
                ),
              users.length,
            )
          : [];
        users.forEach(([, userId], i) => {
          for (const [provider, json] of Object.entries(hashes[i]!)) batch.push(toRecord(userId, provider, json));
        });
        while (batch.length >= size) yield batch.splice(0, size);
      } while (cursor !== "0");
    }
    if (batch.length) yield batch;
  }

  /** Quits the connection the store opened from `url`; a given `client` is left open. */
  async close(): Promise<void> {
    if (this.#url === undefined || this.#closed) return;
    this.#closed = true;
    const client = this.#opening && (await this.#opening.catch(() => undefined));
    if (!client) return;
    if (client.status === "ready")
      await withTimeLimit(client.quit(), CALL_LIMIT_MS, () => new Error("quit")).catch(() => client.disconnect());
    else client.disconnect();
  }

  #key(userId: string): string {
    return userKey(this.#prefix, userId);
  }

  async #run<T>(operation: string, call: (client: Client) => Promise<T>, items = 1): Promise<T> {
    try {
      // The first call loads ioredis (a one-time import that can take longer than a call may on a busy
      // machine): that is not Redis's time, so the limit starts after it, as a provider's does after `load`.
      if (this.#client === undefined && this.#url !== undefined && !this.#closed) await this.#open();
      return await withTimeLimit(this.#ready().then(call), CALL_LIMIT_MS + (items - 1) * PER_ITEM_MS, () =>
        Object.assign(new Error("timed out"), { code: "TIMEOUT" }),
      );
    } catch (error) {
      throw storeUnavailable("RedisStore", operation, error, "check that Redis is reachable, then try again");
    }
  }

  async #ready(): Promise<Client> {
    if (this.#closed) throw new ByokError("STORE_UNAVAILABLE", "RedisStore: the store is closed; create a new one.");
    const client = this.#client ?? (await this.#open());
    if (client.status === "wait") await client.connect();
    else if (client.status === "connecting" || client.status === "connect") {
      this.#readyWait ??= waitUntilReady(client, CALL_LIMIT_MS).finally(() => (this.#readyWait = undefined));
      await this.#readyWait;
    }
    // Our own connection has no offline queue: while it reconnects, fail now instead of waiting.
    else if (client.status !== "ready" && this.#url !== undefined)
      throw Object.assign(new Error("reconnecting"), { code: "NOT_READY" });
    return client;
  }

  #open(): Promise<Client> {
    this.#opening ??= loadOptionalPeer<typeof import("ioredis")>("ioredis", "RedisStore").then((m) => {
      // ESM import() of this CommonJS package may expose Redis only on the default export.
      const RedisClass = m.Redis ?? (m as unknown as { default: typeof m }).default.Redis;
      const client = new RedisClass(this.#url!, OWN_CONNECTION);
      client.on("error", (error: { code?: string }) =>
        debug("RedisStore connection error: %s", error.code ?? "unknown"),
      );
      this.#client = client;
      return client;
    });
    return this.#opening;
  }
}
