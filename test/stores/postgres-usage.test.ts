import { Pool } from "pg";
import { PostgresStore } from "../../lib";
import type { BudgetCounter } from "../../lib/extend";
import { DATABASE_URL, uniqueName } from "../helpers/services";
import { DAY_MS, dayFrom, row } from "../helpers/usage-rows";

const hour = () => Date.now() + 3_600_000;

let pool: Pool;
const tables: string[] = [];
/** A migrated table, dropped (with its companions) after the file. */
async function migrated(
  what: string,
  options: { pool?: Pool; queryTimeoutMs?: number } = {},
): Promise<[PostgresStore, string]> {
  const table = uniqueName(what);
  tables.push(table);
  const store = new PostgresStore({ ...options, pool: options.pool ?? pool, table });
  await store.migrate();
  return [store, table];
}
const exists = async (name: string) =>
  (await pool.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [name])).rows[0]!.found;

beforeAll(() => {
  pool = new Pool({ connectionString: DATABASE_URL });
});
afterAll(async () => {
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS "${t}", "${t}_usage", "${t}_budget"`);
  await pool.end();
});

describe("PostgresStore usage and budgets", () => {
  it("migrate() adds <table>_usage and <table>_budget, and again is a no-op", async () => {
    const [store, table] = await migrated("tables");
    await store.migrate();
    expect([await exists(`"${table}_usage"`), await exists(`"${table}_budget"`)]).toEqual([true, true]);
  });

  it("gives a table with a long name companions of their own, which PostgreSQL does not cut into one", async () => {
    const table = `byok_test_${uniqueName("long").slice(-10)}`.padEnd(63, "x");
    const store = new PostgresStore({ pool, table });
    try {
      await store.migrate();
      const { rows } = await pool.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE $1",
        [`${table.slice(0, 40)}%`],
      );
      const names = rows.map((r) => r.name).sort();
      expect(names).toEqual([
        expect.stringMatching(/_[0-9a-f]{8}_budget$/),
        expect.stringMatching(/_[0-9a-f]{8}_usage$/),
        expect.stringMatching(/_[0-9a-f]{8}_once$/),
        expect.stringMatching(/_[0-9a-f]{8}_rate$/),
        table,
      ]);
      expect(names.every((name) => name.length <= 63)).toBe(true);
      await store.addUsage(["u1"], row("u1"), 30);
      expect(await store.readUsage("u1", dayFrom(0), dayFrom(0))).toEqual([row("u1")]);
    } finally {
      const { rows } = await pool.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE $1",
        [`${table.slice(0, 40)}%`],
      );
      for (const { name } of rows) await pool.query(`DROP TABLE "${name}"`);
    }
  });

  it("answers STORE_UNAVAILABLE naming migrate() for a keys table made before usage existed", async () => {
    const table = uniqueName("premig");
    tables.push(table);
    await pool.query(`CREATE TABLE "${table}" (user_id text, provider text)`);
    const store = new PostgresStore({ pool, table });
    const fix = { code: "STORE_UNAVAILABLE", message: expect.stringContaining("store.migrate()") };
    await expect(store.addUsage(["u1"], row("u1"), 30)).rejects.toMatchObject(fix);
    await expect(store.readUsage("u1", dayFrom(0), dayFrom(0))).rejects.toMatchObject(fix);
    const counters = [{ name: "c", limit: 10, resetsAt: hour() }];
    await expect(store.reserve("u1", "r", 1, counters, 1000)).rejects.toMatchObject(fix);
    await expect(store.settle("u1", "r", 1, counters)).rejects.toMatchObject(fix);
  });

  it("keeps a row without a team as team_id '' and reads it back without teamId", async () => {
    const [store, table] = await migrated("team");
    await store.addUsage(["u1"], row("u1"), 30);
    await store.addUsage(["u1"], row("u1", { teamId: "t1" }), 30);
    const { rows } = await pool.query(`SELECT team_id FROM "${table}_usage" ORDER BY team_id`);
    expect(rows).toEqual([{ team_id: "" }, { team_id: "t1" }]);
    expect(await store.readUsage("u1", dayFrom(0), dayFrom(0))).toEqual(
      expect.arrayContaining([row("u1"), row("u1", { teamId: "t1" })]),
    );
  });

  it("addUsage() deletes rows past retention and counters a day past their reset, on a store's first call", async () => {
    const [writer, table] = await migrated("sweep");
    await writer.addUsage(["u1"], row("u1", { day: dayFrom(-10) }), 30);
    await writer.reserve("u1", "r", 1, [{ name: "old", limit: 10, resetsAt: Date.now() - 2 * DAY_MS }], 1000);
    await writer.reserve("u1", "r", 1, [{ name: "new", limit: 10, resetsAt: hour() }], 1000);
    expect(await writer.readUsage("u1", dayFrom(-10), dayFrom(-10))).toHaveLength(1);

    // A new instance sweeps on its first addUsage (the first one swept an hour's worth ago).
    const store = new PostgresStore({ pool, table });
    await store.addUsage(["u1"], row("u1"), 5);
    expect(await store.readUsage("u1", dayFrom(-10), dayFrom(0))).toEqual([row("u1")]);
    const { rows } = await pool.query(`SELECT name FROM "${table}_budget"`);
    expect(rows).toEqual([{ name: "new" }]);
  });

  it("grants exactly 20 of 200 concurrent reserves of 10 tokens against 200 from two stores on their own pools", async () => {
    const pools = [new Pool({ connectionString: DATABASE_URL }), new Pool({ connectionString: DATABASE_URL })];
    try {
      // 200 calls queue for 20 connections and one row lock: this test is about atomicity, not latency.
      const queryTimeoutMs = 10_000;
      const [first, table] = await migrated("race", { pool: pools[0], queryTimeoutMs });
      const stores = [first, new PostgresStore({ pool: pools[1]!, table, queryTimeoutMs })];
      const counters: BudgetCounter[] = [
        { name: "month", limit: 100_000, resetsAt: hour() },
        { name: "day", limit: 200, resetsAt: hour() },
      ];
      const reversed = [...counters].reverse();
      // Half name the counters in the other order: locks are taken in name order, so none deadlock.
      const asked = Array.from({ length: 200 }, (_, i) => (i % 4 < 2 ? counters : reversed));
      const answers = await Promise.all(asked.map((c, i) => stores[i % 2]!.reserve("u1", `r${i}`, 10, c, 600_000)));
      expect(answers.filter((a) => a === undefined)).toHaveLength(20);
      // Every refusal names the day counter, wherever it was in the list, and its 200 held.
      const refusals = answers.flatMap((a, i) => (a === undefined ? [] : [[asked[i]![a.index]!.name, a.used]]));
      expect(new Set(refusals.map(String))).toEqual(new Set(["day,200"]));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});
