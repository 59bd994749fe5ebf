// Loads test/fixtures/store-0.1 (a RedisStore and a PostgresStore as byok-ai 0.1 left them) into the suite's servers.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { Client } from "pg";
import type { KeyInfo, UsageRow } from "../../lib";
import { DATABASE_URL, uniqueName } from "./services";

const DIR = join(__dirname, "..", "fixtures", "store-0.1");

/** One key 0.1 registered: its owner, provider and plaintext (expected.json's `keys`). */
export interface FixtureKey {
  userId?: string;
  teamId?: string;
  provider: string;
  apiKey: string;
  /** As registered (the full URL); KeyInfo shows its host. */
  endpoint?: string;
  status: "ok" | "invalid" | "rate_limited";
}

/** What 0.1 itself answered from one store, right after filling it. */
export interface FixtureReadBack {
  /** `listKeys` per owner: the user id, or `team:<teamId>`. */
  listKeys: Record<string, KeyInfo[]>;
  /** `usage` per owner (same naming), on `day` (and the fixed row's day for `user:1*{x}`). */
  usage: Record<string, UsageRow[]>;
  /** The UTC day the fixture's chats were counted on. */
  day: string;
}

/** test/fixtures/store-0.1/expected.json (README.md there says what each part is). */
export interface FixtureExpected {
  madeBy: { version: string; commit: string; at: string };
  masterKey: string;
  redisPrefix: string;
  postgresTable: string;
  keys: FixtureKey[];
  fixedUsage: { owners: string[]; row: UsageRow; retentionDays: number };
  reservation: {
    ownerId: string;
    id: string;
    tokens: number;
    counters: { name: string; limit: number; resetsAt: number }[];
    ttlMs: number;
  };
  once: { key: string; value: string; ttlMs: number };
  readBack: { redis: FixtureReadBack; postgres: FixtureReadBack };
}

export const fixtureExpected = (): FixtureExpected =>
  JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as FixtureExpected;

interface RedisEntry {
  key: string;
  type: "hash" | "string" | "zset" | "set" | "list";
  pttl: number | null;
  value: Record<string, string> | string | string[];
}

/**
 * Writes redis.json's keys with `prefix` in place of the fixture's (`byok:`), each with the TTL it had left when it
 * was dumped. Resolves to how many keys it wrote.
 */
export async function loadRedisFixture(client: Redis, prefix: string): Promise<number> {
  const dump = JSON.parse(readFileSync(join(DIR, "redis.json"), "utf8")) as { prefix: string; keys: RedisEntry[] };
  for (const { key, type, pttl, value } of dump.keys) {
    if (!key.startsWith(dump.prefix)) throw new Error(`redis.json: ${key} is outside ${dump.prefix}`);
    const at = prefix + key.slice(dump.prefix.length);
    if (type === "hash") await client.hset(at, value as Record<string, string>);
    else if (type === "string") await client.set(at, value as string);
    else if (type === "zset")
      await client.zadd(at, ...(value as string[]).flatMap((v, i, a) => (i % 2 ? [] : [a[i + 1]!, v])));
    else if (type === "set") await client.sadd(at, ...(value as string[]));
    else await client.rpush(at, ...(value as string[]));
    if (pttl !== null) await client.pexpire(at, pttl);
  }
  return dump.keys.length;
}

/** A database of the suite's PostgreSQL holding postgres.sql (0.1's tables, not migrated since). */
export interface PostgresFixture {
  /** The database's URL (trust authentication, as the suite's server). */
  url: string;
  /** Drops the database (cutting any session still on it). */
  drop(): Promise<void>;
}

/** Creates a fresh database on the suite's server and runs postgres.sql in it (the dump names schema `public`). */
export async function loadPostgresFixture(): Promise<PostgresFixture> {
  const name = uniqueName("pg01");
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  const loader = new Client({ connectionString: url.href });
  await loader.connect();
  try {
    // One simple query: the dump is INSERTs (no COPY), and its session settings end with this connection.
    await loader.query(readFileSync(join(DIR, "postgres.sql"), "utf8"));
  } finally {
    await loader.end();
  }
  return {
    url: url.href,
    drop: async () => {
      const client = new Client({ connectionString: DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
