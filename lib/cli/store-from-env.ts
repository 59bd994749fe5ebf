// Opens the store the CLI works on: RedisStore from REDIS_URL or PostgresStore from DATABASE_URL (--store picks one).
import type { KeyStore } from "../core/types.js";
import { PostgresStore } from "../stores/postgres-store.js";
import { RedisStore } from "../stores/redis-store.js";
import { UsageError } from "./usage-error.js";

/** The kinds of store `--store` chooses between. */
export type StoreKind = "redis" | "postgres";

/** Which store to open, and its URL: the one `--store` names, else the only one whose variable is set. */
function chooseStore(env: NodeJS.ProcessEnv, chosen: StoreKind | undefined): { kind: StoreKind; url: string } {
  const urls = { redis: env.REDIS_URL, postgres: env.DATABASE_URL };
  if (chosen) {
    const url = urls[chosen];
    if (!url)
      throw new UsageError(`--store ${chosen} needs ${chosen === "redis" ? "REDIS_URL" : "DATABASE_URL"} to be set.`);
    return { kind: chosen, url };
  }
  if (urls.redis && urls.postgres)
    throw new UsageError(
      "Both REDIS_URL and DATABASE_URL are set; choose the store to work on with --store redis or --store postgres.",
    );
  if (urls.redis) return { kind: "redis", url: urls.redis };
  if (urls.postgres) return { kind: "postgres", url: urls.postgres };
  throw new UsageError("Set REDIS_URL (RedisStore) or DATABASE_URL (PostgresStore) to name the store to work on.");
}

/** Where the records are, from the environment and `--store`, `--prefix` / `--table`. */
export function storeFromEnv(
  env: NodeJS.ProcessEnv,
  options: { store?: StoreKind; prefix?: string; table?: string },
): { store: KeyStore; label: string } {
  const { kind, url } = chooseStore(env, options.store);
  if (kind === "redis") {
    if (options.table !== undefined)
      throw new UsageError("--table is for PostgreSQL (DATABASE_URL); with REDIS_URL use --prefix.");
    const store = new RedisStore({
      url,
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    });
    return { store, label: `Redis (prefix ${JSON.stringify(store.prefix)})` };
  }
  if (options.prefix !== undefined)
    throw new UsageError("--prefix is for Redis (REDIS_URL); with DATABASE_URL use --table.");
  const store = new PostgresStore({
    connectionString: url,
    ...(options.table !== undefined ? { table: options.table } : {}),
  });
  return { store, label: `PostgreSQL (table ${JSON.stringify(options.table ?? "byok_keys")})` };
}
