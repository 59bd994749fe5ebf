// examples/prisma-key-store.ts (docs/stores.md, "Keeping keys with Prisma"), as written there, passes the KeyStore
// conformance suite over a stand-in for Prisma's delegate (pg), and PostgresStore reads and rotates what it wrote.
import { Pool } from "pg";
import { BYOK, generateMasterKey, PostgresStore } from "../../lib";
import type { KeyRecord, KeyStore } from "../../lib/extend";
import { runKeyStoreConformance } from "../../lib/testing";
import { DATABASE_URL, uniqueName } from "../helpers/services";
import { createTableSql, pgPrismaDelegate } from "./pg-prisma-delegate";
import { exampleAsModule } from "./readme-blocks";

const generated = exampleAsModule("prisma-key-store.ts");
const { PrismaKeyStore } = jest.requireActual(generated.path) as {
  PrismaKeyStore: new (delegate: ReturnType<typeof pgPrismaDelegate>) => KeyStore;
};

const pool = new Pool({ connectionString: DATABASE_URL, max: 4 });
const unreachablePool = new Pool({ host: "127.0.0.1", port: 1, user: "postgres", connectionTimeoutMillis: 500 });
const [table, otherTable] = [uniqueName("prisma"), uniqueName("prisma_other")];

beforeAll(async () => {
  for (const name of [table, otherTable]) await pool.query(createTableSql(name));
});
afterAll(async () => {
  for (const name of [table, otherTable]) await pool.query(`DROP TABLE IF EXISTS "${name}"`);
  await Promise.all([pool.end(), unreachablePool.end()]);
  generated.remove();
});

runKeyStoreConformance(
  { describe, it },
  {
    name: "PrismaKeyStore (examples/prisma-key-store.ts) over a pg stand-in for prisma.byokKey",
    create: () => new PrismaKeyStore(pgPrismaDelegate(pool, table)),
    createIsolated: () => new PrismaKeyStore(pgPrismaDelegate(pool, otherTable)),
    unreachable: () => new PrismaKeyStore(pgPrismaDelegate(unreachablePool, table)),
    destroy: () => undefined, // the pools are the test's, ended in afterAll
  },
);

describe("PrismaKeyStore and PostgresStore on one table", () => {
  it("PostgresStore reads and rotates the keys PrismaKeyStore stored", async () => {
    const [oldKey, newKey] = [generateMasterKey(), generateMasterKey()];
    const userId = uniqueName("user");
    const viaPrisma = new BYOK({ masterKey: oldKey, store: new PrismaKeyStore(pgPrismaDelegate(pool, table)) });
    await viaPrisma.registerKey({ userId, provider: "gemini", apiKey: "AIza-prisma-recipe-0001", validate: false });
    const viaPostgres = new BYOK({
      masterKey: newKey,
      previousMasterKeys: [oldKey],
      store: new PostgresStore({ pool, table }),
    });
    expect((await viaPostgres.listKeys(userId)).map((k) => [k.provider, k.hint])).toEqual([["gemini", "…0001"]]);
    expect(await viaPostgres.rotate()).toMatchObject({ rotated: 1, failed: 0 });
    expect((await viaPrisma.listKeys(userId)).map((k) => k.hint)).toEqual(["…0001"]);
    await viaPrisma.deleteUser(userId);
  });

  it("each reads the other's labels, priority, expiry and models; an unrestricted key has no models either way", async () => {
    const [prisma, postgres] = [new PrismaKeyStore(pgPrismaDelegate(pool, table)), new PostgresStore({ pool, table })];
    const at = new Date().toISOString();
    const base = { provider: "openai", hint: "…0002", createdAt: at, updatedAt: at };
    const pairs: [KeyStore, KeyStore][] = [
      [prisma, postgres],
      [postgres, prisma],
    ];
    for (const [writer, reader] of pairs) {
      const userId = uniqueName("user");
      const work: KeyRecord = {
        ...base,
        userId,
        label: "work",
        ciphertext: "v1.a",
        priority: 2,
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        models: ["gpt-4o-mini"],
      };
      const plain: KeyRecord = { ...base, userId, label: "default", ciphertext: "v1.b" };
      await writer.put(work);
      await writer.put(plain);
      await writer.put({ ...plain, ciphertext: "v1.c" }); // replaced; PrismaKeyStore writes no models as {}, not NULL
      expect(await reader.get(userId, "openai", "work")).toEqual(work);
      expect(await reader.get(userId, "openai")).toEqual({ ...plain, ciphertext: "v1.c" });
      await reader.deleteUser(userId);
    }
  });
});
