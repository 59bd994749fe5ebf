// PostgresStore: a KeyStore on PostgreSQL (pg): one row per (user, provider, label), parameterised SQL, keyset-paginated scan.
import { debuglog } from "node:util";
import type { Pool, PoolClient, QueryResultRow } from "pg";
import type { Store as RateLimitCounters } from "express-rate-limit";
import { checkDuration, checkOptionsObject, configError, type KeysEnum } from "../core/option-checks.js";
import { loadOptionalPeer, requirePeerInstalled } from "../core/optional-peer.js";
import {
  DEFAULT_LABEL,
  type BudgetCounter,
  type BudgetRefusal,
  type BudgetStore,
  type ByokStores,
  type CompareAndSwap,
  type KeyRecord,
  type KeyStore,
  type OnceStore,
  type PutResult,
  type StoredKeyStatus,
  type UsageRow,
  type UsageStore,
} from "../core/types.js";
import { capabilityOf } from "../core/stores.js";
import { encodedOwnerId } from "../core/owner.js";
import { storedStatusOf } from "../core/key-verdict.js";
import { checkOnceKey, checkStorableUserId, settingsOf, storeUnavailable, withTimeLimit } from "./store-support.js";
import { checkBatchSize, MAX_BATCH_SIZE } from "../core/batch-size.js";
import type { PgPoolLike } from "./driver-types.js";
import { postgresRateLimits, RATE_TABLE_COLUMNS } from "./postgres-rate-limits.js";
import {
  addUsageSql,
  companionTable,
  createUsageTables,
  readUsageRows,
  reserveIn,
  runOn,
  settleSql,
  SWEEP_ROWS,
  sweepBudgetsSql,
  sweepUsageSql,
  type UsageTables,
  usageTables,
} from "./postgres-usage.js";
import { checkCount, checkCounters, checkRetentionDays, checkUsageRow } from "./usage-support.js";
import { DAY_MS, dayOf, dayStart } from "../core/days.js";
import { invalid } from "../core/validate.js";

const debug = debuglog("byok");

/** A once value's `key` column: the owner, encoded (it ends at its only `}`), then the key. */
const onceKeyOf = (owner: string, key: string): string => `${encodedOwnerId(checkStorableUserId(owner))}:${key}`;

/** Options of `new PostgresStore()`: exactly one of `pool` / `connectionString`. */
export interface PostgresStoreOptions {
  /**
   * Your `pg` Pool. The store never ends it, never changes its settings and adds no lasting listener to it
   * (it listens to a connection only while it holds it): give it your own `pool.on("error", …)` and
   * `pool.on("connect", (c) => c.on("error", …))`, since pg emits "error" when the server ends a connection
   * and Node ends a process where nobody hears it (docs/stores-timeouts.md).
   */
  pool?: PgPoolLike;
  /** e.g. `"postgres://user@localhost/app"`: the store creates (and on `close()` ends) its own pool. */
  connectionString?: string;
  /** Table name, optionally schema-qualified (`schema.table`), lower-case identifiers. Defaults to `"byok_keys"`. */
  table?: string;
  /**
   * Longest one call may take, connecting included, before it rejects `STORE_UNAVAILABLE`: a whole
   * number of milliseconds from 1 to 60,000. PostgreSQL enforces it too (`statement_timeout` on the
   * store's own statements), so a query the caller gave up on is cancelled, not left running; a write
   * the server had not committed by then is rolled back (see docs/stores-timeouts.md). Defaults to 1000.
   */
  queryTimeoutMs?: number;
}

const KNOWN: KeysEnum<PostgresStoreOptions> = { pool: true, connectionString: true, table: true, queryTimeoutMs: true };
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const DEFAULT_QUERY_TIMEOUT_MS = 1000;
const MAX_QUERY_TIMEOUT_MS = 60_000;
/** Added to the call's limit per record of a batched call (scan pages, compareAndSwapMany). */
const PER_ITEM_MS = 1;
/**
 * For the store's own pool: a query still unanswered this long after the longest call's limit is
 * abandoned and its connection dropped, so a server that vanished without closing its sockets
 * cannot hold every pooled connection. The call has long been answered 503 by then.
 */
const STUCK_QUERY_MS = 15_000;
const MIGRATE_LIMIT_MS = 15_000;
/** How often addUsage deletes usage rows past retention and stale budget counters (per store instance). */
const SWEEP_EVERY_MS = 3_600_000;
/** First key of the migration's advisory lock, so it cannot clash with the application's own locks ("byk"). */
const LOCK_NAMESPACE = 0x62796b;
const FIX = "check that PostgreSQL is reachable, then try again";
const MISSING_TABLE = "the table does not exist; run `await store.migrate()` once at start-up";
const OLD_TABLE = "the table lacks a column of this version; run `await store.migrate()` once at start-up";

