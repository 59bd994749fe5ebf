// The rotation suite (live traffic, resume, failed records, exact verify counts) on the real stores: Redis, Redis Cluster, PostgreSQL.
import { Redis } from "ioredis";
import { Pool } from "pg";
import { BYOK, generateMasterKey, PostgresStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { useRedisCluster } from "../helpers/redis-server";
import { rotationSuite } from "../helpers/rotation-suite";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

/** Deletes every user the store holds, through the store itself (works for any prefix, node or cluster). */
async function emptyAndClose(store: KeyStore): Promise<void> {
  for await (const batch of store.scan({ batchSize: 100 })) {
    for (const userId of new Set(batch.map((r) => r.userId))) await store.deleteUser(userId);
  }
  await store.close?.();
}

rotationSuite(
  "RedisStore (single node)",
  async () => new RedisStore({ url: REDIS_URL, prefix: `${uniqueName("rot")}:` }),
  emptyAndClose,
);

describe("rotation on a 3-master Redis Cluster", () => {
  const cluster = useRedisCluster();
  rotationSuite(
    "RedisStore (cluster)",
    async () => new RedisStore({ client: cluster(), prefix: `${uniqueName("rot")}:` }),
    emptyAndClose,
  );
});

describe("rotation on PostgreSQL", () => {
  const tables: string[] = [];
  let pool: Pool;
  beforeAll(() => {
    pool = new Pool({ connectionString: DATABASE_URL });
  });
  afterAll(async () => {
    for (const t of tables) await pool.query(`DROP TABLE IF EXISTS "${t}"`);
    await pool.end();
  });

  rotationSuite(
    "PostgresStore",
    async () => {
      const table = uniqueName("rot");
      tables.push(table);
      const store = new PostgresStore({ pool, table });
      await store.migrate();
      return store;
    },
    emptyAndClose,
  );
});

describe("RedisStore.scan", () => {
  it("rotates every record exactly once even when Redis SCAN returns a key again; the repeats count as scanned and skipped", async () => {
    // SCAN may repeat a key when Redis shrinks its table mid-walk; this client makes every reply repeat the previous
    // page. The scan keeps no set of the hashes it read (it would grow with the number of users), so the
    // repeats reach rotate, whose compare-and-swap finds them already current.
    const client = new Redis(REDIS_URL);
    let previous: string[] = [];
    let returned = 0;
    const repeating = new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === "scan") {
          return async (...args: Parameters<Redis["scan"]>) => {
            const [cursor, keys] = await target.scan(...args);
            const reply = [...keys, ...previous];
            previous = keys;
            returned += reply.length;
            return [cursor, reply];
          };
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const store = new RedisStore({ client: repeating, prefix: `${uniqueName("dup")}:` });
    const [oldKey, newKey] = [generateMasterKey(), generateMasterKey()];
    try {
      const seeding = new BYOK({ masterKey: oldKey, store });
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          seeding.registerKey({
            userId: `dup-user-${i}`,
            provider: "gemini",
            apiKey: `AIza-dup-${i}-key`,
            validate: false,
          }),
        ),
      );
      const byok = new BYOK({ masterKey: newKey, previousMasterKeys: [oldKey], store });
      const result = await byok.rotate({ batchSize: 5 });
      expect(returned).toBeGreaterThan(40);
      expect(result).toEqual({ scanned: returned, rotated: 40, skipped: returned - 40, failed: 0 });
      returned = 0;
      previous = [];
      expect(await byok.rotate({ batchSize: 5 })).toEqual({
        scanned: returned,
        rotated: 0,
        skipped: returned,
        failed: 0,
      });
    } finally {
      await emptyAndClose(store);
      await client.quit();
    }
  });
});
