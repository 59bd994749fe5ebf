// RedisStore: a KeyStore on Redis or Redis Cluster (ioredis), one hash per user, atomic Lua updates, fast failure.
import { debuglog } from "node:util";
import type { Cluster, Redis, RedisOptions } from "ioredis";
import type { Store as RateLimitCounters } from "express-rate-limit";
import { ByokError } from "../errors.js";
import { checkDuration, checkOptionsObject, configError, type KeysEnum } from "../core/option-checks.js";
import { loadOptionalPeer, requirePeerInstalled } from "../core/optional-peer.js";
import {
  DEFAULT_LABEL,
  type BudgetCounter,
  type BudgetRefusal,
  type BudgetStore,
  type ByokStores,
  type CompareAndSwap,
  type KeyRecord,
  type KeyStore,
  type OnceStore,
  type PutResult,
  type StoredKeyStatus,
  type UsageRow,
  type UsageStore,
} from "../core/types.js";
import { capabilityOf, rateLimitsWithKeys } from "../core/stores.js";
import {
  COMPARE_AND_SWAP,
  compareAndSwapAll,
  DELETE_USER,
  PUT,
  runScript,
  SET_STATUS,
  TOUCH,
} from "./redis-scripts.js";
import { onceKey, onceKeysOf, type RecordJson, toRecord, userIdOf, userKey } from "./redis-layout.js";
import { hgetallMany, untilReady } from "./redis-client.js";
import { redisRateLimits } from "./redis-rate-limits.js";
import { checkOnceKey, recordField, settingsOf, storeUnavailable, withTimeLimit } from "./store-support.js";
import { checkBatchSize } from "../core/batch-size.js";
import { invalid } from "../core/validate.js";
import type { RedisClientLike } from "./driver-types.js";
import {
  addUsageOn,
  budgetKeys,
  checkAddUsage,
  ownerDataPatterns,
  readUsageFrom,
  reserveOn,
  settleOn,
  usageKeys,
} from "./redis-usage.js";
import { checkCount } from "./usage-support.js";

const debug = debuglog("byok");

/** Options of `new RedisStore()`: exactly one of `client` / `url`. */
export interface RedisStoreOptions {
  /** Your ioredis `Redis` or `Cluster`. The store never closes it. */
  client?: RedisClientLike;
  /** e.g. `"redis://localhost:6379"`: the store opens (and on `close()` quits) its own fail-fast connection. */
  url?: string;
  /** Prepended to every key; letters, digits and `: _ . - /`. Defaults to `"byok:"`. */
  prefix?: string;
  /**
   * Longest one call may take, waiting for the connection included, before it rejects
   * `STORE_UNAVAILABLE`: a whole number of milliseconds from 1 to 60,000. A call that hits it may
   * still have reached Redis (see docs/stores-timeouts.md). Defaults to 500.
   */
  callTimeoutMs?: number;
}

const KNOWN: KeysEnum<RedisStoreOptions> = { client: true, url: true, prefix: true, callTimeoutMs: true };
// No braces (they would move the cluster hash tag) and no glob characters (SCAN MATCH uses the prefix).
const PREFIX = /^[A-Za-z0-9:_.\-/]{1,64}$/;
const DEFAULT_CALL_TIMEOUT_MS = 500;
const MAX_CALL_TIMEOUT_MS = 60_000;
/** Added to callTimeoutMs per item of a batched call (scan pages, compareAndSwapMany), which queue behind each other. */
const PER_ITEM_MS = 1;
/**
 * The connection a url store opens: no offline queue (fail at once while down), reconnect forever in
 * the background. `maxRetriesPerRequest: 0` rejects the commands a lost connection left unanswered
 * as it closes, so ioredis never re-sends them on the next connection: their calls were answered
 * STORE_UNAVAILABLE long before, and a write must not land after that. (`autoResendUnfulfilledCommands:
 * false` would drop them without settling them, and stall every later auto-pipelined command.)
 */
const OWN_CONNECTION: RedisOptions = {
  enableOfflineQueue: false,
  connectTimeout: 1000,
  maxRetriesPerRequest: 0,
  retryStrategy: (times) => Math.min(50 * times, 500),
  enableAutoPipelining: true,
};