/** A PostgreSQL identifier in double quotes, for a name the server gave (e.g. a constraint's). */
const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

// Timestamps come back as the ISO strings that were stored (millisecond precision), whatever type parsers the pool has.
const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLUMNS = `user_id, provider, label, ciphertext, hint, endpoint, region, priority, ${iso("expires_at")} AS expires_at, models, ${iso("created_at")} AS created_at, ${iso("updated_at")} AS updated_at, ${iso("last_used_at")} AS last_used_at, status, ${iso("status_until")} AS status_until`;

// Nullable for tables not made by migrate() (or altered since): a NULL where a value belongs is a broken record.
interface Row extends QueryResultRow {
  user_id: string;
  provider: string;
  label: string;
  ciphertext: string | null;
  hint: string | null;
  endpoint: string | null;
  region: string | null;
  priority: number | null;
  expires_at: string | null;
  models: string[] | null;
  created_at: string | null;
  updated_at: string | null;
  last_used_at: string | null;
  status: string | null;
  status_until: string | null;
}

/** SQL: row `t` is PostgresStore's format (the NULL checks of toRecord). */
const WHOLE_ROW =
  "t.ciphertext IS NOT NULL AND t.hint IS NOT NULL AND t.created_at IS NOT NULL AND t.updated_at IS NOT NULL";

function toRecord(row: Row): KeyRecord {
  const { user_id: userId, provider, label, ciphertext, hint, created_at: createdAt, updated_at: updatedAt } = row;
  if (ciphertext === null || hint === null || createdAt === null || updatedAt === null)
    return { userId, provider, label, ciphertext: "", hint: "", createdAt: "", updatedAt: "", broken: true };
  const record: KeyRecord = { userId, provider, label, ciphertext, hint, createdAt, updatedAt };
  if (row.endpoint !== null) record.endpoint = row.endpoint;
  if (row.region !== null) record.region = row.region;
  if (row.priority !== null) record.priority = row.priority;
  if (row.expires_at !== null) record.expiresAt = row.expires_at;
  // An empty list is no restriction too: Prisma cannot write a NULL list, so a Prisma store keeps "any model" as {}.
  if (row.models !== null && row.models.length > 0) record.models = row.models;
  if (row.last_used_at !== null) record.lastUsedAt = row.last_used_at;
  return { ...record, ...storedStatusOf(row.status, row.status_until) };
}

/**
 * Keeps encrypted keys in a PostgreSQL table (ciphertext and metadata only), one row per
 * (user_id, provider, label). Call `await store.migrate()` once at start-up; it is idempotent and safe
 * from several processes at once. A database that cannot be reached makes every call reject
 * `STORE_UNAVAILABLE` quickly.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL });  // or { pool }
 * await store.migrate();
 * const byok = new BYOK({ masterKey: process.env.BYOK_MASTER_KEY!, store });
 * ```
 * @throws ByokError CONFIG_INVALID for bad options (both or neither of pool/connectionString, a bad table name or queryTimeoutMs), or a connectionString without pg installed
 */
export class PostgresStore implements KeyStore, ByokStores {
  /** Keeps several labels per (owner, provider): the table's key is (user_id, provider, label). */
  readonly labels = true;
  /** Usage rows, by owner, in `<table>_usage`. */
  readonly usage: UsageStore;
  /** Budget counters, by owner, in `<table>_budget` (atomic against every instance). */
  readonly budgets: BudgetStore;
  /** Single-use values (the router's connect state), by owner, in `<table>_once`. */
  readonly once: OnceStore;
  /** The router's per-user counters, in `<table>_rate`: every instance on the database shares the limits. */
  readonly rateLimits: (limiter: "keys" | "chat") => RateLimitCounters;
  /**
   * The longest one call may take before it rejects `STORE_UNAVAILABLE`, in milliseconds (the
   * `queryTimeoutMs` option, 1000 by default); the server cancels the store's statements at it too.
   */
  readonly queryTimeoutMs: number;
  readonly #table: string;
  readonly #usageTables: UsageTables;
  /** `performance.now()` time from which addUsage sweeps old rows again. */
  #nextSweepAt = 0;
  /** `<table>_once`, in the same schema: the values of the once capability. */
  readonly #onceTable: string;
  /** `<table>_rate`, in the same schema: the rateLimits capability's counters. */
  readonly #rateTable: string;
  readonly #connectionString?: string;
  #pool?: Promise<Pool>;
  #ownPool = false;

