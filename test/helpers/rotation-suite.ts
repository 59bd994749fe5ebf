// Rotation behaviour for any KeyStore: live traffic, resume after interruption, failed records, verify counts.
import { BYOK, ByokError } from "../../lib";
import type { CompareAndSwap, KeyStore } from "../../lib/extend";
import { keyIdFor, Vault } from "../../lib/vault/vault";

const OLD = Buffer.alloc(32, 11);
const NEW = Buffer.alloc(32, 22);
const byokFor = (store: KeyStore, masterKey: Buffer, previousMasterKeys: Buffer[] = []) =>
  new BYOK({
    masterKey,
    previousMasterKeys,
    store,
    providers: { gemini: { baseUrl: "http://127.0.0.1:9" }, alt: { kind: "gemini", baseUrl: "http://127.0.0.1:9" } },
  });

async function seed(store: KeyStore, users: string[], masterKey = OLD) {
  const byok = byokFor(store, masterKey);
  for (const userId of users) {
    await byok.registerKey({ userId, provider: "gemini", apiKey: `AIza-${userId}-gem`, validate: false });
    await byok.registerKey({ userId, provider: "alt", apiKey: `AIza-${userId}-alt`, validate: false });
  }
}

async function plaintexts(store: KeyStore, users: string[]): Promise<Record<string, string>> {
  // Decrypt through the vault with only the NEW key: proves every record was re-encrypted.
  const vault = new Vault([NEW]);
  const out: Record<string, string> = {};
  for (const userId of users) {
    for (const record of await store.list(userId))
      out[`${userId}/${record.provider}`] = await vault.open(record.ciphertext, record);
  }
  return out;
}

/** Wraps a store so that `race` runs between rotation's read and its compare-and-set (one by one or batched). */
function racing(store: KeyStore, race: (userId: string, provider: string) => Promise<void>): KeyStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "compareAndSwap") {
        return async (userId: string, provider: string, expected: string, next: string) => {
          await race(userId, provider);
          return target.compareAndSwap(userId, provider, expected, next);
        };
      }
      if (prop === "compareAndSwapMany" && target.compareAndSwapMany) {
        return async (swaps: CompareAndSwap[]) => {
          for (const s of swaps) await race(s.userId, s.provider);
          return target.compareAndSwapMany!(swaps);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Runs the rotation cases against a fresh store from `create` (cleaned by `destroy`). */
export function rotationSuite(
  name: string,
  create: () => Promise<KeyStore>,
  destroy: (store: KeyStore) => Promise<void>,
) {
  describe(`BYOK.rotate on ${name}`, () => {
    let store: KeyStore;
    const users = Array.from({ length: 12 }, (_, i) => `rot-user-${i}-${Math.random().toString(36).slice(2, 8)}`);
    beforeEach(async () => {
      store = await create();
      await seed(store, users);
    });
    afterEach(() => destroy(store));

    it("re-encrypts every record under the current key, and a second run finds nothing to do", async () => {
      const progress: number[] = [];
      const first = await byokFor(store, NEW, [OLD]).rotate({
        batchSize: 5,
        onProgress: (p) => progress.push(p.scanned),
      });
      expect(first).toEqual({ scanned: 24, rotated: 24, skipped: 0, failed: 0 });
      expect(progress.at(-1)).toBe(24);
      expect(progress.length).toBeGreaterThanOrEqual(4);
      const keys = await plaintexts(store, users);
      expect(Object.keys(keys)).toHaveLength(24);
      expect(keys[`${users[3]}/alt`]).toBe(`AIza-${users[3]}-alt`);
      expect(await byokFor(store, NEW, [OLD]).rotate()).toEqual({ scanned: 24, rotated: 0, skipped: 24, failed: 0 });
    });

    it("never overwrites a key replaced, nor resurrects a key deleted, while it runs", async () => {
      const live = byokFor(store, NEW, [OLD]);
      const [replaced, deleted] = [users[1]!, users[2]!];
      const raced = racing(store, async (userId, provider) => {
        if (provider !== "gemini") return;
        if (userId === replaced)
          await live.registerKey({ userId, provider, apiKey: "AIza-fresh-from-user", validate: false });
        if (userId === deleted) await live.deleteKey({ userId, provider });
      });
      const result = await byokFor(raced, NEW, [OLD]).rotate({ batchSize: 4 });
      expect(result).toEqual({ scanned: 24, rotated: 22, skipped: 2, failed: 0 });
      const keys = await plaintexts(store, users);
      expect(keys[`${replaced}/gemini`]).toBe("AIza-fresh-from-user");
      expect(keys[`${deleted}/gemini`]).toBeUndefined();
      expect(Object.keys(keys)).toHaveLength(23);
    });

    it("finishes on a second run after being interrupted, losing nothing", async () => {
      let batches = 0;
      const interrupted = byokFor(store, NEW, [OLD]).rotate({
        batchSize: 5,
        onProgress: () => {
          if (++batches === 2) throw new Error("killed");
        },
      });
      await expect(interrupted).rejects.toThrow("killed");
      const second = await byokFor(store, NEW, [OLD]).rotate({ batchSize: 5 });
      expect(second.scanned).toBe(24);
      expect(second.rotated).toBeGreaterThan(0);
      expect(second.rotated).toBeLessThan(24);
      expect(second.rotated + second.skipped).toBe(24);
      expect(Object.keys(await plaintexts(store, users))).toHaveLength(24);
    });

    it("counts records no known key can read as failed and leaves them untouched", async () => {
      const stranger = `rot-stranger-${Math.random().toString(36).slice(2, 8)}`;
      await seed(store, [stranger], Buffer.alloc(32, 33));
      const before = await store.get(stranger, "gemini");
      const result = await byokFor(store, NEW, [OLD]).rotate();
      expect(result).toEqual({ scanned: 26, rotated: 24, skipped: 0, failed: 2 });
      expect(await store.get(stranger, "gemini")).toEqual(before);
      const report = await byokFor(store, NEW, [OLD]).verify();
      expect(report.byKeyId).toEqual({ [keyIdFor(NEW)]: 24, [keyIdFor(OLD)]: 0 });
      expect(report.unreadable).toHaveLength(2);
      expect(report.unreadable).toContainEqual({
        userId: stranger,
        provider: "gemini",
        keyId: keyIdFor(Buffer.alloc(32, 33)),
      });
      await store.deleteUser(stranger);
    });

    it("verify counts records per key id before and after rotation", async () => {
      const before = await byokFor(store, NEW, [OLD]).verify();
      expect(before).toMatchObject({
        scanned: 24,
        byKeyId: { [keyIdFor(NEW)]: 0, [keyIdFor(OLD)]: 24 },
        unreadable: [],
      });
      await byokFor(store, NEW, [OLD]).rotate();
      expect((await byokFor(store, NEW, [OLD]).verify()).byKeyId).toEqual({
        [keyIdFor(NEW)]: 24,
        [keyIdFor(OLD)]: 0,
      });
    });

    it("rejects a bad batchSize with INVALID_REQUEST", async () => {
      const error = await byokFor(store, NEW, [OLD])
        .rotate({ batchSize: 0 })
        .catch((e: unknown) => e);
      expect(ByokError.is(error) && error.code).toBe("INVALID_REQUEST");
    });
  });
}
