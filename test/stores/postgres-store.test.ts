import { Pool } from "pg";
import { PostgresStore } from "../../lib";
import { CANARY_KEY } from "../helpers/canary";
import { failure, thrownBy } from "../helpers/errors";
import { geminiFixture } from "../helpers/gemini-fixture";
import { DATABASE_URL, uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

let pool: Pool;
const tables: string[] = [];
const newTable = (what: string) => {
  const table = uniqueName(what);
  tables.push(table);
  return table;
};

beforeAll(() => {
  pool = new Pool({ connectionString: DATABASE_URL });
});
afterAll(async () => {
  for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}", "${table.slice(0, 58)}_once"`);
  await pool.end();
});

describe("new PostgresStore", () => {
  it.each([
    [
      "both pool and connectionString",
      () => ({ pool, connectionString: DATABASE_URL }),
      "pass pool or connectionString, not both",
    ],
    ["neither pool nor connectionString", () => ({}), "pass pool"],
    ["a pool that is not a pg Pool", () => ({ pool: {} }), "pg Pool"],
    ["a table name with a quote", () => ({ pool, table: 'keys"; DROP TABLE x; --' }), "lower-case identifier"],
    ["an upper-case table name", () => ({ pool, table: "ByokKeys" }), "lower-case identifier"],
    ["a three-part table name", () => ({ pool, table: "a.b.c" }), 'optionally "schema.table"'],
    ["a table name over 63 characters", () => ({ pool, table: "t".repeat(64) }), "at most 63"],
    ["a misspelt option", () => ({ pool, tabel: "x" }), "Did you mean `table`?"],
  ])("throws CONFIG_INVALID for %s, naming the fix", (_name, options, fix) => {
    expect(thrownBy(() => new PostgresStore(options() as never))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining(fix),
    });
  });
});