type Client = Redis | Cluster;
const UNAVAILABLE_FIX = "check that Redis is reachable, then try again";

/** Marks a RedisStore from any copy of byok-ai (`Symbol.for`: an ESM and a CommonJS copy in one app share it). */
const BRAND = Symbol.for("byok-ai.RedisStore");

/**
 * Keeps encrypted keys in Redis or Redis Cluster: one hash per user, `<prefix>{<base64url user id>}`,
 * field = provider id (label "default", as 0.1 wrote it) or `<provider>:<label>`, value = JSON of the record
 * (ciphertext and metadata only). Records written by earlier versions need no migration. The hash tag keeps
 * a user's keys in one cluster slot; encoding the id means no id can reach another user's hash.
 * Every call rejects `STORE_UNAVAILABLE` within `callTimeoutMs` (500 ms by default) while Redis is
 * down or slow, and works again by itself once Redis is back. The store adds no listener to a
 * `client` you pass; give it your own `client.on("error", …)`.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ url: process.env.REDIS_URL });     // or { client: new Redis(...) }
 * const byok = new BYOK({ masterKey: process.env.BYOK_MASTER_KEY!, store });
 * ```
 * @throws ByokError CONFIG_INVALID for bad options (both or neither of client/url, a bad prefix or callTimeoutMs), or a url without ioredis installed
 */
export class RedisStore implements KeyStore, ByokStores {
  /** Keeps several labels per (owner, provider): fields `<provider>` (label "default") and `<provider>:<label>`. */
  readonly labels = true;
  /** Usage rows, by owner and day, in this store's Redis. */
  readonly usage: UsageStore;
  /** Budget counters, by owner, in this store's Redis (atomic against every instance). */
  readonly budgets: BudgetStore;
  /** Single-use values (the router's connect state), by owner, in this store's Redis. */
  readonly once: OnceStore;
  /** The router's per-user counters for `limiter`, in this store's Redis (in memory on a Cluster client). */
  readonly rateLimits: (limiter: "keys" | "chat") => RateLimitCounters;
  /** The longest one call may take before it rejects `STORE_UNAVAILABLE`, in milliseconds (the `callTimeoutMs` option, 500 by default). */
  readonly callTimeoutMs: number;
  readonly #prefix: string;
  readonly #url?: string;
  #client?: Client;
  #opening?: Promise<Client>;
  #closed = false;

  /**
   * The key records: this store (read through what `keys` is asked of, so a Proxy or wrapper made over the store
   * and given whole as `store` keeps its place).
   */
  get keys(): KeyStore {
    return this;
  }

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
    this.callTimeoutMs =
      o.callTimeoutMs === undefined
        ? DEFAULT_CALL_TIMEOUT_MS
        : checkDuration(o.callTimeoutMs, "RedisStore: callTimeoutMs", MAX_CALL_TIMEOUT_MS);
    // A url store opens its own connection with ioredis: say now, not on the first request, that it is missing.
    if (o.url !== undefined) requirePeerInstalled("ioredis", "RedisStore");
    this.#prefix = o.prefix ?? "byok:";
    this.#url = o.url;
    this.#client = o.client as Client | undefined;
    this.usage = capabilityOf<UsageStore>(this, {
      add: (owners, row, retentionDays) => this.addUsage(owners, row, retentionDays),
      read: (owner, fromDay, toDay) => this.readUsage(owner, fromDay, toDay),
      deleteOwner: (owner) => this.#deleteMatching(ownerDataPatterns(this.#prefix, owner).usage),
    });
    this.budgets = capabilityOf<BudgetStore>(this, {
      reserve: (owner, id, tokens, counters, ttlMs) => this.reserve(owner, id, tokens, counters, ttlMs),
      settle: (owner, id, tokens, counters) => this.settle(owner, id, tokens, counters),
      deleteOwner: (owner) => this.#deleteMatching(ownerDataPatterns(this.#prefix, owner).budgets),
    });
    this.once = capabilityOf<OnceStore>(this, {
      put: (owner, key, value, ttlMs) => this.#putOnce(owner, key, value, ttlMs),
      take: (owner, key) => this.#takeOnce(owner, key),
      deleteOwner: (owner) => this.#deleteMatching(onceKeysOf(this.#prefix, owner)),
    });
    this.rateLimits = rateLimitsWithKeys(this, (limiter: "keys" | "chat") => redisRateLimits(this, limiter));
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * The ioredis client the store uses, for sharing it (e.g. with `rate-limit-redis`). `undefined`
   * for a url store until its first call or {@link RedisStore.connect}.
   */
  get client(): RedisClientLike | undefined {
    return this.#client;
  }

