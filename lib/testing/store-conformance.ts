// The KeyStore conformance suite: one call registers every case a store must pass, under any test runner.
import { basicCases } from "./store-cases-basic.js";
import { healthCases } from "./store-cases-health.js";
import { onceCases } from "./store-cases-once.js";
import { rotationCases } from "./store-cases-rotation.js";
import { usageCases } from "./store-cases-usage.js";
import type { ConformanceRunner, KeyStoreConformanceOptions } from "./store-conformance-support.js";

export type { ConformanceRunner, KeyStoreConformanceOptions } from "./store-conformance-support.js";

/**
 * Registers the KeyStore conformance tests for your store under `describe(options.name)`: round
 * trip, replace, delete, deleteUser, list, touch, concurrent writes, odd user ids, scan,
 * compare-and-swap, setStatus, usage rows and budget reservations, single-use values
 * (`putOnce`/`takeOnce`) (each for a store with those optional methods), and (when you give the
 * factories) isolation, fast failure and broken records. It asserts with `node:assert/strict` and
 * uses no hooks, so it runs under jest, vitest and `node:test`; user ids
 * are random, so runs can share a backend. Each test creates its own store, deletes the users it
 * wrote, then calls `destroy(store)` (default `store.close()`).
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
    rotationCases(runner, options);
    healthCases(runner, options);
    usageCases(runner, options);
    onceCases(runner, options);
  });
}
