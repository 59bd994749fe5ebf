// KeyStore conformance, what rotation and operations rely on: scan, compare-and-swap, isolation, fast failure.
import assert from "node:assert/strict";
import type { KeyStore } from "../core/types.js";
import {
  type ConformanceRunner,
  expectFastFailure,
  type KeyStoreConformanceOptions,
  makeRecord,
  scanAll,
  touchNow,
  withStore,
} from "./store-conformance-support.js";

/** Registers the scan and compare-and-swap cases, plus isolation and unreachable when the options allow. */
export function rotationCases({ it }: ConformanceRunner, o: KeyStoreConformanceOptions): void {
  it("`scan()` yields every record at least once, in batches of about batchSize", () =>
    withStore(o, async (store, user) => {
      const records = Array.from({ length: 50 }, (_, i) => makeRecord(user(), i % 2 ? "openai" : "gemini"));
      await Promise.all(records.map((r) => store.put(r)));
      const { records: seen, sizes } = await scanAll(store, 7);
      for (const size of sizes) assert.ok(size >= 1 && size <= 14, `a batch of ${size} records for batchSize 7`);
      assert.ok(
        sizes.length >= 4,
        `only ${sizes.length} batch(es) for 50 records with batchSize 7: scan() must stream`,
      );
      for (const r of records)
        assert.deepEqual(
          seen.find((s) => s.userId === r.userId && s.provider === r.provider),
          r,
        );
    }));

  it("`compareAndSwap()` replaces the ciphertext only when it matches, keeping every other field", () =>
    withStore(o, async (store, user) => {
      const record = makeRecord(user(), "gemini", new Date(Date.now() - 60_000));
      await store.put(record);
      const touched = await touchNow(store, record.userId);
      const next = makeRecord(record.userId).ciphertext;
      assert.equal(await store.compareAndSwap(record.userId, "gemini", record.ciphertext, next), true);
      assert.deepEqual(await store.get(record.userId, "gemini"), { ...record, ciphertext: next, ...touched });
      assert.equal(
        await store.compareAndSwap(record.userId, "gemini", record.ciphertext, makeRecord(record.userId).ciphertext),
        false,
      );
      assert.equal((await store.get(record.userId, "gemini"))?.ciphertext, next);
    }));

  it("`compareAndSwap()` returns false for a missing key and never re-creates a deleted one", () =>
    withStore(o, async (store, user) => {
      const record = makeRecord(user());
      assert.equal(await store.compareAndSwap(record.userId, "gemini", record.ciphertext, "v1.x.y.z.w"), false);
      await store.put(record);
      await store.delete(record.userId, "gemini");
      assert.equal(await store.compareAndSwap(record.userId, "gemini", record.ciphertext, "v1.x.y.z.w"), false);
      assert.equal(await store.get(record.userId, "gemini"), undefined);
      assert.deepEqual(await store.list(record.userId), []);
    }));

  it("`compareAndSwapMany()`, when the store has it, swaps exactly the records that still match, in order", () =>
    withStore(o, async (store, user) => {
      if (!store.compareAndSwapMany) return;
      const [kept, changed, gone] = [makeRecord(user()), makeRecord(user(), "openai"), makeRecord(user())];
      await Promise.all([kept, changed, gone].map((r) => store.put(r)));
      const replaced = { ...changed, ciphertext: makeRecord(changed.userId).ciphertext };
      await store.put(replaced);
      await store.delete(gone.userId, "gemini");
      const next = [kept, changed, gone].map((r) => makeRecord(r.userId).ciphertext);
      const swaps = [kept, changed, gone].map((r, i) => ({
        userId: r.userId,
        provider: r.provider,
        expectedCiphertext: r.ciphertext,
        ciphertext: next[i]!,
      }));
      assert.deepEqual(await store.compareAndSwapMany(swaps), [true, false, false]);
      assert.deepEqual(await store.compareAndSwapMany([]), []);
      assert.equal((await store.get(kept.userId, "gemini"))?.ciphertext, next[0]);
      assert.equal((await store.get(changed.userId, "openai"))?.ciphertext, replaced.ciphertext);
      assert.equal(await store.get(gone.userId, "gemini"), undefined);
    }));

  const { createIsolated, unreachable } = o;
  if (createIsolated) {
    it("keeps two stores with different prefixes or tables apart", () =>
      withStore(o, (a, user) =>
        withStore(
          o,
          async (b) => {
            const userId = user();
            const [mine, theirs] = [makeRecord(userId), makeRecord(userId)];
            await a.put(mine);
            await b.put(theirs);
            assert.deepEqual(await a.get(userId, "gemini"), mine);
            assert.deepEqual(await b.list(userId), [theirs]);
            assert.equal(
              (await scanAll(b)).records.some((r) => r.ciphertext === mine.ciphertext),
              false,
            );
            assert.equal(await b.deleteUser(userId), 1);
            assert.deepEqual(await a.list(userId), [mine]);
          },
          createIsolated,
        ),
      ));
  }

  if (unreachable) {
    it("every method rejects STORE_UNAVAILABLE in under a second when the backend cannot be reached", () =>
      withStore(
        o,
        async (store) => {
          const record = makeRecord("unreachable-user");
          const calls: [string, (s: KeyStore) => Promise<unknown>][] = [
            ["get", (s) => s.get(record.userId, "gemini")],
            ["list", (s) => s.list(record.userId)],
            ["put", (s) => s.put(record)],
            ["delete", (s) => s.delete(record.userId, "gemini")],
            ["deleteUser", (s) => s.deleteUser(record.userId)],
            ["touch", async (s) => s.touch?.(record.userId, "gemini", record.updatedAt)],
            ["compareAndSwap", (s) => s.compareAndSwap(record.userId, "gemini", record.ciphertext, "v1.x.y.z.w")],
            ["scan", (s) => scanAll(s)],
          ];
          if (store.compareAndSwapMany) {
            const swap = {
              userId: record.userId,
              provider: "gemini",
              expectedCiphertext: record.ciphertext,
              ciphertext: "v1.x.y.z.w",
            };
            calls.push(["compareAndSwapMany", (s) => s.compareAndSwapMany!([swap])]);
          }
          for (const [method, call] of calls) {
            await expectFastFailure(method, () => call(store));
          }
        },
        unreachable,
      ));
  }
}