  /**
   * The configured key prefix (e.g. `"byok:"`): every key the store writes starts with it. Something
   * else that keeps keys on the same Redis (a rate limiter using {@link RedisStore.command}) should
   * keep them outside it.
   */
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

  /** Opens the connection now (a url store otherwise connects on first use) and resolves to the client. */
  connect(): Promise<RedisClientLike> {
    return this.#run("connect", async (c) => c);
  }

  /**
   * Runs one raw Redis command on the store's connection, under the same `callTimeoutMs` as the
   * store's own calls: for a library that shares the store's Redis, e.g. rate-limit-redis's
   * `sendCommand: (name, ...args) => store.command(name, ...args)`. On a Cluster, ioredis sends it to the node
   * of its first key (a command without keys to any node).
   *
   * @param name - the command, e.g. `"EVALSHA"`
   * @param args - its arguments
   * @returns Redis's reply, as ioredis decodes it (strings, numbers, arrays, `null`)
   * @throws Redis's own error (an ioredis `ReplyError`, e.g. a message starting `"NOSCRIPT"`) when
   * Redis answers with an error; ByokError STORE_UNAVAILABLE only when the connection fails, is
   * not ready, or the time limit passes; ByokError INVALID_REQUEST for an empty command name
   * @example
   * ```ts
   * const store = new RedisStore({ url: "redis://localhost:6379" });
   * const pong = await store.command("PING"); // "PONG"
   * ```
   */
  async command(name: string, ...args: (string | number)[]): Promise<unknown> {
    if (typeof name !== "string" || name.length === 0)
      throw invalid('RedisStore.command: name must be a Redis command name, e.g. "PING".', ["name"]);
    try {
      return await this.#withinLimit((c) => c.call(name, ...args));
    } catch (error) {
      // ioredis rejects an error reply with a ReplyError: Redis answered, so the caller gets its answer.
      if (error instanceof Error && error.name === "ReplyError") throw error;
      throw storeUnavailable("RedisStore", "command", error, UNAVAILABLE_FIX);
    }
  }

  async get(userId: string, provider: string, label?: string): Promise<KeyRecord | undefined> {
    const field = recordField(provider, label);
    const json = await this.#run("get", (c) => c.hget(this.#key(userId), field));
    return json === null ? undefined : toRecord(userId, field, json);
  }

  async list(userId: string): Promise<KeyRecord[]> {
    const hash = await this.#run("list", (c) => c.hgetall(this.#key(userId)));
    return Object.entries(hash).map(([field, json]) => toRecord(userId, field, json));
  }

  async put(record: KeyRecord): Promise<PutResult> {
    const { userId, provider, ciphertext, hint, createdAt, updatedAt } = record;
    const label = record.label ?? DEFAULT_LABEL;
    const value: RecordJson = { ciphertext, hint, createdAt, updatedAt, ...settingsOf(record) };
    const field = recordField(provider, label);
    const kept = await this.#run("put", (c) => runScript(c, PUT, this.#key(userId), field, JSON.stringify(value)));
    const replaced = typeof kept === "string";
    const stored: KeyRecord = { userId, provider, label, ...value, createdAt: replaced ? kept : createdAt };
    return { record: stored, replaced };
  }

