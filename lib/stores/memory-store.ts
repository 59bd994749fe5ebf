// MemoryStore: a KeyStore in process memory, for development and tests (keys are lost on restart).
import {
  DEFAULT_LABEL,
  type BudgetCounter,
  type BudgetRefusal,
  type BudgetStore,
  type ByokStores,
  type KeyRecord,
  type KeyStore,
  type OnceStore,
  type PutResult,
  type StoredKeyStatus,
  type UsageRow,
  type UsageStore,
} from "../core/types.js";
import { MemoryStore as MemoryCounters, type Store as RateLimitCounters } from "express-rate-limit";
import { capabilityOf } from "../core/stores.js";
import { checkBatchSize } from "../core/batch-size.js";
import { DAY_MS, dayOf } from "../core/days.js";
import { checkOnceKey, recordField, settingsOf } from "./store-support.js";

const copy = (record: KeyRecord): KeyRecord => ({ ...record, ...(record.models && { models: [...record.models] }) });

/** One budget counter: tokens spent, and live reservations (id → tokens and when they expire). */
interface Counter {
  spent: number;
  resetsAt: number;
  reservations: Map<string, { tokens: number; expiresAt: number }>;
}

/** Usage rows are keyed by their identifying fields as JSON (an array: no separator any id could contain). */
const rowKey = (row: UsageRow): string => JSON.stringify([row.day, row.provider, row.model, row.userId, row.teamId]);

let productionWarned = false;

/**
 * Keeps encrypted keys (and usage rows, budget counters, single-use values: `store.usage`, `store.budgets`,
 * `store.once`) in Maps. Fine for development, tests and single-process demos; use
 * `RedisStore` or `PostgresStore` in production, where keys must survive restarts and be shared
 * by every instance. Made under `NODE_ENV=production` (given as `store`, or BYOK's default), it
 * emits one `BYOK_MEMORY_STORE` warning per process.
 *
 * @example
 * ```ts
 * const byok = new BYOK({ masterKey, store: new MemoryStore() });
 * ```
 */
export class MemoryStore implements KeyStore, ByokStores {
  /** Usage rows, by owner, in this process. */
  readonly usage: UsageStore;
  /** Budget counters, by owner, in this process. */
  readonly budgets: BudgetStore;
  /** Single-use values (the router's connect state), by owner, in this process. */
  readonly once: OnceStore;
  /** The router's per-user counters, in this process: express-rate-limit's own memory store, one per limiter. */
  readonly rateLimits = (_limiter: "keys" | "chat"): RateLimitCounters => new MemoryCounters();
  /** Keeps several labels per (owner, provider). */
  readonly labels = true;
  // Nested maps, so no user id can collide with another's (no joined string keys); inner keys are recordField's.
  readonly #users = new Map<string, Map<string, KeyRecord>>();
  /** Owner id → row key → row. */
  readonly #usage = new Map<string, Map<string, UsageRow>>();
  /** Owner id → counter name → counter. */
  readonly #budgets = new Map<string, Map<string, Counter>>();
  /** Owner id → key → single-use value, with when it expires (`performance.now()` time: the wall clock may jump). */
  readonly #once = new Map<string, Map<string, { value: string; expiresAt: number }>>();

  /**
   * The key records: this store (read through what `keys` is asked of, so a Proxy or wrapper made over the store
   * and given whole as `store` keeps its place).
   */
  get keys(): KeyStore {
    return this;
  }

