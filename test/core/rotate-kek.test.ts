// Moving every record from an env master key to Vault transit, then to AWS KMS, while chats and re-registrations run.
import { BYOK, type KeyEncryptionKey, MemoryStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeUpstream, startFakeGemini } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { type KekSetup, startKek } from "../helpers/key-services";
import { REDIS_URL, uniqueName } from "../helpers/services";

jest.setTimeout(240_000);

/** `npm test` moves 1,000 keys; `.ci/run`'s long stage sets BYOK_SOAK=1 for the 10,000-key soak. */
const MEMORY_KEYS = process.env.BYOK_SOAK === "1" ? 10_000 : 1_000;

const keyOf = (user: string, round: number) => `AIza-rotation-${user}-r${round}`;

/** The key id a stored ciphertext names: v1's master-key fingerprint, or v2's key-encryption key id. */
const keyIdIn = (ciphertext: string) => {
  const [version, id] = ciphertext.split(".");
  return version === "v2" ? Buffer.from(id!, "base64url").toString("utf8") : id;
};

async function countByKeyId(store: KeyStore): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for await (const batch of store.scan({ batchSize: 500 }))
    for (const { ciphertext } of batch) counts[keyIdIn(ciphertext)!] = (counts[keyIdIn(ciphertext)!] ?? 0) + 1;
  return counts;
}

/**
 * Rotates `store` (seeded with `count` keys under the env master key) env → Vault → KMS while
 * `workers` loops chat and re-register keys, then opens `check` users' keys with the KMS key alone.
 * Each KMS call costs a few ms here (the SDK and the fake share this process), so the KEKs get a
 * generous time limit: what is tested is that nothing is lost, not speed.
 */
async function migrate(store: KeyStore, count: number, workers: number, check: number): Promise<void> {
  const gemini: FakeUpstream = await startFakeGemini();
  const vault: KekSetup = await startKek("vaultTransit", { timeoutMs: 10_000 });
  const kms: KekSetup = await startKek("awsKms", { timeoutMs: 10_000 });
  const instances: BYOK[] = [];
  const byokWith = (
    keys: { masterKey?: string; keyEncryption?: KeyEncryptionKey; previousMasterKeys?: string[] } & {
      previousKeyEncryption?: KeyEncryptionKey[];
    },
  ) => {
    const byok = new BYOK({ ...keys, store, providers: { gemini: { baseUrl: gemini.url } } });
    instances.push(byok);
    return byok;
  };
  const users = Array.from({ length: count }, (_, i) => `rot-${i}`);
  const expected = new Map(users.map((u) => [u, keyOf(u, 0)]));
  try {
    const env = byokWith({ masterKey: TEST_MASTER_KEY });
    for (let i = 0; i < users.length; i += 200)
      await Promise.all(
        users
          .slice(i, i + 200)
          .map((userId) => env.registerKey({ userId, provider: "gemini", apiKey: keyOf(userId, 0), validate: false })),
      );

    // Each stage: the app already runs with the new key (and the old one still opening), rotate moves the rest.
    const stages = [
      { keyEncryption: vault.kek, previousMasterKeys: [TEST_MASTER_KEY] },
      { keyEncryption: kms.kek, previousKeyEncryption: [vault.kek] },
    ];
    for (const [round, keys] of stages.entries()) {
      const app = byokWith(keys);
      let rotating = true;
      let chats = 0;
      const traffic = async (worker: number) => {
        for (let n = 0; rotating; n++) {
          await new Promise(setImmediate); // let the rotation's store and key-service replies in between
          const user = users[(worker * 7919 + n * 104_729) % users.length]!;
          if (n % 5 === 0) {
            // a user replacing their key meanwhile: rotation must not overwrite it
            const apiKey = keyOf(user, round + 1);
            expected.set(user, apiKey);
            await app.registerKey({ userId: user, provider: "gemini", apiKey, validate: false });
          } else {
            await app.use(user).chat({ prompt: "hi" });
            chats++;
          }
        }
      };
      const rotation = byokWith(keys)
        .rotate({ batchSize: 250 })
        .finally(() => (rotating = false));
      const settled = await Promise.allSettled([rotation, ...Array.from({ length: workers }, (_, w) => traffic(w))]);
      for (const outcome of settled) if (outcome.status === "rejected") throw outcome.reason;
      const result = await rotation;
      expect(chats).toBeGreaterThan(0);
      expect(result.failed).toBe(0);
      expect(result.scanned).toBe(count);
      expect(await countByKeyId(store)).toEqual({ [keys.keyEncryption.id]: count });
    }

    // Only the KMS key now: the latest key of every user who replaced one, and of a spread of the
    // others, opens and is the one sent upstream.
    const replaced = users.filter((u) => expected.get(u) !== keyOf(u, 0));
    const spread = users.filter((_, i) => i % Math.ceil(count / check) === 0);
    const checked = [...new Set([...replaced, ...spread])];
    const final = byokWith({ keyEncryption: kms.kek });
    const sent = new Set<string>();
    gemini.requests.splice(0);
    for (let i = 0; i < checked.length; i += 100) {
      await Promise.all(checked.slice(i, i + 100).map((user) => final.use(user).chat({ prompt: "hi" })));
      for (const r of gemini.requests.splice(0)) sent.add(String(r.headers["x-goog-api-key"]));
    }
    expect(replaced.length).toBeGreaterThan(0);
    expect(checked.filter((u) => !sent.has(expected.get(u)!))).toEqual([]);
  } finally {
    for (const byok of instances) await byok.close();
    await Promise.all([gemini.close(), vault.close(), kms.close()]);
  }
}

describe("BYOK.rotate across key-encryption keys", () => {
  it(`moves ${MEMORY_KEYS.toLocaleString("en")} keys env → Vault transit → AWS KMS on a MemoryStore while chats run, losing nothing`, () =>
    migrate(new MemoryStore(), MEMORY_KEYS, 2, 500));

  it("moves 300 keys env → Vault transit → AWS KMS on a RedisStore while chats run, losing nothing", async () => {
    const prefix = `${uniqueName("rotkek")}:`;
    try {
      // 5 s, not 500 ms: the rotation's pages and the chats queue on one connection, on a machine that may be busy.
      await migrate(new RedisStore({ url: REDIS_URL, prefix, callTimeoutMs: 5000 }), 300, 1, 300);
    } finally {
      const cleanup = new RedisStore({ url: REDIS_URL, prefix, callTimeoutMs: 5000 });
      for (let i = 0; i < 300; i++) await cleanup.deleteUser(`rot-${i}`);
      await cleanup.close();
    }
  });
});
