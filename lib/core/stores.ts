// `new BYOK({ store })`: a ByokStores object, or a KeyStore alone (0.1 style), checked and turned into capabilities once.
import type { BudgetStore, ByokStores, KeyStore, OnceStore, UsageStore } from "./types.js";
import { configError } from "./option-checks.js";
import { encodedOwnerId } from "./owner.js";

/** The KeyStore methods marked **Required** (rotation's `scan` and `compareAndSwap` included); the rest are optional. */
const KEY_STORE_METHODS = ["get", "list", "put", "delete", "deleteUser", "scan", "compareAndSwap"] as const;
const CAPABILITY_METHODS = {
  usage: ["add", "read", "deleteOwner"],
  budgets: ["reserve", "settle", "deleteOwner"],
  once: ["put", "take", "deleteOwner"],
} as const;
const STORE_FIX = 'use MemoryStore, RedisStore or PostgresStore, or see "Writing a store" in docs/extending.md';

const missingOf = (value: unknown, methods: readonly string[]): string[] =>
  typeof value === "object" && value !== null
    ? methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== "function")
    : [...methods];

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === "function";

/**
 * The capabilities of a store written against the 0.1 `KeyStore`, from its optional methods. Its `deleteUser`
 * erases what it keeps for a user, so the derived `deleteOwner`s have nothing left to do; its single-use values are
 * kept under `<encoded owner>:<key>`, so one owner's never answer another's.
 */
function capabilitiesOf(store: KeyStore): ByokStores {
  const stores: ByokStores = { keys: store };
  const done = async (): Promise<void> => {};
  if (isFunction(store.addUsage) && isFunction(store.readUsage))
    stores.usage = {
      add: (owners, row, retentionDays) => store.addUsage!(owners, row, retentionDays),
      read: (owner, fromDay, toDay) => store.readUsage!(owner, fromDay, toDay),
      deleteOwner: done,
    } satisfies UsageStore;
  if (isFunction(store.reserve) && isFunction(store.settle))
    stores.budgets = {
      reserve: (owner, id, tokens, counters, ttlMs) => store.reserve!(owner, id, tokens, counters, ttlMs),
      settle: (owner, id, tokens, counters) => store.settle!(owner, id, tokens, counters),
      deleteOwner: done,
    } satisfies BudgetStore;
  if (isFunction(store.putOnce) && isFunction(store.takeOnce)) {
    const at = (owner: string, key: string) => `${encodedOwnerId(owner)}:${key}`;
    stores.once = {
      put: (owner, key, value, ttlMs) => store.putOnce!(at(owner, key), value, ttlMs),
      take: (owner, key) => store.takeOnce!(at(owner, key)),
      deleteOwner: done,
    } satisfies OnceStore;
  }
  if (isFunction(store.rateLimits)) stores.rateLimits = (limiter) => store.rateLimits!(limiter);
  return stores;
}

/**
 * Whether `value` is a {@link ByokStores}: its `keys` member is an object, and either that is `value` itself (a
 * built-in store), or `value` is no KeyStore of its own, or `keys` is one. A KeyStore that keeps something else in a
 * field named `keys` (a Prisma delegate, say) is a KeyStore.
 */
function isByokStores(value: unknown): boolean {
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (typeof keys !== "object" || keys === null) return false;
  return (
    keys === value || missingOf(value, KEY_STORE_METHODS).length > 0 || missingOf(keys, KEY_STORE_METHODS).length === 0
  );
}

/**
 * The `store` option as capabilities: a {@link ByokStores} (each capability given is checked; see
 * {@link isByokStores}), or else a {@link KeyStore}, whose optional methods give the rest.
 * @throws ByokError CONFIG_INVALID naming what is missing
 */
export function parseStores(value: unknown): Readonly<ByokStores> {
  const given = value as Partial<Record<keyof ByokStores, unknown>> | null;
  if (given === null || !isByokStores(given)) {
    const missing = missingOf(value, KEY_STORE_METHODS);
    if (missing.length)
      throw configError(`store must implement the KeyStore interface (missing: ${missing.join(", ")}); ${STORE_FIX}.`);
    return Object.freeze(capabilitiesOf(value as KeyStore));
  }
  const missingKeys = missingOf(given.keys, KEY_STORE_METHODS);
  if (missingKeys.length)
    throw configError(
      `store.keys must implement the KeyStore interface (missing: ${missingKeys.join(", ")}); ${STORE_FIX}.`,
    );
  const stores: ByokStores = { keys: given.keys as KeyStore };
  for (const name of ["usage", "budgets", "once"] as const) {
    if (given[name] === undefined) continue;
    const missing = missingOf(given[name], CAPABILITY_METHODS[name]);
    if (missing.length)
      throw configError(`store.${name} must implement ${name} (missing: ${missing.join(", ")}); ${STORE_FIX}.`);
    Object.assign(stores, { [name]: given[name] });
  }
  if (given.rateLimits !== undefined) {
    if (!isFunction(given.rateLimits))
      throw configError('store.rateLimits must be a function (limiter: "keys" | "chat") => express-rate-limit Store.');
    const rateLimits = given.rateLimits as NonNullable<ByokStores["rateLimits"]>;
    stores.rateLimits = (limiter) => rateLimits.call(given, limiter); // a store's own method keeps its `this`
  }
  return Object.freeze(stores);
}

/** Marks a built-in store's capability with the store it belongs to (`Symbol.for`: shared by an ESM and a CommonJS copy). */
const BACKING = Symbol.for("byok-ai.backingStore");

/** `capability`, marked as `store`'s (for {@link closersOf}), frozen. */
export function capabilityOf<T extends object>(store: object, capability: T): T {
  Object.defineProperty(capability, BACKING, { value: store });
  return Object.freeze(capability);
}

/**
 * Marks a store's rateLimits capability whose counts go out with the same store's key reads in one round trip
 * (RedisStore: one connection, pipelined). Only then does the router read a chat's key records beside its count.
 */
const COUNTS_WITH_KEYS = Symbol.for("byok-ai.countsWithKeys");

/** `rateLimits`, marked as counting in the same round trips as `store`'s key reads (see {@link countsWithKeys}). */
export function rateLimitsWithKeys<T extends object>(store: object, rateLimits: T): T {
  Object.defineProperty(rateLimits, COUNTS_WITH_KEYS, { value: true });
  return capabilityOf(store, rateLimits);
}

/**
 * Whether reading a chat's key records beside its rate-limit count costs no round trip of its own: the counts and
 * the records are one store's, and it sends them together. Elsewhere the records are read only once the count let
 * the request through, so a refused request reads nothing.
 */
export function countsWithKeys(stores: ByokStores): boolean {
  const counters = stores.rateLimits as (object & Record<symbol, unknown>) | undefined;
  if (!counters?.[COUNTS_WITH_KEYS]) return false;
  const keys = stores.keys as unknown as Record<symbol, unknown>;
  return counters[BACKING] === (keys[BACKING] ?? keys);
}

/** The distinct stores behind `stores` that have `close()`: `byok.close()` closes each once. */
export function closersOf(stores: ByokStores): { close(): Promise<void> }[] {
  const parts: unknown[] = [stores.keys, stores.usage, stores.budgets, stores.once, stores.rateLimits];
  const closers = new Set<{ close(): Promise<void> }>();
  for (const part of parts) {
    const backing = ((part as Record<symbol, unknown> | undefined)?.[BACKING] ?? part) as
      { close?: unknown } | undefined;
    if (backing && isFunction(backing.close)) closers.add(backing as { close(): Promise<void> });
  }
  return [...closers];
}
