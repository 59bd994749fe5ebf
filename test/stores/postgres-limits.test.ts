// PostgresStore's time limit (queryTimeoutMs, enforced by the server), no listeners on a given pool, and a scan that holds one batch.
import { Pool, type PoolClient, type QueryResult } from "pg";
import { PostgresStore } from "../../lib";
import type { KeyRecord } from "../../lib/extend";
import { failure, thrownBy } from "../helpers/errors";
import { scanReadAhead } from "../helpers/scan-ahead";
import { DATABASE_URL, uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

jest.setTimeout(60_000);

let pool: Pool;
const tables: string[] = [];
/** A migrated table of its own for one test. */
async function newTable(what: string): Promise<string> {
  const table = uniqueName(what);
  tables.push(table);
  await new PostgresStore({ pool, table }).migrate();
  return table;
}

beforeAll(() => {
  pool = new Pool({ connectionString: DATABASE_URL });
});
afterAll(async () => {
  for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  await pool.end();
});

const record = (userId: string, provider = "gemini"): KeyRecord => {
  const at = new Date().toISOString();
  return { userId, provider, ciphertext: `v1.limits.${userId}`, hint: "\u2026abcd", createdAt: at, updatedAt: at };
};

/** A pool whose connections say `application_name`, so a test can find them in pg_stat_activity. */
const appPool = (app: string) => new Pool({ connectionString: `${DATABASE_URL}?application_name=${app}` });

/** Every event's listener count on `emitter`. */
const listeners = (emitter: Pool | PoolClient) =>
  Object.fromEntries(emitter.eventNames().map((e) => [e, emitter.listenerCount(e)]));

describe("new PostgresStore({ queryTimeoutMs })", () => {
  it("defaults to 1000 ms and exposes the configured value", () => {
    expect(new PostgresStore({ pool }).queryTimeoutMs).toBe(1000);
    expect(new PostgresStore({ pool, queryTimeoutMs: 2500 }).queryTimeoutMs).toBe(2500);
  });

  it.each([0, -5, 1.5, 60_001, "1000", Number.NaN])(
    "throws CONFIG_INVALID for queryTimeoutMs %p, naming the accepted range",
    (queryTimeoutMs) => {
      expect(thrownBy(() => new PostgresStore({ pool, queryTimeoutMs: queryTimeoutMs as number }))).toMatchObject({
        code: "CONFIG_INVALID",
        message: expect.stringContaining(
          "PostgresStore: queryTimeoutMs must be a whole number of milliseconds from 1 to 60000",
        ),
      });
    },
  );
});

describe("PostgresStore: a write answered 503 does not land later", () => {
  it.each([
    ["a pool the app passed in", (table: string, app: string) => ({ pool: appPool(app), table })],
    [
      "its own pool",
      (table: string, app: string) => ({ connectionString: `${DATABASE_URL}?application_name=${app}`, table }),
    ],
  ])(
    "with %s, the server cancels a write stuck behind a lock, and it never lands once the lock is gone",
    async (_name, options) => {
      const table = await newTable("late");
      const app = uniqueName("app");
      const opts = options(table, app);
      const store = new PostgresStore({ ...opts, queryTimeoutMs: 500 });
      const locker = await pool.connect();
      try {
        expect(await store.list("u1")).toEqual([]);
        await locker.query(`BEGIN; LOCK TABLE "${table}" IN EXCLUSIVE MODE`);
        const { code } = await failure(store.put(record("u1")));
        expect(code).toBe("STORE_UNAVAILABLE");
        // The lock is still held: only the server's statement_timeout can end the store's wait for it.
        const waiting = async () =>
          (
            await pool.query(
              "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
              [app],
            )
          ).rows[0].n as number;
        let stillWaiting = await waiting();
        const until = Date.now() + 10_000;
        while (stillWaiting > 0 && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 50));
          stillWaiting = await waiting();
        }
        expect(stillWaiting).toBe(0);
        await locker.query("COMMIT");
        expect((await pool.query(`SELECT count(*)::int AS n FROM "${table}"`)).rows[0].n).toBe(0);
        expect(await store.get("u1", "gemini")).toBeUndefined();
      } finally {
        await locker.query("ROLLBACK").catch(() => undefined);
        locker.release();
        await store.close();
        if ("pool" in opts) await opts.pool.end();
      }
    },
  );

  it("leaves the app's pool without a statement_timeout of its own", async () => {
    const table = await newTable("setting");
    const single = new Pool({ connectionString: DATABASE_URL, max: 1 });
    try {
      const before = (await single.query("SHOW statement_timeout")).rows[0].statement_timeout as string;
      const store = new PostgresStore({ pool: single, table, queryTimeoutMs: 700 });
      await store.put(record("u1"));
      expect((await store.get("u1", "gemini"))?.userId).toBe("u1");
      // The same (only) connection the store used.
      expect((await single.query("SHOW statement_timeout")).rows[0].statement_timeout).toBe(before);
    } finally {
      await single.end();
    }
  });
});

