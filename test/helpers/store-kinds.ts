// The three built-in stores, each made on a namespace of its own: two stores made on one name share their data, as two app instances do.
import { MemoryStore, PostgresStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { DATABASE_URL, REDIS_URL } from "./services";

export interface StoreKind {
  name: string;
  /** A store on namespace `name` (a Redis prefix, a PostgreSQL table, a MemoryStore shared by name). */
  make(name: string): Promise<KeyStore>;
}

/** Memory, Redis and PostgreSQL, for `describe.each`. */
export function storeKinds(): StoreKind[] {
  const memory = new Map<string, MemoryStore>();
  return [
    {
      name: "MemoryStore",
      make: async (name) => {
        if (!memory.has(name)) memory.set(name, new MemoryStore());
        return memory.get(name)!;
      },
    },
    {
      name: "RedisStore",
      // 200 concurrent reserves queue behind each other on one connection; on a loaded machine the last waits past
      // the 500 ms default. Fast failure is tested with the default limit in test/hardening/redis-faults.test.ts.
      make: async (name) => new RedisStore({ url: REDIS_URL, prefix: `${name}:`, callTimeoutMs: 5000 }),
    },
    {
      name: "PostgresStore",
      make: async (name) => {
        // 200 concurrent reserves queue on one counter's row lock; on a loaded machine the last wait past 1 s.
        const store = new PostgresStore({ connectionString: DATABASE_URL, table: name, queryTimeoutMs: 10_000 });
        await store.migrate();
        return store;
      },
    },
  ];
}
