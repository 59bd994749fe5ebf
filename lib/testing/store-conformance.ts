// The store conformance suites, one per capability: each call registers every case under any test runner.
import type { BudgetStore, OnceStore, UsageStore } from "../core/types.js";
import { apartCases } from "./store-cases-apart.js";
import { basicCases } from "./store-cases-basic.js";
import { budgetCases } from "./store-cases-budgets.js";
import { healthCases } from "./store-cases-health.js";
import { labelCases } from "./store-cases-labels.js";
import { onceCases } from "./store-cases-once.js";
import { rotationCases } from "./store-cases-rotation.js";
import { usageCases } from "./store-cases-usage.js";
import type {
  CapabilityConformanceOptions,
  ConformanceRunner,
  KeyStoreConformanceOptions,
} from "./store-conformance-support.js";

export type {
  CapabilityConformanceOptions,
  ConformanceRunner,
  KeyStoreConformanceOptions,
} from "./store-conformance-support.js";

/**
 * Registers the KeyStore conformance tests for your store under `describe(options.name)`: round
 * trip, replace, delete, deleteUser, list, touch, several labels per provider (unless `labels: false`),
 * concurrent writes, odd user ids, scan,
 * compare-and-swap, setStatus, that what the store's own `usage`/`budgets`/`once` keep is never a
 * record (for a store with those members), and (when you give the factories) isolation, fast failure
 * and broken records. It asserts with `node:assert/strict` and uses no hooks, so it runs under jest,
 * vitest and `node:test`; user ids are random, so runs can share a backend. Each test creates its
 * own store, deletes the users it wrote, then calls `destroy(store)` (default `store.close()`).
 *
 * @param runner - `{ describe, it }` from your test runner (jest globals, or `node:test` imports)
 * @param options - how to make stores; see {@link KeyStoreConformanceOptions}
 * @example
 * ```ts
 * import { describe, it } from "node:test";
 * import { runKeyStoreConformance } from "byok-ai/testing";
 * runKeyStoreConformance({ describe, it }, {
 *   name: "MyStore",
 *   create: () => new MyStore({ url: process.env.MY_URL }),
 *   unreachable: () => new MyStore({ url: "my://127.0.0.1:1" }),
 * });
 * ```
 */
export function runKeyStoreConformance(runner: ConformanceRunner, options: KeyStoreConformanceOptions): void {
  runner.describe(options.name, () => {
    basicCases(runner, options);
    labelCases(runner, options);
    rotationCases(runner, options);
    healthCases(runner, options);
    apartCases(runner, options);
  });
}

/**
 * Registers the {@link UsageStore} conformance tests under `describe(options.name)`: rows added and read by owner,
 * per provider, model, user and team, day ranges, odd ids, `deleteOwner`, and (when you give the factories)
 * isolation and fast failure. Called like {@link runKeyStoreConformance}, `create()` answering the capability.
 * @example
 * ```ts
 * runUsageStoreConformance({ describe, it }, { name: "MyStore usage", create: () => new MyStore(url).usage });
 * ```
 */
export function runUsageStoreConformance(
  runner: ConformanceRunner,
  options: CapabilityConformanceOptions<UsageStore>,
): void {
  runner.describe(options.name, () => usageCases(runner, options));
}

/**
 * Registers the {@link BudgetStore} conformance tests under `describe(options.name)`: limits, settling, reservations
 * that expire, counters that reset, 200 concurrent reservations, `deleteOwner`, and (when you give the factories)
 * isolation and fast failure. Called like {@link runKeyStoreConformance}, `create()` answering the capability.
 */
export function runBudgetStoreConformance(
  runner: ConformanceRunner,
  options: CapabilityConformanceOptions<BudgetStore>,
): void {
  runner.describe(options.name, () => budgetCases(runner, options));
}

/**
 * Registers the {@link OnceStore} conformance tests under `describe(options.name)`: a value taken once, by one of
 * many concurrent takers, expiry, odd keys, owners kept apart, `deleteOwner`, and (when you give the factories)
 * isolation and fast failure. Called like {@link runKeyStoreConformance}, `create()` answering the capability.
 */
export function runOnceStoreConformance(
  runner: ConformanceRunner,
  options: CapabilityConformanceOptions<OnceStore>,
): void {
  runner.describe(options.name, () => onceCases(runner, options));
}