  /**
   * The key records: this store (read through what `keys` is asked of, so a Proxy or wrapper made over the store
   * and given whole as `store` keeps its place).
   */
  get keys(): KeyStore {
    return this;
  }

  constructor(options: PostgresStoreOptions) {
    const o = checkOptionsObject<PostgresStoreOptions>(options, KNOWN, "PostgresStore");
    if (o.pool !== undefined && o.connectionString !== undefined)
      throw configError("PostgresStore: pass pool or connectionString, not both.");
    if (o.pool === undefined && o.connectionString === undefined)
      throw configError('PostgresStore: pass pool (a pg Pool) or connectionString (e.g. "postgres://localhost/app").');
    if (o.connectionString !== undefined && (typeof o.connectionString !== "string" || o.connectionString.length === 0))
      throw configError("PostgresStore: connectionString must be a non-empty string.");
    if (
      o.pool !== undefined &&
      (typeof o.pool !== "object" ||
        o.pool === null ||
        typeof (o.pool as Partial<Pool>).query !== "function" ||
        typeof (o.pool as Partial<Pool>).connect !== "function")
    ) {
      throw configError("PostgresStore: pool must be a pg Pool.");
    }
    const table = o.table ?? "byok_keys";
    const parts = typeof table === "string" ? table.split(".") : [];
    if (parts.length < 1 || parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
      throw configError(
        'PostgresStore: table must be a lower-case identifier (letters, digits, "_", at most 63), optionally "schema.table", e.g. "byok_keys".',
      );
    }
    this.#table = parts.map((p) => `"${p}"`).join(".");
    this.#usageTables = usageTables(parts);
    this.#onceTable = companionTable(parts, "_once");
    this.#rateTable = companionTable(parts, "_rate");
    this.queryTimeoutMs =
      o.queryTimeoutMs === undefined
        ? DEFAULT_QUERY_TIMEOUT_MS
        : checkDuration(o.queryTimeoutMs, "PostgresStore: queryTimeoutMs", MAX_QUERY_TIMEOUT_MS);
    // A connectionString store creates its own pool with pg: say now, not on the first request, that it is missing.
    if (o.connectionString !== undefined) requirePeerInstalled("pg", "PostgresStore");
    this.#connectionString = o.connectionString;
    if (o.pool) this.#pool = Promise.resolve(o.pool as Pool);
    this.usage = capabilityOf<UsageStore>(this, {
      add: (owners, row, retentionDays) => this.addUsage(owners, row, retentionDays),
      read: (owner, fromDay, toDay) => this.readUsage(owner, fromDay, toDay),
      deleteOwner: (owner) => this.#deleteOwnerRows("usage", this.#usageTables.usage, owner),
    });
    this.budgets = capabilityOf<BudgetStore>(this, {
      reserve: (owner, id, tokens, counters, ttlMs) => this.reserve(owner, id, tokens, counters, ttlMs),
      settle: (owner, id, tokens, counters) => this.settle(owner, id, tokens, counters),
      deleteOwner: (owner) => this.#deleteOwnerRows("budgets", this.#usageTables.budget, owner),
    });
    this.once = capabilityOf<OnceStore>(this, {
      put: (owner, key, value, ttlMs) => this.#putOnce(owner, key, value, ttlMs),
      take: (owner, key) => this.#takeOnce(owner, key),
      deleteOwner: (owner) => this.#deleteOwnerRows("once", this.#onceTable, owner),
    });
    this.rateLimits = capabilityOf(this, (limiter: "keys" | "chat") =>
      postgresRateLimits((text, values) => this.#query("rateLimit", text, values), this.#rateTable, limiter),
    );
  }

  /** Creates the table (and `<table>_once`, for the once capability) if it does not exist, adding what a newer version needs. Idempotent; concurrent calls serialise on an advisory lock. */
  async migrate(): Promise<void> {
    let client: PoolClient | undefined;
    let failed = false;
    try {
      const pool = await this.#getPool();
      const connecting = pool.connect();
      client = await withTimeLimit(connecting, this.queryTimeoutMs, () => {
        // A connection the pool hands out after the limit (a busy pool) goes back to it unused.
        void connecting.then(
          (late) => late.release(),
          () => undefined,
        );
        return timeout();
      });
      const stopListening = listenForConnectionErrors(client);
      try {
        await withTimeLimit(this.#createTable(client), MIGRATE_LIMIT_MS, timeout);
      } finally {
        stopListening();
      }
    } catch (error) {
      failed = true;
      await client?.query("ROLLBACK").catch(() => undefined);
      throw storeUnavailable("PostgresStore", "migrate", error, `${FIX} (and that the schema exists)`);
    } finally {
      client?.release(failed);
    }
  }

  async get(userId: string, provider: string, label: string = DEFAULT_LABEL): Promise<KeyRecord | undefined> {
    const rows = await this.#query(
      "get",
      `SELECT ${COLUMNS} FROM ${this.#table} WHERE user_id = $1 AND provider = $2 AND label = $3`,
      [checkStorableUserId(userId), provider, label],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async list(userId: string): Promise<KeyRecord[]> {
    return (
      await this.#query("list", `SELECT ${COLUMNS} FROM ${this.#table} WHERE user_id = $1`, [
        checkStorableUserId(userId),
      ])
    ).map(toRecord);
  }

  async put(record: KeyRecord): Promise<PutResult> {
    const { userId, provider, ciphertext, hint, createdAt, updatedAt } = record;
    const label = record.label ?? DEFAULT_LABEL;
    const settings = settingsOf(record);
    const [row] = await this.#query<{ created_at: string; replaced: boolean }>(
      "put",
      // A broken row (a NULL where a value belongs) gets the new createdAt: the put repairs it.
      `INSERT INTO ${this.#table} AS t (user_id, provider, label, ciphertext, hint, endpoint, priority, expires_at, models, created_at, updated_at, region)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (user_id, provider, label) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, hint = EXCLUDED.hint,
         endpoint = EXCLUDED.endpoint, region = EXCLUDED.region, priority = EXCLUDED.priority, expires_at = EXCLUDED.expires_at, models = EXCLUDED.models,
         created_at = CASE WHEN ${WHOLE_ROW} THEN t.created_at ELSE EXCLUDED.created_at END, updated_at = EXCLUDED.updated_at, last_used_at = NULL, status = NULL, status_until = NULL
       RETURNING ${iso("created_at")} AS created_at, (xmax <> 0) AS replaced`,
      [
        checkStorableUserId(userId),
        provider,
        label,
        ciphertext,
        hint,
        settings.endpoint ?? null,
        settings.priority ?? null,
        settings.expiresAt ?? null,
        settings.models ?? null,
        createdAt,
        updatedAt,
        settings.region ?? null,
      ],
    );
    const stored: KeyRecord = {
      userId,
      provider,
      label,
      ciphertext,
      hint,
      ...settings,
      createdAt: row!.created_at,
      updatedAt,
    };
    return { record: stored, replaced: row!.replaced };
  }

