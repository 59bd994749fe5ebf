// PostgresStore's usage rows and budget counters: their two tables, what migrate() creates, and the SQL on them.
import { createHash } from "node:crypto";
import type { PoolClient, QueryResultRow } from "pg";
import type { BudgetCounter, BudgetRefusal, UsageRow } from "../core/types.js";

/** The quoted names of the tables beside the keys table: `<table>_usage` and `<table>_budget`. */
export interface UsageTables {
  usage: string;
  budget: string;
  /** Index names (created in the tables' schema, so unqualified). */
  usageDayIndex: string;
  budgetResetIndex: string;
}

/** PostgreSQL's longest identifier; a longer one is silently cut, which could make two names one. */
const MAX_IDENTIFIER = 63;

/**
 * `<name><suffix>`, or, when that is longer than PostgreSQL keeps, the name cut short plus 8 hex
 * digits of its hash, so a long table name still gets companions of its own.
 */
function companion(name: string, suffix: string): string {
  if (name.length + suffix.length <= MAX_IDENTIFIER) return `${name}${suffix}`;
  const hash = createHash("sha1").update(name).digest("hex").slice(0, 8);
  return `${name.slice(0, MAX_IDENTIFIER - suffix.length - 9)}_${hash}${suffix}`;
}

/** The quoted name of the keys table's companion `<table><suffix>` (e.g. `_once`), in the same schema. */
export function companionTable(parts: readonly string[], suffix: string): string {
  const schema = parts.length === 2 ? `"${parts[0]}".` : "";
  return `${schema}"${companion(parts[parts.length - 1]!, suffix)}"`;
}

/** The companion tables of a keys table given as its (unquoted) parts, `[table]` or `[schema, table]`. */
export function usageTables(parts: readonly string[]): UsageTables {
  const name = parts[parts.length - 1]!;
  return {
    usage: companionTable(parts, "_usage"),
    budget: companionTable(parts, "_budget"),
    usageDayIndex: `"${companion(name, "_usage_day")}"`,
    budgetResetIndex: `"${companion(name, "_budget_resets")}"`,
  };
}

/**
 * Creates the usage and budget tables (inside migrate()'s transaction and advisory lock). A budget
 * counter keeps its live reservations in `reservations`, a JSON object `{ "<id>": [tokens, expires
 * at in ms] }`, so that locking the counter's row locks them too.
 */
export async function createUsageTables(client: PoolClient, t: UsageTables): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${t.usage} (
    owner_id text COLLATE "C" NOT NULL,
    day date NOT NULL,
    provider text COLLATE "C" NOT NULL,
    model text COLLATE "C" NOT NULL,
    user_id text COLLATE "C" NOT NULL,
    team_id text COLLATE "C" NOT NULL DEFAULT '',
    requests bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    estimated boolean NOT NULL,
    PRIMARY KEY (owner_id, day, provider, model, user_id, team_id)
  )`);
  await client.query(`CREATE INDEX IF NOT EXISTS ${t.usageDayIndex} ON ${t.usage} (day)`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${t.budget} (
    owner_id text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    spent bigint NOT NULL,
    resets_at timestamptz NOT NULL,
    reservations jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (owner_id, name)
  )`);
  await client.query(`CREATE INDEX IF NOT EXISTS ${t.budgetResetIndex} ON ${t.budget} (resets_at)`);
}

/** Runs one statement on a connection inside the store's transaction. */
type Run = <R extends QueryResultRow>(text: string, values: unknown[]) => Promise<R[]>;

/** A client's query as a {@link Run}. */
export const runOn =
  (client: PoolClient): Run =>
  async <R extends QueryResultRow>(text: string, values: unknown[]) =>
    (await client.query<R>(text, values)).rows;

/**
 * One statement for every owner: each row is created at zero or added to (`estimated` once set
 * stays set). Owners are sorted so two concurrent calls lock their rows in the same order.
 */
export function addUsageSql(t: UsageTables, ownerIds: readonly string[], u: UsageRow): [string, unknown[]] {
  return [
    `INSERT INTO ${t.usage} AS t (owner_id, day, provider, model, user_id, team_id, requests, input_tokens, output_tokens, estimated)
     SELECT o, $2::date, $3, $4, $5, $6, $7, $8, $9, $10 FROM unnest($1::text[]) AS o ORDER BY o
     ON CONFLICT (owner_id, day, provider, model, user_id, team_id) DO UPDATE SET
       requests = t.requests + EXCLUDED.requests, input_tokens = t.input_tokens + EXCLUDED.input_tokens,
       output_tokens = t.output_tokens + EXCLUDED.output_tokens, estimated = t.estimated OR EXCLUDED.estimated`,
    [
      [...new Set(ownerIds)],
      u.day,
      u.provider,
      u.model,
      u.userId,
      u.teamId ?? "",
      u.requests,
      u.inputTokens,
      u.outputTokens,
      u.estimated,
    ],
  ];
}

/** Rows a sweep deletes at most per statement: bounds how long one statement runs and locks. */
export const SWEEP_ROWS = 5000;

/** Deletes up to {@link SWEEP_ROWS} usage rows before `oldestDay` (YYYY-MM-DD); resolves to how many. */
export const sweepUsageSql = (t: UsageTables, oldestDay: string): [string, unknown[]] => [
  `DELETE FROM ${t.usage} WHERE ctid IN (SELECT ctid FROM ${t.usage} WHERE day < $1::date LIMIT ${SWEEP_ROWS}) RETURNING 1`,
  [oldestDay],
];

