// KeyStore conformance, key health: setStatus, what put/touch/compareAndSwap do to a status, and broken records.
import assert from "node:assert/strict";
import type { KeyRecord } from "../core/types.js";
import {
  byProvider,
  type ConformanceRunner,
  type KeyStoreConformanceOptions,
  makeRecord,
  scanAll,
  touchNow,
  withStore,
} from "./store-conformance-support.js";

/** What a store returns for a record it cannot read: only the ids are meaningful. */
const brokenRecord = (userId: string, provider: string): KeyRecord => ({
  userId,
  provider,
  label: "default",
  ciphertext: "",
  hint: "",
  createdAt: "",
  updatedAt: "",
  broken: true,
});

/**
 * Registers the status cases (for stores with `setStatus`, which is recommended: a store without it
 * passes them without checking anything) and, when `writeBroken` is given, the broken-record cases.
 */
export function healthCases({ it }: ConformanceRunner, o: KeyStoreConformanceOptions): void {
  it("`setStatus()` marks a key invalid and back to ok, changing nothing else", () =>
    withStore(o, async (store, user) => {
      if (!store.setStatus) return;
      const record = makeRecord(user(), "gemini", new Date(Date.now() - 60_000));
      await store.put(record);
      await store.setStatus(record.userId, "gemini", record.ciphertext, "invalid");
      assert.deepEqual(await store.get(record.userId, "gemini"), { ...record, status: "invalid" });
      assert.deepEqual(await store.list(record.userId), [{ ...record, status: "invalid" }]);
      await store.setStatus(record.userId, "gemini", record.ciphertext, "ok");
      assert.deepEqual(await store.get(record.userId, "gemini"), record);
    }));

  it("`setStatus()` keeps each stored status, with `statusUntil` when given and without it otherwise", () =>
    withStore(o, async (store, user) => {
      if (!store.setStatus) return;
      const record = makeRecord(user(), "gemini", new Date(Date.now() - 60_000));
      await store.put(record);
      const until = new Date(Date.now() + 90_000).toISOString();
      await store.setStatus(record.userId, "gemini", record.ciphertext, "rate_limited", until);
      assert.deepEqual(await store.get(record.userId, "gemini"), {
        ...record,
        status: "rate_limited",
        statusUntil: until,
      });
      assert.deepEqual(await store.list(record.userId), [{ ...record, status: "rate_limited", statusUntil: until }]);
      const scanned = (await scanAll(store)).records.filter((r) => r.userId === record.userId);
      assert.deepEqual(scanned, [{ ...record, status: "rate_limited", statusUntil: until }]);
      // A status given without statusUntil removes the one before.
      await store.setStatus(record.userId, "gemini", record.ciphertext, "quota_exhausted");
      assert.deepEqual(await store.get(record.userId, "gemini"), { ...record, status: "quota_exhausted" });
      await store.setStatus(record.userId, "gemini", record.ciphertext, "rate_limited", until);
      await store.setStatus(record.userId, "gemini", record.ciphertext, "invalid");
      assert.deepEqual(await store.get(record.userId, "gemini"), { ...record, status: "invalid" });
      await store.setStatus(record.userId, "gemini", record.ciphertext, "rate_limited", until);
      await store.setStatus(record.userId, "gemini", record.ciphertext, "ok");
      assert.deepEqual(await store.get(record.userId, "gemini"), record);
    }));

  it("`setStatus()` leaves alone a key whose ciphertext changed and never re-creates a deleted one", () =>
    withStore(o, async (store, user) => {
      if (!store.setStatus) return;
      const record = makeRecord(user());
      await store.put(record);
      await store.setStatus(record.userId, "gemini", "v1.another.ciphertext", "invalid");
      await store.setStatus(record.userId, "gemini", "v1.another.ciphertext", "rate_limited", record.updatedAt);
      assert.deepEqual(await store.get(record.userId, "gemini"), record);
      await store.delete(record.userId, "gemini");
      await store.setStatus(record.userId, "gemini", record.ciphertext, "invalid");
      assert.deepEqual(await store.list(record.userId), []);
    }));

  it("`put()` of a new key clears the status and `statusUntil`; `touch()` and `compareAndSwap()` keep them", () =>
    withStore(o, async (store, user) => {
      if (!store.setStatus) return;
      const record = makeRecord(user(), "gemini", new Date(Date.now() - 60_000));
      await store.put(record);
      const until = new Date(Date.now() + 30_000).toISOString();
      await store.setStatus(record.userId, "gemini", record.ciphertext, "rate_limited", until);
      const touched = await touchNow(store, record.userId);
      const next = makeRecord(record.userId).ciphertext;
      assert.equal(await store.compareAndSwap(record.userId, "gemini", record.ciphertext, next), true);
      assert.deepEqual(await store.get(record.userId, "gemini"), {
        ...record,
        ciphertext: next,
        ...touched,
        status: "rate_limited",
        statusUntil: until,
      });
      const replacement = makeRecord(record.userId);
      await store.put(replacement);
      assert.deepEqual(await store.get(record.userId, "gemini"), { ...replacement, createdAt: record.createdAt });
    }));

  const { writeBroken } = o;
  if (!writeBroken) return;

  it("`get()`, `list()` and `scan()` return a record that is not the store's format as broken, beside good ones", () =>
    withStore(o, async (store, user) => {
      const userId = user();
      const good = makeRecord(userId, "openai");
      await store.put(good);
      await writeBroken(store, userId, "gemini");
      assert.deepEqual(await store.get(userId, "gemini"), brokenRecord(userId, "gemini"));
      assert.deepEqual(await store.get(userId, "openai"), good);
      assert.deepEqual(byProvider(await store.list(userId)), [brokenRecord(userId, "gemini"), good]);
      const scanned = (await scanAll(store)).records.filter((r) => r.userId === userId);
      assert.deepEqual(byProvider(scanned), [brokenRecord(userId, "gemini"), good]);
    }));

  it("`put()` over a broken record replaces it with the new record and reports replaced", () =>
    withStore(o, async (store, user) => {
      const record = makeRecord(user());
      await writeBroken(store, record.userId, "gemini");
      assert.deepEqual(await store.put(record), { record, replaced: true });
      assert.deepEqual(await store.get(record.userId, "gemini"), record);
      assert.deepEqual(await store.list(record.userId), [record]);
    }));

  it("`touch()`, `setStatus()` and `compareAndSwap()` leave a broken record broken, without failing", () =>
    withStore(o, async (store, user) => {
      const userId = user();
      await writeBroken(store, userId, "gemini");
      await store.touch?.(userId, "gemini", new Date().toISOString());
      await store.setStatus?.(userId, "gemini", "", "invalid");
      assert.equal(await store.compareAndSwap(userId, "gemini", "", "v1.x.y.z.w"), false);
      assert.deepEqual(await store.get(userId, "gemini"), brokenRecord(userId, "gemini"));
      assert.equal(await store.delete(userId, "gemini"), true);
    }));
}