describe("PostgresStore with a pool the app passed in", () => {
  it("adds no listener to the pool or to the connections it checks out", async () => {
    const table = await newTable("listen");
    const given = new Pool({ connectionString: DATABASE_URL, max: 1 });
    try {
      const connection = await given.connect();
      const connectionBefore = listeners(connection);
      connection.release();
      const before = listeners(given);
      const store = new PostgresStore({ pool: given, table });
      await store.migrate();
      await store.put(record("u1"));
      await store.list("u1");
      for await (const batch of store.scan({ batchSize: 10 })) expect(batch.length).toBeLessThanOrEqual(10);
      expect(await store.deleteUser("u1")).toBe(1);
      await store.close();
      expect(listeners(given)).toEqual(before);
      const after = await given.connect();
      expect(after).toBe(connection);
      expect(listeners(after)).toEqual(connectionBefore);
      after.release();
    } finally {
      await given.end();
    }
  });
});

describe("PostgresStore.scan", () => {
  it("holds one batch of rows at a time, however many users there are", async () => {
    const table = await newTable("flat");
    const users = 3000;
    await pool.query(
      `INSERT INTO "${table}" (user_id, provider, ciphertext, hint, created_at, updated_at)
       SELECT 'flat-user-' || i, 'openai', 'v1.c', '…abcd', now(), now() FROM generate_series(1, $1) AS i`,
      [users],
    );
    // Counts the rows the store has read, through a pool that hands out counting connections.
    let read = 0;
    const counting = {
      query: pool.query.bind(pool),
      connect: async () => {
        const connection = await pool.connect();
        return new Proxy(connection, {
          get(target, prop, receiver) {
            if (prop === "query") {
              return async (...args: Parameters<PoolClient["query"]>) => {
                const result = (await (target.query as (...a: unknown[]) => Promise<QueryResult>)(...args)) as
                  QueryResult | QueryResult[];
                for (const r of [result].flat()) read += r.rows?.length ?? 0;
                return result;
              };
            }
            const value: unknown = Reflect.get(target, prop, receiver);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
      },
    };
    const store = new PostgresStore({ pool: counting, table });
    const batchSize = 100;
    const { yielded, mostAhead } = await scanReadAhead(store, batchSize, () => read);
    expect([yielded, read]).toEqual([users, users]);
    expect(mostAhead).toBeLessThanOrEqual(batchSize);
  });
});

describe("PostgresStore.queryTimeoutMs", () => {
  it("answers STORE_UNAVAILABLE once a call has taken queryTimeoutMs, not before", async () => {
    const table = await newTable("slow");
    const store = new PostgresStore({ pool, table, queryTimeoutMs: 1000 });
    const locker = await pool.connect();
    try {
      await locker.query(`BEGIN; LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
      const { code, ms } = await failure(store.list("u1"));
      expect(code).toBe("STORE_UNAVAILABLE");
      expect(ms).toBeGreaterThanOrEqual(990);
      expect(ms).toBeLessThan(6000);
    } finally {
      await locker.query("ROLLBACK");
      locker.release();
    }
  });
});

describe("PostgresStore with a busy pool the app passed in", () => {
  it("gives back a connection the pool hands out after the call was answered 503", async () => {
    const table = await newTable("busy");
    const single = new Pool({ connectionString: DATABASE_URL, max: 1 });
    try {
      const store = new PostgresStore({ pool: single, table, queryTimeoutMs: 300 });
      for (const call of [() => store.migrate(), () => store.put(record("u1"))]) {
        const held = await single.connect();
        expect((await failure(call())).code).toBe("STORE_UNAVAILABLE");
        held.release();
        await waitFor(() => single.idleCount === 1 && single.waitingCount === 0, "the connection to come back");
      }
      expect(await store.list("u1")).toEqual([]);
    } finally {
      await single.end();
    }
  });
});
