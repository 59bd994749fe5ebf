// Account deletion: byok.deleteUser erases every record the store keeps of that user (keys, usage rows, budget
// counters and reservations, connect-flow state), read back from the raw data of each backend; another user's data
// is untouched.
import Redis from "ioredis";
import { Client } from "pg";
import { BYOK, MemoryStore, PostgresStore, RedisStore } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

/** What a backend holds of `userId`, read past the store's API: a list of what is left (empty once erased). */
type RawReader = (userId: string) => Promise<string[]>;

const tag = (userId: string) => `{${Buffer.from(userId, "utf8").toString("base64url")}}`;

interface Kind {
  name: string;
  open(): Promise<{ store: MemoryStore | RedisStore | PostgresStore; raw: RawReader; close(): Promise<void> }>;
}

const kinds: Kind[] = [
  {
    name: "MemoryStore",
    // No raw view into a MemoryStore's private maps: its keys and usage through its own methods, its budget
    // counters by the test's last chat, which a counter left behind would refuse, its connect state by the last take.
    open: async () => {
      const store = new MemoryStore();
      const raw: RawReader = async (userId) => [
        ...(await store.list(userId)).map((r) => `key ${r.provider}`),
        ...(await store.usage.read(userId, "2000-01-01", "2999-12-31")).map((r) => `usage ${r.day}`),
      ];
      return { store, raw, close: async () => undefined };
    },
  },
  {
    name: "RedisStore",
    open: async () => {
      const prefix = `${uniqueName("delete")}:`;
      const store = new RedisStore({ url: REDIS_URL, prefix });
      const client = new Redis(REDIS_URL);
      const raw: RawReader = async (userId) => {
        const keys: string[] = [];
        let cursor = "0";
        do {
          const [next, page] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          cursor = next;
          keys.push(...page.filter((k) => k.includes(tag(userId))));
        } while (cursor !== "0");
        return keys;
      };
      return { store, raw, close: async () => (await store.close(), void (await client.quit())) };
    },
  },
  {
    name: "PostgresStore",
    open: async () => {
      const table = uniqueName("delete");
      const store = new PostgresStore({ connectionString: DATABASE_URL, table });
      await store.migrate();
      const admin = new Client({ connectionString: DATABASE_URL });
      await admin.connect();
      // Every table the store made: its records, and each companion (<table>_usage, _budget, _once …).
      const tables = (
        await admin.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE tablename LIKE $1", [
          `${table}%`,
        ])
      ).rows.map((r) => r.tablename);
      const raw: RawReader = async (userId) => {
        const left: string[] = [];
        for (const t of tables) {
          const columns = (
            await admin.query<{ column_name: string }>(
              "SELECT column_name FROM information_schema.columns WHERE table_name = $1",
              [t],
            )
          ).rows.map((r) => r.column_name);
          const owner = columns.find((c) => c === "user_id" || c === "owner_id");
          if (owner === undefined) continue;
          const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${t} WHERE ${owner} = $1`, [userId]);
          if (rows[0].n > 0) left.push(`${t}: ${rows[0].n}`);
        }
        return left;
      };
      return {
        store,
        raw,
        close: async () => {
          await store.close();
          for (const t of tables) await admin.query(`DROP TABLE IF EXISTS ${t}`);
          await admin.end();
        },
      };
    },
  },
];

/** A connect flow's state key, as the router makes one. */
const STATE = "byok-connect:openrouter:Zm9vYmFyYmF6cXV4";

let fakes: FakeProviders;
beforeAll(async () => (fakes = await startFakeProviders()));
afterAll(() => fakes.close());

describe.each(kinds)("account deletion on $name", (kind) => {
  it("erases the user's keys, usage rows, budget counters and connect-flow state, and leaves another user's", async () => {
    const { store, raw, close } = await kind.open();
    try {
      const byok = new BYOK({
        masterKey: TEST_MASTER_KEY,
        store,
        providers: fakes.providers,
        defaultProvider: "openai",
        budgets: { user: { tokensPerDay: 40 } },
      });
      for (const userId of ["ann", "bob"]) {
        await byok.registerKey({ userId, provider: "openai", apiKey: `sk-delete-${userId}-0001`, validate: false });
        await byok.registerKey({ userId, provider: "anthropic", apiKey: `sk-ant-delete-${userId}`, validate: false });
        fakes.openai.enqueue({ usage: { inputTokens: 20, outputTokens: 10 } });
        await byok.use(userId).chat({ prompt: "hi", maxTokens: 10 }); // spends 30 of the day's 40
        await store.once.put(userId, STATE, `flow of ${userId}`, 600_000); // a connect flow under way
      }
      // Usage is written without being awaited by the chat.
      await waitFor(async () => (await byok.use("ann").usage()).length > 0, "ann's usage row");
      const bobBefore = await raw("bob");
      expect((await raw("ann")).length).toBeGreaterThan(kind.name === "MemoryStore" ? 2 : 3);

      expect(await byok.deleteUser("ann")).toBe(2);

      expect(await raw("ann")).toEqual([]);
      expect(await byok.use("ann").usage()).toEqual([]);
      expect(await byok.listKeys("ann")).toEqual([]);
      expect(await raw("bob")).toEqual(bobBefore);
      expect(await byok.listKeys("bob")).toHaveLength(2);
      expect(await store.once.take("ann", STATE)).toBeUndefined();
      expect(await store.once.take("bob", STATE)).toBe("flow of bob");
      // The spent 30 went with the account: a new key of ann's gets the whole budget, bob still has 10 left.
      await byok.registerKey({ userId: "ann", provider: "openai", apiKey: "sk-delete-ann-0002", validate: false });
      fakes.openai.enqueue({ usage: { inputTokens: 20, outputTokens: 10 } });
      await expect(byok.use("ann").chat({ prompt: "hi", maxTokens: 10 })).resolves.toBeDefined();
      await expect(byok.use("bob").chat({ prompt: "hi", maxTokens: 10 })).rejects.toMatchObject({
        code: "BUDGET_EXCEEDED",
      });
    } finally {
      await close();
    }
  });
});
