import { Pool } from "pg";
import { MemoryStore, PostgresStore, RedisStore } from "../../lib";
import { runKeyStoreConformance } from "../../lib/testing";
import { useRedisCluster } from "../helpers/redis-server";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

const runner = { describe, it };
const prefix = `${uniqueName("conf")}:`;

runKeyStoreConformance(runner, { name: "MemoryStore", create: () => new MemoryStore() });

runKeyStoreConformance(runner, {
  name: "RedisStore (single node)",
  create: () => new RedisStore({ url: REDIS_URL, prefix }),
  // A prefix that starts with the other one: SCAN patterns must not reach across.
  createIsolated: () => new RedisStore({ url: REDIS_URL, prefix: `${prefix}other:` }),
  unreachable: () => new RedisStore({ url: "redis://127.0.0.1:1" }),
});

describe("RedisStore on a 3-master cluster", () => {
  const cluster = useRedisCluster();

  runKeyStoreConformance(runner, {
    name: "RedisStore (cluster)",
    create: () => new RedisStore({ client: cluster(), prefix }),
    createIsolated: () => new RedisStore({ client: cluster(), prefix: `${prefix}other:` }),
    // Fast failure is covered by the single-node run and test/stores/redis-store.test.ts: an ioredis
    // Cluster that never connected keeps a 2 s timer after disconnect(), which jest reports as a leak.
  });
});

describe("PostgresStore conformance", () => {
  const table = uniqueName("conf");
  const tables = [table];
  let pool: Pool;
  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL });
    await new PostgresStore({ pool, table }).migrate();
  });
  afterAll(async () => {
    for (const t of tables) await pool.query(`DROP TABLE IF EXISTS "${t}"`);
    await pool.end();
  });

  runKeyStoreConformance(runner, {
    name: "PostgresStore",
    create: () => new PostgresStore({ pool, table }),
    createIsolated: async () => {
      const other = uniqueName("iso");
      tables.push(other);
      const store = new PostgresStore({ pool, table: other });
      await store.migrate();
      return store;
    },
    unreachable: () => new PostgresStore({ connectionString: "postgres://postgres@127.0.0.1:1/test" }),
  });
});