  constructor() {
    this.usage = capabilityOf<UsageStore>(this, {
      add: (owners, row, retentionDays) => this.addUsage(owners, row, retentionDays),
      read: (owner, fromDay, toDay) => this.readUsage(owner, fromDay, toDay),
      deleteOwner: async (owner) => void this.#usage.delete(owner),
    });
    this.budgets = capabilityOf<BudgetStore>(this, {
      reserve: (owner, id, tokens, counters, ttlMs) => this.reserve(owner, id, tokens, counters, ttlMs),
      settle: (owner, id, tokens, counters) => this.settle(owner, id, tokens, counters),
      deleteOwner: async (owner) => void this.#budgets.delete(owner),
    });
    this.once = capabilityOf<OnceStore>(this, {
      put: async (owner, key, value, ttlMs) => this.#putOnce(owner, key, value, ttlMs),
      take: async (owner, key) => this.#takeOnce(owner, key),
      deleteOwner: async (owner) => void this.#once.delete(owner),
    });
    if (process.env.NODE_ENV !== "production" || productionWarned) return;
    productionWarned = true;
    process.emitWarning(
      "byok-ai: MemoryStore under NODE_ENV=production: keys are lost on restart and not shared between instances. Pass store: new RedisStore(...) or new PostgresStore(...).",
      { code: "BYOK_MEMORY_STORE" },
    );
  }

  async get(userId: string, provider: string, label?: string): Promise<KeyRecord | undefined> {
    const record = this.#users.get(userId)?.get(recordField(provider, label));
    return record && copy(record);
  }

