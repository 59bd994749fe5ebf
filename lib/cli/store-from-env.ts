// Opens the store the CLI works on: RedisStore from REDIS_URL or PostgresStore from DATABASE_URL.
import type { KeyStore } from "../core/types.js";
import { PostgresStore } from "../stores/postgres-store.js";
import { RedisStore } from "../stores/redis-store.js";
import { UsageError } from "./usage-error.js";

/** Where the records are, from the environment and `--prefix` / `--table`. */
export function storeFromEnv(
  env: NodeJS.ProcessEnv,
  options: { prefix?: string; table?: string },
): { store: KeyStore; label: string } {
  const { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl } = env;
  if (redisUrl && databaseUrl)
    throw new UsageError("Both REDIS_URL and DATABASE_URL are set; set only the one whose store you want to work on.");
  if (redisUrl) {
    if (options.table !== undefined)
      throw new UsageError("--table is for PostgreSQL (DATABASE_URL); with REDIS_URL use --prefix.");
    const store = new RedisStore({
      url: redisUrl,
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    });
    return { store, label: `Redis (prefix ${JSON.stringify(store.prefix)})` };
  }
  if (databaseUrl) {
    if (options.prefix !== undefined)
      throw new UsageError("--prefix is for Redis (REDIS_URL); with DATABASE_URL use --table.");
    const store = new PostgresStore({
      connectionString: databaseUrl,
      ...(options.table !== undefined ? { table: options.table } : {}),
    });
    return { store, label: `PostgreSQL (table ${JSON.stringify(options.table ?? "byok_keys")})` };
  }
  throw new UsageError("Set REDIS_URL (RedisStore) or DATABASE_URL (PostgresStore) to name the store to work on.");
}