/** Deletes up to {@link SWEEP_ROWS} budget counters a day past their reset (a later reserve would start them over anyway). */
export const sweepBudgetsSql = (t: UsageTables): [string, unknown[]] => [
  `DELETE FROM ${t.budget} WHERE ctid IN (SELECT ctid FROM ${t.budget} WHERE resets_at < now() - interval '1 day' LIMIT ${SWEEP_ROWS}) RETURNING 1`,
  [],
];

interface UsageDbRow extends QueryResultRow {
  day: string;
  provider: string;
  model: string;
  user_id: string;
  team_id: string;
  requests: string | number;
  input_tokens: string | number;
  output_tokens: string | number;
  estimated: boolean;
}

/** The rows of one owner between two days, both included. */
export async function readUsageRows(run: Run, t: UsageTables, ownerId: string, from: string, to: string) {
  const rows = await run<UsageDbRow>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, provider, model, user_id, team_id, requests, input_tokens, output_tokens, estimated
     FROM ${t.usage} WHERE owner_id = $1 AND day BETWEEN $2::date AND $3::date`,
    [ownerId, from, to],
  );
  return rows.map((r): UsageRow => {
    const row: UsageRow = {
      day: r.day,
      provider: r.provider,
      model: r.model,
      userId: r.user_id,
      requests: Number(r.requests),
      inputTokens: Number(r.input_tokens),
      outputTokens: Number(r.output_tokens),
      estimated: r.estimated,
    };
    // '' is "no team": the column is part of the primary key, which cannot hold NULL.
    if (r.team_id !== "") row.teamId = r.team_id;
    return row;
  });
}

/** The database's clock in ms, so instances whose clocks disagree agree on when a reservation expires. */
const NOW_MS = "(extract(epoch from now()) * 1000)";

/** The counters' names and reset times as two arrays, for unnest(). */
const counterArrays = (counters: readonly BudgetCounter[]) => [
  counters.map((c) => c.name),
  counters.map((c) => c.resetsAt),
];

/**
 * Reserves `tokens` on every counter if each has room, in the store's transaction: the first
 * statement creates missing counters and locks all of them (in name order, so two calls never
 * deadlock), starts over a counter past its reset and drops expired reservations, returning what
 * each holds; the second records the reservation, under those locks, only when all fit. Resolves
 * `undefined` when granted, else the first counter over its limit and what it holds.
 */
export async function reserveIn(
  run: Run,
  t: UsageTables,
  ownerId: string,
  id: string,
  tokens: number,
  counters: readonly BudgetCounter[],
  ttlMs: number,
): Promise<BudgetRefusal | undefined> {
  const held = await run<{ name: string; used: string | number }>(
    `INSERT INTO ${t.budget} AS b (owner_id, name, spent, resets_at)
     SELECT $1, c.name, 0, to_timestamp(c.resets_at / 1000.0) FROM unnest($2::text[], $3::float8[]) AS c(name, resets_at) ORDER BY c.name
     ON CONFLICT (owner_id, name) DO UPDATE SET
       spent = CASE WHEN b.resets_at <= now() THEN 0 ELSE b.spent END,
       resets_at = CASE WHEN b.resets_at <= now() THEN EXCLUDED.resets_at ELSE b.resets_at END,
       reservations = CASE WHEN b.resets_at <= now() THEN '{}'::jsonb ELSE coalesce(
         (SELECT jsonb_object_agg(r.key, r.value) FROM jsonb_each(b.reservations) AS r
          WHERE jsonb_typeof(r.value -> 1) = 'number' AND (r.value ->> 1)::float8 > ${NOW_MS}), '{}'::jsonb) END
     RETURNING b.name, b.spent + (SELECT coalesce(sum((r.value ->> 0)::float8), 0) FROM jsonb_each(b.reservations) AS r) AS used`,
    [ownerId, ...counterArrays(counters)],
  );
  const used = new Map(held.map((h) => [h.name, Number(h.used)]));
  const index = counters.findIndex((c) => (used.get(c.name) ?? 0) + tokens > c.limit);
  if (index !== -1) return { index, used: used.get(counters[index]!.name) ?? 0 };
  await run(
    `UPDATE ${t.budget} SET reservations = reservations || jsonb_build_object($3::text, jsonb_build_array($4::bigint, ${NOW_MS} + $5::bigint))
     WHERE owner_id = $1 AND name = ANY($2::text[])`,
    [ownerId, counters.map((c) => c.name), id, tokens, ttlMs],
  );
  return undefined;
}

/**
 * Ends reservation `id` on every counter and adds `tokens` to its spent total, creating a counter
 * that is missing; locks in name order, as {@link reserveIn} does.
 */
export function settleSql(
  t: UsageTables,
  ownerId: string,
  id: string,
  tokens: number,
  counters: readonly BudgetCounter[],
): [string, unknown[]] {
  return [
    `INSERT INTO ${t.budget} AS b (owner_id, name, spent, resets_at)
     SELECT $1, c.name, $4, to_timestamp(c.resets_at / 1000.0) FROM unnest($2::text[], $3::float8[]) AS c(name, resets_at) ORDER BY c.name
     ON CONFLICT (owner_id, name) DO UPDATE SET spent = b.spent + EXCLUDED.spent, reservations = b.reservations - $5::text`,
    [ownerId, ...counterArrays(counters), tokens, id],
  ];
}