  async list(userId: string): Promise<KeyRecord[]> {
    return [...(this.#users.get(userId)?.values() ?? [])].map(copy);
  }

  async put(record: KeyRecord): Promise<PutResult> {
    let keys = this.#users.get(record.userId);
    if (!keys) this.#users.set(record.userId, (keys = new Map()));
    const field = recordField(record.provider, record.label);
    const existing = keys.get(field);
    const stored: KeyRecord = {
      userId: record.userId,
      provider: record.provider,
      label: record.label ?? DEFAULT_LABEL,
      ciphertext: record.ciphertext,
      hint: record.hint,
      createdAt: existing?.createdAt ?? record.createdAt,
      updatedAt: record.updatedAt,
      ...settingsOf(record),
    };
    keys.set(field, stored);
    return { record: copy(stored), replaced: existing !== undefined };
  }

  async delete(userId: string, provider: string, label?: string): Promise<boolean> {
    const keys = this.#users.get(userId);
    const removed = keys?.delete(recordField(provider, label)) ?? false;
    if (keys?.size === 0) this.#users.delete(userId);
    return removed;
  }

  async deleteUser(userId: string): Promise<number> {
    const count = this.#users.get(userId)?.size ?? 0;
    this.#users.delete(userId);
    return count;
  }

  async touch(userId: string, provider: string, lastUsedAt: string, label?: string): Promise<void> {
    const record = this.#users.get(userId)?.get(recordField(provider, label));
    if (record) record.lastUsedAt = lastUsedAt;
  }

  async setStatus(
    userId: string,
    provider: string,
    ciphertext: string,
    status: StoredKeyStatus | "ok",
    statusUntil?: string,
    label?: string,
  ): Promise<void> {
    const record = this.#users.get(userId)?.get(recordField(provider, label));
    if (!record || record.ciphertext !== ciphertext) return;
    delete record.status;
    delete record.statusUntil;
    if (status === "ok") return;
    record.status = status;
    if (statusUntil !== undefined) record.statusUntil = statusUntil;
  }

  async addUsage(ownerIds: readonly string[], usage: UsageRow, retentionDays: number): Promise<void> {
    const oldest = dayOf(Date.now() - retentionDays * DAY_MS);
    for (const ownerId of ownerIds) {
      let rows = this.#usage.get(ownerId);
      if (!rows) this.#usage.set(ownerId, (rows = new Map()));
      for (const [key, row] of rows) if (row.day < oldest) rows.delete(key);
      const key = rowKey(usage);
      const row = rows.get(key);
      if (!row) {
        rows.set(key, { ...usage });
        continue;
      }
      row.requests += usage.requests;
      row.inputTokens += usage.inputTokens;
      row.outputTokens += usage.outputTokens;
      for (const part of ["cachedInputTokens", "reasoningTokens", "unpriced"] as const)
        if (usage[part] !== undefined) row[part] = (row[part] ?? 0) + usage[part];
      // Dollars add as whole micro-dollars (each call's cost already is), so no float drift builds up.
      if (usage.costUsd !== undefined)
        row.costUsd = (Math.round((row.costUsd ?? 0) * 1e6) + Math.round(usage.costUsd * 1e6)) / 1e6;
      row.estimated ||= usage.estimated;
    }
  }

  async readUsage(ownerId: string, fromDay: string, toDay: string): Promise<UsageRow[]> {
    const rows = [...(this.#usage.get(ownerId)?.values() ?? [])];
    return rows.filter((row) => row.day >= fromDay && row.day <= toDay).map((row) => ({ ...row }));
  }

  async reserve(
    ownerId: string,
    id: string,
    tokens: number,
    counters: readonly BudgetCounter[],
    ttlMs: number,
  ): Promise<BudgetRefusal | undefined> {
    const now = Date.now();
    const owned = this.#budgets.get(ownerId) ?? new Map<string, Counter>();
    this.#budgets.set(ownerId, owned);
    const live = counters.map(({ name, resetsAt }) => {
      let counter = owned.get(name);
      if (!counter || counter.resetsAt <= now)
        owned.set(name, (counter = { spent: 0, resetsAt, reservations: new Map() }));
      for (const [reservation, { expiresAt }] of counter.reservations)
        if (expiresAt <= now) counter.reservations.delete(reservation);
      return counter;
    });
    const used = live.map(
      (counter) => counter.spent + [...counter.reservations.values()].reduce((sum, r) => sum + r.tokens, 0),
    );
    const index = used.findIndex((held, i) => held + tokens > counters[i]!.limit);
    if (index !== -1) return { index, used: used[index]! };
    for (const counter of live) counter.reservations.set(id, { tokens, expiresAt: now + ttlMs });
    return undefined;
  }

  async settle(ownerId: string, id: string, tokens: number, counters: readonly BudgetCounter[]): Promise<void> {
    const owned = this.#budgets.get(ownerId) ?? new Map<string, Counter>();
    this.#budgets.set(ownerId, owned);
    for (const { name, resetsAt } of counters) {
      let counter = owned.get(name);
      if (!counter) owned.set(name, (counter = { spent: 0, resetsAt, reservations: new Map() }));
      counter.reservations.delete(id);
      counter.spent += tokens;
    }
  }

  async *scan(options: { batchSize?: number } = {}): AsyncIterable<KeyRecord[]> {
    const batchSize = checkBatchSize(options.batchSize);
    let batch: KeyRecord[] = [];
    for (const keys of this.#users.values()) {
      for (const record of keys.values()) {
        batch.push(copy(record));
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length) yield batch;
  }

  async compareAndSwap(
    userId: string,
    provider: string,
    expectedCiphertext: string,
    ciphertext: string,
    label?: string,
  ): Promise<boolean> {
    const record = this.#users.get(userId)?.get(recordField(provider, label));
    if (!record || record.ciphertext !== expectedCiphertext) return false;
    record.ciphertext = ciphertext;
    return true;
  }

  #putOnce(owner: string, key: string, value: string, ttlMs: number): void {
    checkOnceKey(key, ttlMs);
    const now = performance.now();
    // Expired values are dropped here, so an abandoned flow's value does not stay for the process's life.
    for (const [o, values] of this.#once) {
      for (const [k, entry] of values) if (entry.expiresAt <= now) values.delete(k);
      if (values.size === 0) this.#once.delete(o);
    }
    let values = this.#once.get(owner);
    if (!values) this.#once.set(owner, (values = new Map()));
    values.set(key, { value: String(value), expiresAt: now + ttlMs });
  }

  #takeOnce(owner: string, key: string): string | undefined {
    const values = this.#once.get(owner);
    const entry = values?.get(checkOnceKey(key));
    values?.delete(key);
    return entry && entry.expiresAt > performance.now() ? entry.value : undefined;
  }

  async close(): Promise<void> {}
}