  async delete(userId: string, provider: string, label?: string): Promise<boolean> {
    return (await this.#run("delete", (c) => c.hdel(this.#key(userId), recordField(provider, label)))) > 0;
  }

  /** Account deletion of the owner's hash of records (its usage, budgets and single-use values: each capability's `deleteOwner`). */
  async deleteUser(userId: string): Promise<number> {
    return Number(await this.#run("deleteUser", (c) => runScript(c, DELETE_USER, this.#key(userId))));
  }

  async touch(userId: string, provider: string, lastUsedAt: string, label?: string): Promise<void> {
    await this.#run("touch", (c) => runScript(c, TOUCH, this.#key(userId), recordField(provider, label), lastUsedAt));
  }

  async setStatus(
    userId: string,
    provider: string,
    ciphertext: string,
    status: StoredKeyStatus | "ok",
    statusUntil?: string,
    label?: string,
  ): Promise<void> {
    const field = recordField(provider, label);
    await this.#run("setStatus", (c) =>
      runScript(c, SET_STATUS, this.#key(userId), field, ciphertext, status, statusUntil ?? ""),
    );
  }

  async compareAndSwap(
    userId: string,
    provider: string,
    expectedCiphertext: string,
    ciphertext: string,
    label?: string,
  ): Promise<boolean> {
    const field = recordField(provider, label);
    return (
      (await this.#run("compareAndSwap", (c) =>
        runScript(c, COMPARE_AND_SWAP, this.#key(userId), field, expectedCiphertext, ciphertext),
      )) === 1
    );
  }

  /** `SET <prefix>once:{<base64url owner>}:<base64url key> value PX ttlMs`: Redis drops it when it expires. */
  async #putOnce(owner: string, key: string, value: string, ttlMs: number): Promise<void> {
    const at = onceKey(this.#prefix, owner, checkOnceKey(key, ttlMs));
    await this.#run("putOnce", (c) => c.set(at, String(value), "PX", ttlMs));
  }

  /** `GETDEL` (Redis 6.2 or later): one atomic read-and-delete, so two instances can never both take a value. */
  async #takeOnce(owner: string, key: string): Promise<string | undefined> {
    const at = onceKey(this.#prefix, owner, checkOnceKey(key));
    return (await this.#run("takeOnce", (c) => c.getdel(at))) ?? undefined;
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

  // Usage and budgets (the optional KeyStore methods): keys and scripts in redis-usage.ts.

  /**
   * Adds one call's counts to each owner's row, in one hash per owner and day,
   * `<prefix>usage:{<base64url owner id>}:<day>` (fields `<row>|r`, `|i`, `|o`, `|e`), which expires
   * `retentionDays` after its day ends. One script call per owner, sent together.
   */
  async addUsage(ownerIds: readonly string[], usage: UsageRow, retentionDays: number): Promise<void> {
    checkAddUsage(ownerIds, usage, retentionDays);
    await this.#run(
      "addUsage",
      (c) => addUsageOn(c, this.#prefix, ownerIds, usage, retentionDays),
      Math.max(1, ownerIds.length),
    );
  }

  /** Reads one hash per day, in one pipelined call; a range over 400 days is read for its last 400. */
  async readUsage(ownerId: string, fromDay: string, toDay: string): Promise<UsageRow[]> {
    const keys = usageKeys(this.#prefix, ownerId, fromDay, toDay);
    return this.#run("readUsage", (c) => readUsageFrom(c, keys), Math.max(1, keys.length));
  }

  /**
   * One script over the counters' hashes, `<prefix>budget:{<base64url owner id>}:<base64url name>`
   * (one slot: the owner's hash tag), on Redis's clock: each hash holds `spent` and a field per live
   * reservation, and expires when its counter resets.
   */
  async reserve(
    ownerId: string,
    id: string,
    tokens: number,
    counters: readonly BudgetCounter[],
    ttlMs: number,
  ): Promise<BudgetRefusal | undefined> {
    const keys = budgetKeys(this.#prefix, ownerId, id, tokens, counters);
    checkCount(ttlMs, "ttlMs");
    return this.#run("reserve", (c) => reserveOn(c, keys, id, tokens, counters, ttlMs));
  }

  async settle(ownerId: string, id: string, tokens: number, counters: readonly BudgetCounter[]): Promise<void> {
    const keys = budgetKeys(this.#prefix, ownerId, id, tokens, counters);
    await this.#run("settle", (c) => settleOn(c, keys, id, tokens, counters));
  }

  /**
   * Walks every master with SCAN (never KEYS), one page of about `batchSize` hashes at a time, each
   * page's hashes read in one pipeline, and yields batches of at most `batchSize` records. It holds
   * one page and less than one batch at a time, whatever the number of users. SCAN returns a hash
   * twice when Redis shrinks its table mid-walk (after most keys were deleted); remembering every
   * hash read would grow with the number of users, so such a hash's records are then yielded twice
   * (rotation's second compare-and-swap finds them current and skips them; `verify` counts them twice).
   */
  async *scan(options: { batchSize?: number } = {}): AsyncIterable<KeyRecord[]> {
    const size = checkBatchSize(options.batchSize);
    const client = await this.connect();
    const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes("master") : [client as Redis];
    const batch: KeyRecord[] = [];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await this.#run("scan", () =>
          node.scan(cursor, "MATCH", `${this.#prefix}{*`, "COUNT", size),
        );
        cursor = next;
        // Hash name → user id, in SCAN's order (a name repeated within the page is read once).
        const users = new Map<string, string>();
        for (const key of keys) {
          const userId = userIdOf(this.#prefix, key);
          if (userId !== undefined) users.set(key, userId);
        }
        const hashes = users.size ? await this.#run("scan", (c) => hgetallMany(c, [...users.keys()]), users.size) : [];
        [...users.values()].forEach((userId, i) => {
          for (const [field, json] of Object.entries(hashes[i]!)) batch.push(toRecord(userId, field, json));
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
      await withTimeLimit(client.quit(), this.callTimeoutMs, () => new Error("quit")).catch(() => client.disconnect());
    else client.disconnect();
  }

  #key(userId: string): string {
    return userKey(this.#prefix, userId);
  }

  /** Deletes every key matching `pattern` on every master, a SCAN page at a time, each page one call within the limit. */
  async #deleteMatching(pattern: string): Promise<void> {
    const client = await this.connect();
    const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes("master") : [client as Redis];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await this.#run("deleteOwner", () => node.scan(cursor, "MATCH", pattern, "COUNT", 1000));
        cursor = next;
        // One key per UNLINK: on a Cluster, keys of one command must share a slot, and these do only by their tag.
        if (keys.length)
          await this.#run("deleteOwner", (c) => Promise.all(keys.map((key) => c.unlink(key))), keys.length);
      } while (cursor !== "0");
    }
  }

  async #run<T>(operation: string, call: (client: Client) => Promise<T>, items = 1): Promise<T> {
    try {
      return await this.#withinLimit(call, items);
    } catch (error) {
      throw storeUnavailable("RedisStore", operation, error, UNAVAILABLE_FIX);
    }
  }

  /**
   * Runs `call` once the client is ready, rejecting after `callTimeoutMs` (plus {@link PER_ITEM_MS}
   * per item of a batch). Past that limit nothing more is sent: the wait for a connection stops
   * there too, so a call answered STORE_UNAVAILABLE while Redis was unreachable never runs later.
   */
  async #withinLimit<T>(call: (client: Client) => Promise<T>, items = 1): Promise<T> {
    // The first call loads ioredis (a one-time import that can take longer than a call may on a busy
    // machine): that is not Redis's time, so the limit starts after it, as a provider's does after `load`.
    if (this.#client === undefined && this.#url !== undefined && !this.#closed) await this.#open();
    const ms = this.callTimeoutMs + (items - 1) * PER_ITEM_MS;
    const deadline = performance.now() + ms;
    return withTimeLimit(this.#ready(deadline).then(call), ms, () =>
      Object.assign(new Error("timed out"), { code: "TIMEOUT" }),
    );
  }

  async #ready(deadline: number): Promise<Client> {
    if (this.#closed) throw new ByokError("STORE_UNAVAILABLE", "RedisStore: the store is closed; create a new one.");
    const client = this.#client ?? (await this.#open());
    await untilReady(client, deadline);
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
