// PostgresStore's rateLimits capability: the router's per-user counters (express-rate-limit's Store) in a table.
import type { ClientRateLimitInfo, Options, Store } from "express-rate-limit";

/** Runs one parameterised statement with the store's time limit and error handling; resolves its rows. */
export type RunStatement = <R extends Record<string, unknown>>(text: string, values: unknown[]) => Promise<R[]>;

/** The columns of `<table>_rate`: one row per limiter and counted key, alive until `reset_at`. */
export const RATE_TABLE_COLUMNS = `key text COLLATE "C" PRIMARY KEY, hits integer NOT NULL, reset_at timestamptz NOT NULL`;

const info = (row: { hits: number; reset_ms: number } | undefined): ClientRateLimitInfo | undefined =>
  row && { totalHits: row.hits, resetTime: new Date(row.reset_ms) };

/**
 * Fixed-window counters on PostgreSQL's clock, shared by every instance on the database: each increment is one
 * upsert that starts a new window once the old one ended, and drops up to 100 rows whose window ended (skipping rows
 * another call holds), so abandoned counters do not pile up.
 */
class PostgresCounters implements Store {
  readonly #run: RunStatement;
  readonly #table: string;
  readonly #limiter: string;
  #windowMs = 60_000;

  constructor(run: RunStatement, table: string, limiter: string) {
    this.#run = run;
    this.#table = table;
    this.#limiter = limiter;
  }

  init(options: Options): void {
    this.#windowMs = options.windowMs;
  }

  /** Limiters share the table: each key is `<limiter>:<key>`, and no limiter name holds `:`. */
  #key(key: string): string {
    return `${this.#limiter}:${key}`;
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const [row] = await this.#run<{ hits: number; reset_ms: number }>(
      `WITH purged AS (
         DELETE FROM ${this.#table} WHERE key IN (
           SELECT key FROM ${this.#table} WHERE reset_at < now() AND key <> $1 LIMIT 100 FOR UPDATE SKIP LOCKED))
       INSERT INTO ${this.#table} AS r (key, hits, reset_at)
       VALUES ($1, 1, now() + $2::double precision * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN r.reset_at <= now() THEN 1 ELSE r.hits + 1 END,
         reset_at = CASE WHEN r.reset_at <= now() THEN EXCLUDED.reset_at ELSE r.reset_at END
       RETURNING hits, extract(epoch FROM reset_at)::double precision * 1000 AS reset_ms`,
      [this.#key(key), this.#windowMs],
    );
    return info(row)!;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const [row] = await this.#run<{ hits: number; reset_ms: number }>(
      `SELECT hits, extract(epoch FROM reset_at)::double precision * 1000 AS reset_ms
       FROM ${this.#table} WHERE key = $1 AND reset_at > now()`,
      [this.#key(key)],
    );
    return info(row);
  }

  async decrement(key: string): Promise<void> {
    await this.#run(`UPDATE ${this.#table} SET hits = greatest(hits - 1, 0) WHERE key = $1 AND reset_at > now()`, [
      this.#key(key),
    ]);
  }

  async resetKey(key: string): Promise<void> {
    await this.#run(`DELETE FROM ${this.#table} WHERE key = $1`, [this.#key(key)]);
  }
}

/** The counters of the router's `limiter` in `table` (`<table>_rate`, made by `migrate()`). */
export function postgresRateLimits(run: RunStatement, table: string, limiter: "keys" | "chat"): Store {
  return new PostgresCounters(run, table, limiter);
}
