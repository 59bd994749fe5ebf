// Shared pieces of the KeyStore conformance suite: its options, the per-test store lifecycle and record builders.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ByokError } from "../errors.js";
import type { KeyRecord, KeyStore } from "../core/types.js";

import type { ConformanceRunner } from "./provider-conformance-support.js";

export type { ConformanceRunner };

/** What {@link runKeyStoreConformance} needs to know about your store. */
export interface KeyStoreConformanceOptions {
  /** Shown in the outer `describe`, e.g. `"RedisStore"`. */
  name: string;
  /** A ready store over the backend under test (migrated, connected). Called once per test. */
  create(): KeyStore | Promise<KeyStore>;
  /**
   * Releases a store the suite created (also the isolated and unreachable ones). The suite has
   * already deleted the records it wrote. Defaults to `store.close()`.
   */
  destroy?(store: KeyStore): void | Promise<void>;
  /**
   * A store over the same backend that must not see `create()`'s records (another prefix, table
   * or schema). When given, the suite checks that the two are isolated.
   */
  createIsolated?(): KeyStore | Promise<KeyStore>;
  /**
   * A store whose backend cannot be reached (e.g. a closed port). When given, the suite checks that
   * every method rejects `STORE_UNAVAILABLE` in under a second.
   */
  unreachable?(): KeyStore | Promise<KeyStore>;
  /**
   * Writes, straight to the backend, a record for (userId, provider) that is not the store's format
   * (e.g. a Redis field that is not JSON, a row with NULLs). When given, the suite checks that the
   * store returns it as `broken` instead of failing, and that `put()` replaces it.
   */
  writeBroken?(store: KeyStore, userId: string, provider: string): Promise<void>;
  /**
   * Whether the store keeps {@link KeyRecord.endpoint}. Pass `false` for a store that does not: it
   * then serves no provider whose keys carry an endpoint (`azure-openai`, `userEndpoints`), whose
   * keys it would turn unreadable. Defaults to `true`.
   */
  endpoints?: boolean;
  /**
   * Whether the store keeps several labels per (userId, provider) and declares {@link KeyStore.labels}. Pass `false`
   * for a store that keeps one record per provider (as 0.1's did): byok-ai then gives it only label `"default"`.
   * Defaults to `true`.
   */
  labels?: boolean;
}

/**
 * What {@link runUsageStoreConformance}, {@link runBudgetStoreConformance} and {@link runOnceStoreConformance} need to
 * know about your capability: the same shape as {@link KeyStoreConformanceOptions}, each factory answering the
 * capability under test (e.g. `() => new RedisStore({ url }).usage`).
 */
export interface CapabilityConformanceOptions<T> {
  /** Shown in the outer `describe`, e.g. `"RedisStore usage"`. */
  name: string;
  /** A ready capability over the backend under test. Called once per test. */
  create(): T | Promise<T>;
  /**
   * Releases a capability the suite created (also the isolated and unreachable ones), after the suite called its
   * `deleteOwner` for every owner it wrote. Defaults to its `close()`, when it has one.
   */
  destroy?(capability: T): void | Promise<void>;
  /** One over the same backend that must not see `create()`'s data (another prefix, table or schema). */
  createIsolated?(): T | Promise<T>;
  /** One whose backend cannot be reached: every method must reject `STORE_UNAVAILABLE` in under a second. */
  unreachable?(): T | Promise<T>;
}

/**
 * Runs `test` with a capability from `factory`, then calls `deleteOwner` for every owner it handed out and releases
 * the capability, whatever happened.
 */
export async function withCapability<T extends { deleteOwner(owner: string): Promise<void> }>(
  options: CapabilityConformanceOptions<T>,
  test: (capability: T, owner: UserIds) => Promise<void>,
  factory: () => T | Promise<T> = options.create,
): Promise<void> {
  const capability = await factory();
  const owners = new Set<string>();
  try {
    await test(capability, (id = randomUUID()) => (owners.add(id), id));
  } finally {
    for (const owner of owners) await capability.deleteOwner(owner).catch(() => undefined);
    const { close } = capability as { close?: () => Promise<void> };
    await (options.destroy ? options.destroy(capability) : close?.call(capability));
  }
}

/** Hands out user ids that the test's cleanup will delete. */
export type UserIds = (id?: string) => string;

/**
 * Runs `test` with a store from `factory`, then deletes every user it handed out and releases the
 * store, whatever happened.
 */
export async function withStore(
  options: KeyStoreConformanceOptions,
  test: (store: KeyStore, user: UserIds) => Promise<void>,
  factory: () => KeyStore | Promise<KeyStore> = options.create,
): Promise<void> {
  const store = await factory();
  const users = new Set<string>();
  try {
    await test(store, (id = randomUUID()) => (users.add(id), id));
  } finally {
    for (const userId of users) await store.deleteUser(userId).catch(() => undefined);
    await (options.destroy ? options.destroy(store) : store.close?.());
  }
}

/** A record as BYOK would write it; the ciphertext is random (stores never decrypt it). */
export function makeRecord(userId: string, provider = "gemini", at = new Date(), label = "default"): KeyRecord {
  const ciphertext = `v1.conformance.${randomUUID()}`;
  const iso = at.toISOString();
  return { userId, provider, label, ciphertext, hint: `\u2026${ciphertext.slice(-4)}`, createdAt: iso, updatedAt: iso };
}

/** Every record `scan()` yields, plus the batch sizes. */
export async function scanAll(store: KeyStore, batchSize?: number): Promise<{ records: KeyRecord[]; sizes: number[] }> {
  const records: KeyRecord[] = [];
  const sizes: number[] = [];
  for await (const batch of store.scan(batchSize === undefined ? {} : { batchSize })) {
    sizes.push(batch.length);
    records.push(...batch);
  }
  return { records, sizes };
}

/** Sorts records by provider, for order-free comparisons of `list()`. */
export const byProvider = (records: KeyRecord[]): KeyRecord[] =>
  [...records].sort((a, b) => (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0));

/**
 * `touch()`es the user's gemini key now, when the store has `touch` (recommended, not required):
 * the `lastUsedAt` the record should then show, as a spread (`{}` for a store without it).
 */
export async function touchNow(store: KeyStore, userId: string): Promise<{ lastUsedAt?: string }> {
  if (!store.touch) return {};
  const lastUsedAt = new Date().toISOString();
  await store.touch(userId, "gemini", lastUsedAt);
  return { lastUsedAt };
}

/** Asserts that `call` rejects with ByokError STORE_UNAVAILABLE in under a second (a store that cannot be reached). */
export async function expectFastFailure(method: string, call: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = performance.now() - started;
  assert.ok(
    ByokError.is(error) && error.code === "STORE_UNAVAILABLE",
    `${method}() did not reject with ByokError STORE_UNAVAILABLE`,
  );
  assert.ok(ms < 1000, `${method}() took ${Math.round(ms)} ms to fail`);
}
