// KeyStore conformance, single-use values (putOnce/takeOnce, the router's connect state): once, expiry, odd keys, fast failure.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { KeyStore } from "../core/types.js";
import {
  type ConformanceRunner,
  expectFastFailure,
  type KeyStoreConformanceOptions,
  withStore,
} from "./store-conformance-support.js";

/** How long the expiry case waits at most for a 1 ms value to be gone: far beyond any store's clock step. */
const EXPIRY_WAIT_MS = 5_000;

/** The store's putOnce/takeOnce, or undefined for a store without them (then the cases check nothing). */
function onceOf(store: KeyStore) {
  const { putOnce, takeOnce } = store;
  if (!putOnce || !takeOnce) return undefined;
  return { put: putOnce.bind(store), take: takeOnce.bind(store) };
}

/** Registers the single-use cases, for stores with `putOnce` and `takeOnce` (optional: a store without them passes). */
export function onceCases({ it }: ConformanceRunner, o: KeyStoreConformanceOptions): void {
  it("`takeOnce()` returns what `putOnce()` kept, once; then `undefined`", () =>
    withStore(o, async (store) => {
      const once = onceOf(store);
      if (!once) return;
      const key = `conformance:${randomUUID()}`;
      const value = JSON.stringify({ userId: randomUUID(), verifier: randomUUID(), note: "\u00e9\u{1F511}" });
      await once.put(key, value, 60_000);
      assert.equal(await once.take(key), value);
      assert.equal(await once.take(key), undefined);
      assert.equal(await once.take(`conformance:${randomUUID()}`), undefined);
    }));

  it("`takeOnce()` lets exactly one of many concurrent takers have the value", () =>
    withStore(o, async (store) => {
      const once = onceOf(store);
      if (!once) return;
      const key = `conformance:${randomUUID()}`;
      await once.put(key, "the value", 60_000);
      const taken = await Promise.all(Array.from({ length: 8 }, () => once.take(key)));
      assert.deepEqual(
        taken.filter((v) => v !== undefined),
        ["the value"],
      );
    }));

  it("`takeOnce()` returns `undefined` once the value's `ttlMs` has passed", () =>
    withStore(o, async (store) => {
      const once = onceOf(store);
      if (!once) return;
      const kept = `conformance:${randomUUID()}`;
      await once.put(kept, "kept", 60_000);
      // A 1 ms value is expired by the time anything can look; each look takes it, so put it again until one
      // look comes back empty (the clocks that decide expiry are the store's, so poll rather than sleep).
      const short = `conformance:${randomUUID()}`;
      const started = performance.now();
      for (;;) {
        await once.put(short, "short", 1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if ((await once.take(short)) === undefined) break;
        assert.ok(performance.now() - started < EXPIRY_WAIT_MS, "a value with ttlMs 1 was still there after 5 s");
      }
      assert.equal(await once.take(kept), "kept");
    }));

  it("`putOnce()` keeps odd keys apart (`:`, braces, `*`, `%`, Unicode, 512 characters)", () =>
    withStore(o, async (store) => {
      const once = onceOf(store);
      if (!once) return;
      const id = randomUUID();
      const keys = [
        `${id}`,
        `${id}:a`,
        `${id}:a:`,
        `{${id}}`,
        `${id}}`,
        `${id}*`,
        `${id}%`,
        `${id}\u00e9`,
        `${id}e\u0301`,
        `${id}\u{1F511}`,
        `${id}${"x".repeat(512 - id.length)}`,
      ];
      for (const [i, key] of keys.entries()) await once.put(key, `value ${i}`, 60_000);
      for (const [i, key] of keys.entries()) assert.equal(await once.take(key), `value ${i}`, `key #${i}`);
    }));

  it("`putOnce()` values are not user records: `scan()` and `list()` never show them", () =>
    withStore(o, async (store, user) => {
      const once = onceOf(store);
      if (!once) return;
      const userId = user();
      await once.put(userId, "not a record", 60_000);
      assert.deepEqual(await store.list(userId), []);
      for await (const batch of store.scan())
        assert.equal(
          batch.some((r) => r.userId === userId),
          false,
        );
      assert.equal(await once.take(userId), "not a record");
    }));

  const { createIsolated, unreachable } = o;
  if (createIsolated) {
    it("`takeOnce()` never sees another prefix's or table's values", () =>
      withStore(o, (a) =>
        withStore(
          o,
          async (b) => {
            const [onceA, onceB] = [onceOf(a), onceOf(b)];
            if (!onceA || !onceB) return;
            const key = `conformance:${randomUUID()}`;
            await onceA.put(key, "a", 60_000);
            assert.equal(await onceB.take(key), undefined);
            assert.equal(await onceA.take(key), "a");
          },
          createIsolated,
        ),
      ));
  }

  if (!unreachable) return;
  it("`putOnce()` and `takeOnce()` reject STORE_UNAVAILABLE in under a second when the backend cannot be reached", () =>
    withStore(
      o,
      async (store) => {
        const once = onceOf(store);
        if (!once) return;
        for (const [method, call] of [
          ["putOnce", () => once.put("unreachable", "v", 60_000)],
          ["takeOnce", () => once.take("unreachable")],
        ] as const) {
          await expectFastFailure(method, call);
        }
      },
      unreachable,
    ));
}
