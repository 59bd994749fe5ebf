// Unwrapped data keys in memory: bounded in age and count, zeroed when they leave, one unwrap per key at a time.

/** Options of the cache (`dataKeyCache` in `new BYOK()`). */
export interface DataKeyCacheOptions {
  /** How long an unwrapped data key stays in memory after its unwrap. Defaults to 300,000 (5 minutes). */
  maxAgeMs?: number;
  /** How many unwrapped data keys are kept at most; the oldest leaves first. Defaults to 10,000. */
  maxEntries?: number;
}

export const DEFAULT_DATA_KEY_MAX_AGE_MS = 300_000;
export const DEFAULT_DATA_KEY_MAX_ENTRIES = 10_000;

interface Entry {
  key: Buffer;
  expiresAt: number;
}

/**
 * Data keys by (key-encryption key, wrapped key, record context). Every entry lives `maxAgeMs` from its
 * unwrap whether it is used or not, so the oldest entry is also the first to expire: a Map in insertion
 * order serves as the expiry queue and as the eviction order (a full cache drops the key that would
 * expire soonest). One unref'd timer removes expired entries on time, so a key never outlives
 * `maxAgeMs` in memory even if nothing reads the cache again. Failures are never cached: a key service
 * that comes back is used at the next call.
 */
export class DataKeyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #pending = new Map<string, { key: Promise<Buffer>; waiters: number }>();
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: Required<DataKeyCacheOptions>, now: () => number = Date.now) {
    this.#maxAgeMs = options.maxAgeMs;
    this.#maxEntries = options.maxEntries;
    this.#now = now;
  }

  /** The cached key (not a copy: the caller must not keep or change it), or `undefined`. */
  get(id: string): Buffer | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt > this.#now()) return entry.key;
    this.#drop(id, entry);
    return undefined;
  }

  /**
   * Runs `use` (synchronously) with the data key for `id`: the cached one, else one from `unwrap`, which
   * runs once however many callers wait for the same id and is then cached. A failed unwrap rejects every
   * waiting caller and is forgotten. `use` must not keep the key: it is zeroed once it leaves the cache.
   */
  async withKey<T>(id: string, unwrap: () => Promise<Buffer>, use: (key: Buffer) => T): Promise<T> {
    const cached = this.get(id);
    if (cached) return use(cached);
    let flight = this.#pending.get(id);
    if (!flight) {
      const key = unwrap().then(
        (raw) => {
          this.#pending.delete(id);
          this.set(id, Buffer.from(raw)); // the cache's own copy: evicting it cannot zero a waiter's key
          return raw;
        },
        (error: unknown) => {
          this.#pending.delete(id);
          throw error;
        },
      );
      flight = { key, waiters: 0 };
      this.#pending.set(id, flight);
    }
    const current = flight;
    current.waiters++;
    try {
      return use(await current.key);
    } finally {
      // Every waiter joined before the unwrap settled (then it left #pending): the last one out zeroes it.
      if (--current.waiters === 0)
        current.key.then(
          (raw) => raw.fill(0),
          () => undefined,
        );
    }
  }

  /** Keeps `key` (the cache owns it from now on, and zeroes it when it leaves). */
  set(id: string, key: Buffer): void {
    const previous = this.#entries.get(id);
    if (previous && previous.key !== key) this.#drop(id, previous);
    this.#entries.delete(id); // re-inserted last: the Map stays in expiry order
    this.#entries.set(id, { key, expiresAt: this.#now() + this.#maxAgeMs });
    while (this.#entries.size > this.#maxEntries) {
      const [oldestId, oldest] = this.#entries.entries().next().value!;
      this.#drop(oldestId, oldest);
    }
    if (!this.#timer) this.#schedule();
  }

  /** How many keys are held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Zeroes and forgets every key, and stops the timer. */
  clear(): void {
    for (const [id, entry] of this.#entries) this.#drop(id, entry);
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #drop(id: string, entry: Entry): void {
    entry.key.fill(0);
    this.#entries.delete(id);
  }

  /** Wakes when the oldest entry expires, removes every expired one, and sleeps until the next. */
  #schedule(): void {
    const oldest = this.#entries.values().next().value;
    if (!oldest) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(
      () => {
        const now = this.#now();
        for (const [id, entry] of this.#entries) {
          if (entry.expiresAt > now) break;
          this.#drop(id, entry);
        }
        this.#schedule();
      },
      Math.max(0, oldest.expiresAt - this.#now()) + 1,
    ).unref();
  }
}
