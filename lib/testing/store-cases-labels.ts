// KeyStore conformance, several keys per provider: records identified by (userId, provider, label), each label on its own.
import assert from "node:assert/strict";
import type { KeyRecord } from "../core/types.js";
import {
  type ConformanceRunner,
  type KeyStoreConformanceOptions,
  makeRecord,
  scanAll,
  withStore,
} from "./store-conformance-support.js";

/** Labels a naive store would confuse: the default one, one holding `:` (a field separator), a near-duplicate. */
const LABELS = ["default", "work", "work:2", "work ", "Work", "a.b-c_d 9"];

/** Records in a stable order, for comparisons free of the store's order. */
const sorted = (records: KeyRecord[]): KeyRecord[] =>
  [...records].sort((a, b) => {
    const x = `${a.provider}\u0000${a.label}`;
    const y = `${b.provider}\u0000${b.label}`;
    return x < y ? -1 : x > y ? 1 : 0;
  });

/** Registers the label cases (unless `labels: false`). */
export function labelCases({ it }: ConformanceRunner, o: KeyStoreConformanceOptions): void {
  if (o.labels === false) return;

  it("declares `labels`, and keeps every label of one provider as its own record through get, list and scan", () =>
    withStore(o, async (store, user) => {
      assert.equal(store.labels, true, "a store that keeps several labels per provider declares `labels: true`");
      const userId = user();
      const records = LABELS.map((label) => makeRecord(userId, "openai", new Date(), label));
      for (const record of records) assert.deepEqual(await store.put(record), { record, replaced: false });
      for (const record of records) assert.deepEqual(await store.get(userId, "openai", record.label), record);
      assert.deepEqual(await store.get(userId, "openai"), records[0], "no label is label `default`");
      assert.deepEqual(sorted(await store.list(userId)), sorted(records));
      const { records: scanned } = await scanAll(store);
      assert.deepEqual(sorted(scanned.filter((r) => r.userId === userId)), sorted(records));
      assert.equal(await store.get(userId, "openai", "missing"), undefined);
    }));

  it("`put()` of one label replaces only that label; `delete()` removes only the label named", () =>
    withStore(o, async (store, user) => {
      const userId = user();
      const [first, work] = [makeRecord(userId, "openai"), makeRecord(userId, "openai", new Date(), "work")];
      await store.put(first);
      await store.put(work);
      const again = { ...makeRecord(userId, "openai", new Date(), "work") };
      const { replaced } = await store.put(again);
      assert.equal(replaced, true);
      assert.equal((await store.get(userId, "openai"))?.ciphertext, first.ciphertext);
      assert.equal((await store.get(userId, "openai", "work"))?.ciphertext, again.ciphertext);
      assert.equal(await store.delete(userId, "openai", "work"), true);
      assert.equal(await store.delete(userId, "openai", "work"), false);
      assert.deepEqual(await store.list(userId), [first]);
      await store.put(work);
      assert.equal(await store.delete(userId, "openai"), true, "no label deletes label `default`");
      assert.deepEqual(await store.list(userId), [work]);
      assert.equal(await store.deleteUser(userId), 1);
    }));

  it("keeps `priority`, `expiresAt` and `models` exactly; a replacing put without them drops them", () =>
    withStore(o, async (store, user) => {
      const userId = user();
      const record: KeyRecord = {
        ...makeRecord(userId, "openai", new Date(), "backup"),
        priority: 3,
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        models: ["gpt-4o-mini", "o3"],
      };
      assert.deepEqual((await store.put(record)).record, record);
      assert.deepEqual(await store.get(userId, "openai", "backup"), record);
      assert.deepEqual(await store.list(userId), [record]);
      const { records: scanned } = await scanAll(store);
      assert.deepEqual(
        scanned.filter((r) => r.userId === userId),
        [record],
      );
      const bare = makeRecord(userId, "openai", new Date(), "backup");
      await store.put(bare);
      assert.deepEqual(await store.get(userId, "openai", "backup"), { ...bare, createdAt: record.createdAt });
    }));

  it("`touch()`, `setStatus()` and `compareAndSwap()` change only the label named", () =>
    withStore(o, async (store, user) => {
      const userId = user();
      const [plain, work] = [makeRecord(userId, "openai"), makeRecord(userId, "openai", new Date(), "work")];
      await store.put(plain);
      await store.put(work);
      const at = new Date().toISOString();
      await store.touch?.(userId, "openai", at, "work");
      await store.setStatus?.(userId, "openai", work.ciphertext, "rate_limited", at, "work");
      // The same ciphertext under another label is another record: nothing happens to it.
      await store.setStatus?.(userId, "openai", work.ciphertext, "invalid", undefined, "default");
      assert.equal(await store.compareAndSwap(userId, "openai", work.ciphertext, "v1.swapped.w", "work"), true);
      assert.equal(await store.compareAndSwap(userId, "openai", work.ciphertext, "v1.swapped.d", "default"), false);
      assert.deepEqual(await store.get(userId, "openai"), plain);
      const touched = store.touch ? { lastUsedAt: at } : {};
      const marked = store.setStatus ? { status: "rate_limited", statusUntil: at } : {};
      assert.deepEqual(await store.get(userId, "openai", "work"), {
        ...work,
        ...touched,
        ...marked,
        ciphertext: "v1.swapped.w",
      });
      if (store.compareAndSwapMany) {
        const swaps = [
          { userId, provider: "openai", label: "work", expectedCiphertext: "v1.swapped.w", ciphertext: "v1.many.w" },
          { userId, provider: "openai", expectedCiphertext: plain.ciphertext, ciphertext: "v1.many.d" },
          { userId, provider: "openai", label: "other", expectedCiphertext: plain.ciphertext, ciphertext: "v1.x" },
        ];
        assert.deepEqual(await store.compareAndSwapMany(swaps), [true, true, false]);
        assert.equal((await store.get(userId, "openai", "work"))?.ciphertext, "v1.many.w");
        assert.equal((await store.get(userId, "openai"))?.ciphertext, "v1.many.d");
      }
    }));

  it("`deleteUser()` removes every label of every provider and counts them", () =>
    withStore(o, async (store, user) => {
      const [userId, other] = [user(), user()];
      for (const label of LABELS.slice(0, 3)) {
        await store.put(makeRecord(userId, "openai", new Date(), label));
        await store.put(makeRecord(userId, "gemini", new Date(), label));
      }
      const kept = makeRecord(other, "openai", new Date(), "work");
      await store.put(kept);
      assert.equal(await store.deleteUser(userId), 6);
      assert.deepEqual(await store.list(userId), []);
      assert.deepEqual(await store.list(other), [kept]);
    }));
}