describe("PostgresStore.migrate", () => {
  it("creates the table once when two processes migrate at the same time, and again is a no-op", async () => {
    const table = newTable("mig");
    const pools = [new Pool({ connectionString: DATABASE_URL }), new Pool({ connectionString: DATABASE_URL })];
    try {
      const stores = pools.map((p) => new PostgresStore({ pool: p, table }));
      await Promise.all(stores.map((s) => s.migrate()));
      await Promise.all(stores.map((s) => s.migrate()));
      const { rows } = await pool.query("SELECT to_regclass($1) IS NOT NULL AS exists", [table]);
      expect(rows[0].exists).toBe(true);
      expect(await stores[0]!.list("u1")).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("works with a schema-qualified table", async () => {
    const schema = uniqueName("schema");
    await pool.query(`CREATE SCHEMA "${schema}"`);
    try {
      const store = new PostgresStore({ pool, table: `${schema}.keys` });
      await store.migrate();
      await store.put({
        userId: "u1",
        provider: "gemini",
        ciphertext: "v1.a.b.c.d",
        hint: "\u2026abcd",
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
      });
      expect((await store.get("u1", "gemini"))?.ciphertext).toBe("v1.a.b.c.d");
    } finally {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  it("adds the columns of later versions (status, endpoint, status_until, label…) to a table an earlier version made, keeping its rows as label default", async () => {
    const table = newTable("old");
    await pool.query(`CREATE TABLE "${table}" (
      user_id text COLLATE "C" NOT NULL, provider text COLLATE "C" NOT NULL, ciphertext text NOT NULL,
      hint text NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
      last_used_at timestamptz, PRIMARY KEY (user_id, provider))`);
    const at = new Date().toISOString();
    await pool.query(`INSERT INTO "${table}" VALUES ('u1', 'openai', 'v1.a.b.c.d', '…abcd', $1, $1)`, [at]);
    const store = new PostgresStore({ pool, table });
    await store.migrate();
    await store.migrate();
    const record = { userId: "u2", provider: "azure-openai", ciphertext: "v1.e.f.g.h", hint: "…efgh" };
    await store.put({ ...record, endpoint: "https://res.openai.azure.com", createdAt: at, updatedAt: at });
    expect(await store.get("u1", "openai")).toEqual({
      userId: "u1",
      provider: "openai",
      label: "default",
      ciphertext: "v1.a.b.c.d",
      hint: "…abcd",
      createdAt: at,
      updatedAt: at,
    });
    expect((await store.get("u2", "azure-openai"))?.endpoint).toBe("https://res.openai.azure.com");
    await store.setStatus("u1", "openai", "v1.a.b.c.d", "rate_limited", at);
    expect(await store.get("u1", "openai")).toMatchObject({ status: "rate_limited", statusUntil: at });
    // and the single-use table (the once capability) came later too
    await store.once.put("u1", "state", "value", 60_000);
    expect(await store.once.take("u1", "state")).toBe("value");
  });

  it("keeps once values in their own table beside a 63-character keys table, in a schema", async () => {
    const schema = uniqueName("schema");
    await pool.query(`CREATE SCHEMA "${schema}"`);
    try {
      const store = new PostgresStore({ pool, table: `${schema}.${"k".repeat(63)}` });
      await store.migrate();
      await store.once.put("state", "state", "value", 60_000);
      expect(await store.list("state")).toEqual([]);
      const { rows } = await pool.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '%\\_once'",
        [schema],
      );
      expect(rows.map((r: { tablename: string }) => r.tablename)).toEqual([
        expect.stringMatching(/^k+_[0-9a-f]{8}_once$/),
      ]);
      expect(await store.once.take("state", "state")).toBe("value");
    } finally {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
  });

  it("once.put drops expired values as it goes, in a once table an earlier version made (migrate adds owner_id)", async () => {
    const table = newTable("purge");
    await pool.query(
      `CREATE TABLE "${table}_once" (key text COLLATE "C" PRIMARY KEY, value text NOT NULL, expires_at timestamptz NOT NULL)`,
    );
    const store = new PostgresStore({ pool, table });
    await store.migrate();
    await pool.query(
      `INSERT INTO "${table}_once" SELECT 'old' || g, 'v', now() - interval '1 minute' FROM generate_series(1, 5) g`,
    );
    await store.once.put("u1", "new", "v", 60_000);
    const { rows } = await pool.query(`SELECT key, owner_id FROM "${table}_once" ORDER BY key`);
    expect(rows).toEqual([{ key: "{dTE}:new", owner_id: "u1" }]);
  });
});

describe("PostgresStore", () => {
  it("answers STORE_UNAVAILABLE naming migrate() when the table does not exist", async () => {
    const store = new PostgresStore({ pool, table: uniqueName("missing") });
    await expect(store.list("u1")).rejects.toMatchObject({
      code: "STORE_UNAVAILABLE",
      message: expect.stringContaining("store.migrate()"),
    });
  });

  it("rejects STORE_UNAVAILABLE fast when the connection is refused", async () => {
    const f = await geminiFixture({
      store: new PostgresStore({ connectionString: "postgres://postgres@127.0.0.1:1/test" }),
    });
    try {
      const { code, ms } = await failure(f.byok.listKeys("u1"));
      expect(code).toBe("STORE_UNAVAILABLE");
      expect(ms).toBeLessThan(2000); // a refused connection fails at once; 2 s is the "fast" bar for a loaded box
    } finally {
      await f.close();
    }
  });

  it("survives a killed backend connection: at most one call fails, and the next reconnects", async () => {
    const table = newTable("killed");
    const app = uniqueName("app");
    const store = new PostgresStore({ connectionString: `${DATABASE_URL}?application_name=${app}`, table });
    try {
      await store.migrate();
      expect(await store.list("u1")).toEqual([]);
      const killed = await pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        [app],
      );
      expect(killed.rowCount).toBeGreaterThan(0);
      const alive = async () =>
        (await pool.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1", [app])).rowCount;
      await waitFor(async () => (await alive()) === 0, "the killed backend to exit");
      // A call sent before the pool has read the server's goodbye fails (once); the pool then drops that connection.
      const first = await store.list("u1").then(
        () => "answered",
        (error: { code?: string }) => error.code,
      );
      expect(["answered", "STORE_UNAVAILABLE"]).toContain(first);
      expect(await store.list("u1")).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it.each([
    ["NUL", "a\u0000b"],
    ["a lone surrogate", "a\ud800b"],
  ])("rejects INVALID_REQUEST for a user id with %s, which PostgreSQL text cannot hold", async (_name, userId) => {
    const store = new PostgresStore({ pool, table: uniqueName("odd") });
    await expect(store.get(userId, "gemini")).rejects.toMatchObject({ code: "INVALID_REQUEST" });
  });

  it("leaves a given pool open on close()", async () => {
    const table = newTable("given");
    const store = new PostgresStore({ pool, table });
    await store.migrate();
    await store.close();
    expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });

  it("keeps only ciphertext and metadata in the table: the plaintext key appears nowhere", async () => {
    const table = newTable("leak");
    const store = new PostgresStore({ connectionString: DATABASE_URL, table });
    await store.migrate();
    const f = await geminiFixture({ store });
    try {
      await f.byok.registerKey({ userId: "leak-user", provider: "gemini", apiKey: CANARY_KEY });
      const { rows } = await pool.query(`SELECT * FROM "${table}"`);
      expect(rows).toHaveLength(1);
      expect(Object.keys(rows[0]).sort()).toEqual([
        "ciphertext",
        "created_at",
        "endpoint",
        "expires_at",
        "hint",
        "label",
        "last_used_at",
        "models",
        "priority",
        "provider",
        "region",
        "status",
        "status_until",
        "updated_at",
        "user_id",
      ]);
      expect(rows[0].ciphertext).toMatch(/^v1\./);
      const everything = JSON.stringify(rows);
      expect(everything).not.toContain(CANARY_KEY);
      expect(everything).not.toContain(CANARY_KEY.slice(0, -4));
    } finally {
      await f.close();
    }
  });
});
