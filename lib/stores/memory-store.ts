// MemoryStore: a KeyStore in process memory, for development and tests (keys are lost on restart).
import type {
  BudgetCounter,
  BudgetRefusal,
  KeyRecord,
  KeyStore,
  PutResult,
  StoredKeyStatus,
  UsageRow,
} from "../core/types.js";
import { checkBatchSize } from "../core/batch-size.js";
import { DAY_MS, dayOf } from "../core/days.js";
import { checkOnceKey } from "./store-support.js";

const copy = (record: KeyRecord): KeyRecord => ({ ...record });

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
 * Keeps encrypted keys in a Map. Fine for development, tests and single-process demos; use
 * `RedisStore` or `PostgresStore` in production, where keys must survive restarts and be shared
 * by every instance. Made under `NODE_ENV=production` (given as `store`, or BYOK's default), it
 * emits one `BYOK_MEMORY_STORE` warning per process.
 *
 * @example
 * ```ts
 * const byok = new BYOK({ masterKey, store: new MemoryStore() });
 * ```
 */
export class MemoryStore implements KeyStore {
  // Nested maps, so no user id can collide with another's (no joined string keys).
  readonly #users = new Map<string, Map<string, KeyRecord>>();
  /** Owner id → row key → row. */
  readonly #usage = new Map<string, Map<string, UsageRow>>();
  /** Owner id → counter name → counter. */
  readonly #budgets = new Map<string, Map<string, Counter>>();
  /** putOnce values, with when they expire (`performance.now()` time: the wall clock may jump). */
  readonly #once = new Map<string, { value: string; expiresAt: number }>();

  constructor() {
    if (process.env.NODE_ENV !== "production" || productionWarned) return;
    productionWarned = true;
    process.emitWarning(
      "byok-ai: MemoryStore under NODE_ENV=production: keys are lost on restart and not shared between instances. Pass store: new RedisStore(...) or new PostgresStore(...).",
      { code: "BYOK_MEMORY_STORE" },
    );
  }

  async get(userId: string, provider: string): Promise<KeyRecord | undefined> {
    const record = this.#users.get(userId)?.get(provider);
    return record && copy(record);
  }

  async list(userId: string): Promise<KeyRecord[]> {
    return [...(this.#users.get(userId)?.values() ?? [])].map(copy);
  }

  async put(record: KeyRecord): Promise<PutResult> {
    let keys = this.#users.get(record.userId);
    if (!keys) this.#users.set(record.userId, (keys = new Map()));
    const existing = keys.get(record.provider);
    const stored: KeyRecord = {
      userId: record.userId,
      provider: record.provider,
      ciphertext: record.ciphertext,
      hint: record.hint,
      createdAt: existing?.createdAt ?? record.createdAt,
      updatedAt: record.updatedAt,
    };
    if (record.endpoint !== undefined) stored.endpoint = record.endpoint;
    keys.set(record.provider, stored);
    return { record: copy(stored), replaced: existing !== undefined };
  }

  async delete(userId: string, provider: string): Promise<boolean> {
    const keys = this.#users.get(userId);
    const removed = keys?.delete(provider) ?? false;
    if (keys?.size === 0) this.#users.delete(userId);
    return removed;
  }

  async deleteUser(userId: string): Promise<number> {
    const count = this.#users.get(userId)?.size ?? 0;
    this.#users.delete(userId);
    this.#usage.delete(userId);
    this.#budgets.delete(userId);
    return count;
  }

  async touch(userId: string, provider: string, lastUsedAt: string): Promise<void> {
    const record = this.#users.get(userId)?.get(provider);
    if (record) record.lastUsedAt = lastUsedAt;
  }

  async setStatus(
    userId: string,
    provider: string,
    ciphertext: string,
    status: StoredKeyStatus | "ok",
    statusUntil?: string,
  ): Promise<void> {
    const record = this.#users.get(userId)?.get(provider);
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
  ): Promise<boolean> {
    const record = this.#users.get(userId)?.get(provider);
    if (!record || record.ciphertext !== expectedCiphertext) return false;
    record.ciphertext = ciphertext;
    return true;
  }

  async putOnce(key: string, value: string, ttlMs: number): Promise<void> {
    checkOnceKey(key, ttlMs);
    const now = performance.now();
    // Expired values are dropped here, so an abandoned flow's value does not stay for the process's life.
    for (const [k, entry] of this.#once) if (entry.expiresAt <= now) this.#once.delete(k);
    this.#once.set(key, { value: String(value), expiresAt: now + ttlMs });
  }

  async takeOnce(key: string): Promise<string | undefined> {
    const entry = this.#once.get(checkOnceKey(key));
    this.#once.delete(key);
    return entry && entry.expiresAt > performance.now() ? entry.value : undefined;
  }

  async close(): Promise<void> {}
}
