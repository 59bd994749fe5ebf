// MemoryStore: a KeyStore in process memory, for development and tests (keys are lost on restart).
import type { KeyRecord, KeyStore, PutResult } from "../core/types.js";
import { checkBatchSize } from "../core/batch-size.js";
import { checkOnceKey } from "./store-support.js";

const copy = (record: KeyRecord): KeyRecord => ({ ...record });

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
    return count;
  }

  async touch(userId: string, provider: string, lastUsedAt: string): Promise<void> {
    const record = this.#users.get(userId)?.get(provider);
    if (record) record.lastUsedAt = lastUsedAt;
  }

  async setStatus(userId: string, provider: string, ciphertext: string, status: "ok" | "invalid"): Promise<void> {
    const record = this.#users.get(userId)?.get(provider);
    if (!record || record.ciphertext !== ciphertext) return;
    if (status === "invalid") record.status = "invalid";
    else delete record.status;
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
