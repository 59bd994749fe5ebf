import { Pool } from "pg";
import type { Redis } from "ioredis";
import { MemoryStore, PostgresStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import {
  type CapabilityConformanceOptions,
  runBudgetStoreConformance,
  runKeyStoreConformance,
  runOnceStoreConformance,
  runUsageStoreConformance,
} from "../../lib/testing";
import { useRedisCluster } from "../helpers/redis-server";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

const runner = { describe, it };
const prefix = `${uniqueName("conf")}:`;

/** Values a RedisStore field can hold that are not its format: not JSON, not an object, a field missing, a wrong type. */
const NOT_REDIS_RECORDS = [
  "not json",
  "42",
  "null",
  JSON.stringify({ hint: "\u2026abcd", createdAt: "t", updatedAt: "t" }),
  JSON.stringify({ ciphertext: 1, hint: "\u2026abcd", createdAt: "t", updatedAt: "t" }),
];
let brokenWrites = 0;
async function writeBrokenRedis(store: KeyStore, userId: string, provider: string): Promise<void> {
  const redis = store as RedisStore;
  const client = (await redis.connect()) as unknown as Redis;
  const key = `${redis.prefix}{${Buffer.from(userId, "utf8").toString("base64url")}}`;
  await client.hset(key, provider, NOT_REDIS_RECORDS[brokenWrites++ % NOT_REDIS_RECORDS.length]!);
}

type Backing = MemoryStore | RedisStore | PostgresStore;
/** The store each capability under test belongs to, so the suite's destroy closes it. */
const backing = new WeakMap<object, Backing>();
const capability =
  <K extends "usage" | "budgets" | "once">(name: K, make: () => Backing | Promise<Backing>) =>
  async (): Promise<Backing[K]> => {
    const store = await make();
    backing.set(store[name], store);
    return store[name];
  };

/** Runs the usage, budget and once suites on `make`'s stores (and the isolated and unreachable ones, when given). */
/** How the suites make one backend's stores: the same factories serve the keys suite and every capability's. */
interface Backend {
  create: () => Backing | Promise<Backing>;
  createIsolated?: () => Backing | Promise<Backing>;
  unreachable?: () => Backing;
}

/** The keys suite (with `keys`' own extra options) and every capability's suite, on one backend. */
function runAll(
  name: string,
  stores: Backend,
  keys: Omit<Parameters<typeof runKeyStoreConformance>[1], "name" | keyof Backend> = {},
): void {
  runKeyStoreConformance(runner, { name, ...stores, ...keys });
  runCapabilities(name, stores);
}

function runCapabilities(name: string, stores: Backend): void {
  const options = <K extends "usage" | "budgets" | "once">(k: K): CapabilityConformanceOptions<Backing[K]> => ({
    name: `${name} ${k}`,
    create: capability(k, stores.create),
    ...(stores.createIsolated && { createIsolated: capability(k, stores.createIsolated) }),
    ...(stores.unreachable && { unreachable: capability(k, stores.unreachable) }),
    destroy: (c) => backing.get(c)?.close(),
  });
  runUsageStoreConformance(runner, options("usage"));
  runBudgetStoreConformance(runner, options("budgets"));
  runOnceStoreConformance(runner, options("once"));
}

runKeyStoreConformance(runner, { name: "MemoryStore", create: () => new MemoryStore() });
// Each MemoryStore is its own backend: the capability suites check two of them are apart.
runCapabilities("MemoryStore", { create: () => new MemoryStore(), createIsolated: () => new MemoryStore() });

runAll(
  "RedisStore (single node)",
  {
    // 5 s, not 500 ms: the 200 concurrent reserve() calls queue on one connection and each call's limit counts its
    // wait; fast failure is checked by the unreachable store.
    create: () => new RedisStore({ url: REDIS_URL, prefix, callTimeoutMs: 5000 }),
    // A prefix that starts with the other one: SCAN patterns must not reach across.
    createIsolated: () => new RedisStore({ url: REDIS_URL, prefix: `${prefix}other:` }),
    unreachable: () => new RedisStore({ url: "redis://127.0.0.1:1" }),
  },
  { writeBroken: writeBrokenRedis },
);

describe("RedisStore on a 3-master cluster", () => {
  const cluster = useRedisCluster();

  runAll(
    "RedisStore (cluster)",
    {
      create: () => new RedisStore({ client: cluster(), prefix, callTimeoutMs: 5000 }),
      createIsolated: () => new RedisStore({ client: cluster(), prefix: `${prefix}other:` }),
      // Fast failure is covered by the single-node run and test/stores/redis-store.test.ts: an ioredis
      // Cluster that never connected keeps a 2 s timer after disconnect(), which jest reports as a leak.
    },
    { writeBroken: writeBrokenRedis },
  );
});

describe("PostgresStore conformance", () => {
  const table = uniqueName("conf");
  const tables = [table];
  let pool: Pool;
  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL });
    await new PostgresStore({ pool, table }).migrate();
    // A table someone loosened: rows with NULLs are not PostgresStore's format (writeBroken below).
    await pool.query(
      `ALTER TABLE "${table}" ALTER COLUMN ciphertext DROP NOT NULL, ALTER COLUMN hint DROP NOT NULL, ALTER COLUMN created_at DROP NOT NULL`,
    );
  });
  afterAll(async () => {
    for (const t of tables) await pool.query(`DROP TABLE IF EXISTS "${t}", "${t}_usage", "${t}_budget", "${t}_once"`);
    await pool.end();
  });

  runAll(
    "PostgresStore",
    {
      // 5 s, not 1 s: the 200 concurrent reserve() calls queue for the pool's 10 connections and one row
      // lock, and each call's limit counts its wait; fast failure is checked by the unreachable store.
      create: () => new PostgresStore({ pool, table, queryTimeoutMs: 5000 }),
      createIsolated: async () => {
        const other = uniqueName("iso");
        tables.push(other);
        const store = new PostgresStore({ pool, table: other });
        await store.migrate();
        return store;
      },
      unreachable: () => new PostgresStore({ connectionString: "postgres://postgres@127.0.0.1:1/test" }),
    },
    {
      writeBroken: async (_store, userId, provider) =>
        void (await pool.query(
          `INSERT INTO "${table}" (user_id, provider, ciphertext, hint, created_at, updated_at) VALUES ($1, $2, NULL, NULL, NULL, now())`,
          [userId, provider],
        )),
    },
  );
});