  async delete(userId: string, provider: string, label: string = DEFAULT_LABEL): Promise<boolean> {
    const rows = await this.#query(
      "delete",
      `DELETE FROM ${this.#table} WHERE user_id = $1 AND provider = $2 AND label = $3 RETURNING 1`,
      [checkStorableUserId(userId), provider, label],
    );
    return rows.length > 0;
  }

  /** Account deletion of the owner's records (its usage, budgets and single-use values: each capability's `deleteOwner`). */
  async deleteUser(userId: string): Promise<number> {
    const rows = await this.#query("deleteUser", `DELETE FROM ${this.#table} WHERE user_id = $1 RETURNING 1`, [
      checkStorableUserId(userId),
    ]);
    return rows.length;
  }

  /** A capability's `deleteOwner`: every row of `owner` in `table`. */
  async #deleteOwnerRows(capability: string, table: string, owner: string): Promise<void> {
    await this.#query(`${capability}.deleteOwner`, `DELETE FROM ${table} WHERE owner_id = $1`, [
      checkStorableUserId(owner),
    ]);
  }

  async touch(userId: string, provider: string, lastUsedAt: string, label: string = DEFAULT_LABEL): Promise<void> {
    await this.#query(
      "touch",
      `UPDATE ${this.#table} SET last_used_at = $3 WHERE user_id = $1 AND provider = $2 AND label = $4`,
      [checkStorableUserId(userId), provider, lastUsedAt, label],
    );
  }

  async setStatus(
    userId: string,
    provider: string,
    ciphertext: string,
    status: StoredKeyStatus | "ok",
    statusUntil?: string,
    label: string = DEFAULT_LABEL,
  ): Promise<void> {
    const stored = status === "ok" ? null : status;
    await this.#query(
      "setStatus",
      `UPDATE ${this.#table} SET status = $4, status_until = $5 WHERE user_id = $1 AND provider = $2 AND label = $6 AND ciphertext = $3`,
      [
        checkStorableUserId(userId),
        provider,
        ciphertext,
        stored,
        stored === null ? null : (statusUntil ?? null),
        label,
      ],
    );
  }

  async compareAndSwap(
    userId: string,
    provider: string,
    expectedCiphertext: string,
    ciphertext: string,
    label: string = DEFAULT_LABEL,
  ): Promise<boolean> {
    const rows = await this.#query(
      "compareAndSwap",
      `UPDATE ${this.#table} SET ciphertext = $4 WHERE user_id = $1 AND provider = $2 AND label = $5 AND ciphertext = $3 RETURNING 1`,
      [checkStorableUserId(userId), provider, expectedCiphertext, ciphertext, label],
    );
    return rows.length > 0;
  }

  /** Compare-and-sets a whole batch in one UPDATE (one round trip). */
  async compareAndSwapMany(swaps: readonly CompareAndSwap[]): Promise<boolean[]> {
    if (swaps.length === 0) return [];
    const columns = [
      swaps.map((s) => checkStorableUserId(s.userId)),
      swaps.map((s) => s.provider),
      swaps.map((s) => s.label ?? DEFAULT_LABEL),
      swaps.map((s) => s.expectedCiphertext),
      swaps.map((s) => s.ciphertext),
    ];
    const rows = await this.#query<{ user_id: string; provider: string; label: string }>(
      "compareAndSwap",
      `UPDATE ${this.#table} AS t SET ciphertext = s.next
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS s(user_id, provider, label, expected, next)
       WHERE t.user_id = s.user_id AND t.provider = s.provider AND t.label = s.label AND t.ciphertext = s.expected
       RETURNING t.user_id, t.provider, t.label`,
      columns,
      swaps.length,
    );
    const swapped = new Set(rows.map((r) => JSON.stringify([r.user_id, r.provider, r.label])));
    return swaps.map((s) => swapped.has(JSON.stringify([s.userId, s.provider, s.label ?? DEFAULT_LABEL])));
  }

  // Usage and budgets (the optional KeyStore methods): tables and SQL in postgres-usage.ts.

  /**
   * Adds one call's counts to each owner's row of `<table>_usage` in one statement. At most once an
   * hour per store (and again at once while a sweep finds more), it then deletes rows older than
   * `retentionDays` and budget counters a day past their reset, a bounded batch per statement.
   */
  async addUsage(ownerIds: readonly string[], usage: UsageRow, retentionDays: number): Promise<void> {
    if (!Array.isArray(ownerIds)) throw invalid("ownerIds must be an array of owner ids.", ["ownerIds"]);
    ownerIds.forEach(checkStorableUserId);
    checkUsageRow(usage);
    checkRetentionDays(retentionDays);
    if (ownerIds.length === 0) return;
    const [text, values] = addUsageSql(this.#usageTables, ownerIds, usage);
    await this.#query("addUsage", text, values, ownerIds.length);
    if (performance.now() >= this.#nextSweepAt) await this.#sweep(retentionDays);
  }

  async readUsage(ownerId: string, fromDay: string, toDay: string): Promise<UsageRow[]> {
    checkStorableUserId(ownerId);
    if (dayStart(fromDay, "fromDay") > dayStart(toDay, "toDay")) return [];
    return this.#inTransaction("readUsage", (client) =>
      readUsageRows(runOn(client), this.#usageTables, ownerId, fromDay, toDay),
    );
  }

  /**
   * One transaction on `<table>_budget` (a row per counter, its live reservations in a jsonb
   * column): locks the counters' rows in name order, then reserves on all or none, on the database's
   * clock.
   */
  async reserve(
    ownerId: string,
    id: string,
    tokens: number,
    counters: readonly BudgetCounter[],
    ttlMs: number,
  ): Promise<BudgetRefusal | undefined> {
    this.#checkBudgetCall(ownerId, id, tokens, counters);
    checkCount(ttlMs, "ttlMs");
    return this.#inTransaction("reserve", (client) =>
      reserveIn(runOn(client), this.#usageTables, ownerId, id, tokens, counters, ttlMs),
    );
  }

  async settle(ownerId: string, id: string, tokens: number, counters: readonly BudgetCounter[]): Promise<void> {
    this.#checkBudgetCall(ownerId, id, tokens, counters);
    const [text, values] = settleSql(this.#usageTables, ownerId, id, tokens, counters);
    await this.#query("settle", text, values);
  }

  #checkBudgetCall(ownerId: string, id: string, tokens: number, counters: readonly BudgetCounter[]): void {
    checkStorableUserId(ownerId);
    if (typeof id !== "string" || id.length === 0) throw invalid("id must be a non-empty string.", ["id"]);
    checkCount(tokens, "tokens");
    checkCounters(counters);
  }

  /**
   * Deletes a batch of usage rows past retention and of stale budget counters. A failure (e.g. the
   * statement ran past queryTimeoutMs) is only traced: the next sweep, an hour later, tries again.
   */
  async #sweep(retentionDays: number): Promise<void> {
    this.#nextSweepAt = performance.now() + SWEEP_EVERY_MS;
    const oldest = dayOf(Date.now() - retentionDays * DAY_MS);
    try {
      const usage = await this.#query("addUsage", ...sweepUsageSql(this.#usageTables, oldest));
      const budgets = await this.#query("addUsage", ...sweepBudgetsSql(this.#usageTables));
      // A full batch: more is left, so the next addUsage sweeps again.
      if (usage.length === SWEEP_ROWS || budgets.length === SWEEP_ROWS) this.#nextSweepAt = 0;
    } catch (error) {
      debug("PostgresStore usage sweep failed: %s", (error as { code?: string }).code ?? "unknown");
    }
  }

  /**
   * Keeps `value` in `<table>_once` until `ttlMs` from now (a key already there is replaced), its `key` column
   * `<encoded owner>:<key>` (no owner's can spell another's) beside `owner_id`. The same statement drops up to 100
   * expired rows (skipping rows another call holds), so abandoned values do not pile up.
   */
  async #putOnce(owner: string, key: string, value: string, ttlMs: number): Promise<void> {
    await this.#query(
      "putOnce",
      `WITH purged AS (
         DELETE FROM ${this.#onceTable} WHERE key IN (
           SELECT key FROM ${this.#onceTable} WHERE expires_at < now() AND key <> $1 LIMIT 100 FOR UPDATE SKIP LOCKED))
       INSERT INTO ${this.#onceTable} (key, owner_id, value, expires_at)
       VALUES ($1, $2, $3, now() + $4::double precision * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
      [onceKeyOf(owner, checkOnceKey(key, ttlMs)), owner, String(value), ttlMs],
    );
  }

  /** One `DELETE … RETURNING`: atomic, so two instances can never both take a value; an expired one is deleted and not returned. */
  async #takeOnce(owner: string, key: string): Promise<string | undefined> {
    const [row] = await this.#query<{ value: string; live: boolean }>(
      "takeOnce",
      `DELETE FROM ${this.#onceTable} WHERE key = $1 RETURNING value, expires_at > now() AS live`,
      [onceKeyOf(owner, checkOnceKey(key))],
    );
    return row?.live ? row.value : undefined;
  }

  /** Keyset pagination on the primary key: each batch is one indexed query, memory stays flat. */
  async *scan(options: { batchSize?: number } = {}): AsyncIterable<KeyRecord[]> {
    const size = checkBatchSize(options.batchSize);
    let rows = await this.#query(
      "scan",
      `SELECT ${COLUMNS} FROM ${this.#table} ORDER BY user_id, provider, label LIMIT $1`,
      [size],
      size,
    );
    while (rows.length > 0) {
      yield rows.map(toRecord);
      if (rows.length < size) return;
      const last = rows[rows.length - 1]!;
      rows = await this.#query(
        "scan",
        `SELECT ${COLUMNS} FROM ${this.#table} WHERE (user_id, provider, label) > ($1, $2, $3) ORDER BY user_id, provider, label LIMIT $4`,
        [last.user_id, last.provider, last.label, size],
        size,
      );
    }
  }

  /** Ends the pool the store created from `connectionString`; a given `pool` is left open. */
  async close(): Promise<void> {
    if (!this.#ownPool || !this.#pool) return;
    const pool = this.#pool;
    this.#ownPool = false;
    await (await pool.catch(() => undefined))?.end();
  }

  async #createTable(client: PoolClient): Promise<void> {
    await client.query(`BEGIN; SET LOCAL statement_timeout = ${MIGRATE_LIMIT_MS}`);
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_NAMESPACE, this.#table]);
    await client.query(`CREATE TABLE IF NOT EXISTS ${this.#table} (
      user_id text COLLATE "C" NOT NULL,
      provider text COLLATE "C" NOT NULL,
      label text COLLATE "C" NOT NULL DEFAULT '${DEFAULT_LABEL}',
      ciphertext text NOT NULL,
      hint text NOT NULL,
      endpoint text,
      region text,
      priority integer,
      expires_at timestamptz,
      models text[],
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      last_used_at timestamptz,
      status text,
      status_until timestamptz,
      PRIMARY KEY (user_id, provider, label)
    )`);
    // Tables made by an earlier version: every column after the first release's came later.
    for (const column of [
      "status text",
      "status_until timestamptz",
      "endpoint text",
      `label text COLLATE "C" NOT NULL DEFAULT '${DEFAULT_LABEL}'`,
      "priority integer",
      "expires_at timestamptz",
      "models text[]",
      "region text",
    ])
      await client.query(`ALTER TABLE ${this.#table} ADD COLUMN IF NOT EXISTS ${column}`);
    await this.#keyByLabel(client);
    await createUsageTables(client, this.#usageTables);
    // Single-use values (the router's connect state): added by a later version, so created apart.
    await client.query(`CREATE TABLE IF NOT EXISTS ${this.#onceTable} (
      key text COLLATE "C" PRIMARY KEY,
      value text NOT NULL,
      expires_at timestamptz NOT NULL
    )`);
    // Values by owner (so account deletion erases a user's connect state) came later still.
    await client.query(
      `ALTER TABLE ${this.#onceTable} ADD COLUMN IF NOT EXISTS owner_id text COLLATE "C" NOT NULL DEFAULT ''`,
    );
    // The router's counters (the rateLimits capability) came later still.
    await client.query(`CREATE TABLE IF NOT EXISTS ${this.#rateTable} (${RATE_TABLE_COLUMNS})`);
    await client.query("COMMIT");
  }

  /**
   * Makes (user_id, provider, label) the primary key of a table keyed by (user_id, provider), as versions before
   * labels made it (their rows took label "default" as the column was added); a table already keyed so is left.
   */
  async #keyByLabel(client: PoolClient): Promise<void> {
    const { rows } = await client.query<{ name: string; columns: string[] }>(
      `SELECT c.conname AS name, array(SELECT a.attname::text FROM unnest(c.conkey) AS k(n)
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS columns
       FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype = 'p'`,
      [this.#table],
    );
    const key = rows[0];
    if (key?.columns.includes("label")) return;
    const drop = key ? `DROP CONSTRAINT ${quoteIdentifier(key.name)}, ` : "";
    await client.query(`ALTER TABLE ${this.#table} ${drop}ADD PRIMARY KEY (user_id, provider, label)`);
  }

  async #query<R extends QueryResultRow = Row>(
    operation: string,
    text: string,
    values: unknown[],
    items = 1,
  ): Promise<R[]> {
    return this.#inTransaction(operation, async (client) => (await client.query<R>(text, values)).rows, items);
  }

  /** Runs `work`'s statements in one transaction within the call's time limit; a failure becomes STORE_UNAVAILABLE. */
  async #inTransaction<T>(operation: string, work: (client: PoolClient) => Promise<T>, items = 1): Promise<T> {
    try {
      const pool = await this.#getPool();
      const limit = this.#limitFor(items);
      const deadline = performance.now() + limit;
      return await withTimeLimit(this.#transaction(pool, deadline, work), limit, timeout);
    } catch (error) {
      throw storeUnavailable("PostgresStore", operation, error, this.#fixFor((error as { code?: string }).code));
    }
  }

  /**
   * Runs one statement (or `work`'s few) in a transaction of its own, on a connection checked out of the pool:
   * `BEGIN; SET LOCAL statement_timeout` (one round trip), the statement, `COMMIT`.
   *
   * Why this way: pg's `query_timeout` (and the time limit around this call) only stop the client
   * waiting, while the query runs on in the server; a write answered 503 could land seconds later.
   * `statement_timeout` makes the server cancel it, and `SET LOCAL` confines the setting to this
   * transaction. That works the same on the store's own pool and on a pool the app passed in, whose
   * settings the store must not change (a pool-wide `options: "-c statement_timeout=…"` or a
   * session `SET` would also apply to the app's queries), and behind a transaction-mode pgbouncer.
   * The transaction also closes the gap the server's timer leaves: the store commits only while the
   * caller is still waiting, and rolls back a statement that finished after the caller was
   * answered 503. The remaining gap is COMMIT itself (docs/stores-timeouts.md).
   *
   * @param deadline - `performance.now()` time at which the caller is answered 503
   */
  async #transaction<T>(pool: Pool, deadline: number, work: (client: PoolClient) => Promise<T>): Promise<T> {
    // The server ended the session before COMMIT (a restart, a failover, pg_terminate_backend): it rolled back what
    // the transaction did, so it runs again on another connection. The pool's other idle connections may be as
    // dead as this one was (the pool drops each as it fails), so it tries up to one more than the pool holds,
    // within the call's time limit: otherwise the caller would get a 503 from a server that is back.
    const tries = 1 + (pool.totalCount || 1);
    for (let attempt = 1; ; attempt++) {
      const state = { committing: false };
      try {
        return await this.#attempt(pool, deadline, work, state);
      } catch (error) {
        const again = !state.committing && connectionLost(error) && attempt < tries;
        if (!again || deadline - performance.now() <= 0) throw error;
      }
    }
  }

  /** One try of {@link #transaction}; `state.committing` says whether COMMIT was sent (after which a failure is ambiguous). */
  async #attempt<T>(
    pool: Pool,
    deadline: number,
    work: (client: PoolClient) => Promise<T>,
    state: { committing: boolean },
  ): Promise<T> {
    const client = await pool.connect();
    const left = () => Math.floor(deadline - performance.now());
    // Checked out after the caller was answered 503 (a busy pool): give the connection back unused.
    if (left() <= 0) {
      client.release();
      throw timeout();
    }
    const stopListening = listenForConnectionErrors(client);
    let failure: Error | undefined;
    try {
      // At least 1: a statement_timeout of 0 would mean none.
      await client.query(`BEGIN; SET LOCAL statement_timeout = ${Math.max(1, left())}`);
      const result = await work(client);
      if (left() <= 0) throw timeout();
      state.committing = true;
      await client.query("COMMIT");
      return result;
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      stopListening();
      // Released with an error, pg drops the connection, and the server rolls back what it left open.
      client.release(failure);
    }
  }

  /** The time limit of a call on `items` records: queryTimeoutMs, plus {@link PER_ITEM_MS} per record after the first. */
  #limitFor(items: number): number {
    return this.queryTimeoutMs + (items - 1) * PER_ITEM_MS;
  }

  /** What to do about a failed query: undefined_table and undefined_column mean migrate() has not run. */
  #fixFor(code: string | undefined): string {
    if (code === "42P01") return MISSING_TABLE;
    if (code === "42703") return OLD_TABLE;
    if (code === "57014")
      return `it ran past queryTimeoutMs (${this.queryTimeoutMs} ms); check the database's load, or raise queryTimeoutMs`;
    return FIX;
  }

  #getPool(): Promise<Pool> {
    this.#pool ??= loadOptionalPeer<typeof import("pg")>("pg", "PostgresStore").then((m) => {
      const PoolClass = m.Pool ?? (m as unknown as { default: typeof m }).default.Pool;
      const pool = new PoolClass({
        connectionString: this.#connectionString,
        connectionTimeoutMillis: this.queryTimeoutMs,
        query_timeout: this.#limitFor(MAX_BATCH_SIZE) + STUCK_QUERY_MS,
      });
      pool.on("error", onPoolError);
      // Every connection of the store's own pool is heard for its whole life, not only while the store or the
      // pool holds it: pg emits "error" whenever the server ends a session that has no query running, and Node
      // ends a process whose "error" event nobody hears.
      pool.on("connect", (client) => client.on("error", onPoolError));
      this.#ownPool = true;
      return pool;
    });
    return this.#pool;
  }
}

/**
 * Listens for `client`'s "error" event while the store holds it out of the pool, until the returned function is
 * called. When the server ends the session, pg rejects the running query and also emits "error"; unheard, that
 * event would end the process. (The pool listens itself while a connection is idle, and pg's own pool.query
 * listens the same way while it holds one.)
 */
function listenForConnectionErrors(client: PoolClient): () => void {
  client.on("error", onPoolError);
  return () => client.off("error", onPoolError);
}

/** The server or the network ended the connection (SQLSTATE class 08 or 57P01–57P03, a socket error, pg's "Connection terminated"), rather than the statement failing. */
function connectionLost(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string") return /^(08|57P0[123]$)|^E(CONNRESET|PIPE)$/.test(code);
  return typeof message === "string" && message.startsWith("Connection terminated");
}

function onPoolError(error: Error): void {
  debug("PostgresStore pool error: %s", (error as { code?: string }).code ?? "unknown");
}

function timeout(): Error {
  return Object.assign(new Error("timed out"), { code: "TIMEOUT" });
}
