// Stores filled by byok-ai 0.1's own code (test/fixtures/store-0.1) read with this version: every key, its metadata,
// its plaintext, usage and budgets; PostgresStore.migrate() brings 0.1's tables up to date, and running it again changes nothing.
import { Redis } from "ioredis";
import { Client } from "pg";
import { BYOK, type KeyInfo, localKey, PostgresStore, RedisStore } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { teamOwnerId } from "../../lib/core/owner";
import { Keyring } from "../../lib/vault/keyring";
import { type FixtureKey, fixtureExpected, loadPostgresFixture, loadRedisFixture } from "../helpers/store-0.1-fixture";
import { REDIS_URL, uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

const expected = fixtureExpected();
const ownerIdOf = (k: FixtureKey) => (k.teamId === undefined ? k.userId! : teamOwnerId(k.teamId));
const ownerOf = (k: FixtureKey) => (k.teamId === undefined ? { userId: k.userId! } : { teamId: k.teamId });
const ownerName = (k: FixtureKey) => k.userId ?? `team:${k.teamId}`;

let fakes: FakeProviders<"openai" | "anthropic">;
beforeAll(async () => (fakes = await startFakeProviders({ only: ["openai", "anthropic"] })));
afterAll(() => fakes.close());

function byokOn(store: RedisStore | PostgresStore): BYOK {
  return new BYOK({
    masterKey: expected.masterKey,
    store,
    providers: {
      ...fakes.providers,
      // As the fixture registered it: the made-up resource host is allowed, and no DNS lookup is made.
      "azure-openai": { userEndpoints: { hosts: ["*.openai.azure.com"], allowPrivateNetwork: true } },
    },
  });
}

/** The columns of `table` in the database at `url`, sorted. */
async function columnsOf(url: string, table: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
      [table],
    );
    return rows.map((r) => r.column_name).sort();
  } finally {
    await client.end();
  }
}

interface Loaded {
  store: RedisStore | PostgresStore;
  readBack: (typeof expected.readBack)["redis"];
  close(): Promise<void>;
}

const KINDS: [string, () => Promise<Loaded>][] = [
  [
    "RedisStore",
    async () => {
      const client = new Redis(REDIS_URL);
      const prefix = `${uniqueName("mig01")}:`;
      expect(await loadRedisFixture(client, prefix)).toBeGreaterThan(expected.keys.length);
      const store = new RedisStore({ url: REDIS_URL, prefix, callTimeoutMs: 5000 });
      return {
        store,
        readBack: expected.readBack.redis,
        close: async () => {
          await store.close();
          const keys = await client.keys(`${prefix}*`);
          if (keys.length) await client.del(...keys);
          await client.quit();
        },
      };
    },
  ],
  [
    "PostgresStore",
    async () => {
      const db = await loadPostgresFixture();
      const store = new PostgresStore({
        connectionString: db.url,
        table: expected.postgresTable,
        queryTimeoutMs: 10_000,
      });
      const before = await columnsOf(db.url, `${expected.postgresTable}_once`);
      expect(before).toEqual(["expires_at", "key", "value"]);
      await store.migrate();
      const after = await Promise.all(
        ["", "_usage", "_budget", "_once"].map((s) => columnsOf(db.url, `${expected.postgresTable}${s}`)),
      );
      // Idempotent: a second migrate() (another instance starting, the next deploy) changes nothing.
      await store.migrate();
      expect(
        await Promise.all(
          ["", "_usage", "_budget", "_once"].map((s) => columnsOf(db.url, `${expected.postgresTable}${s}`)),
        ),
      ).toEqual(after);
      expect(after[3]).toContain("owner_id");
      return {
        store,
        readBack: expected.readBack.postgres,
        close: async () => {
          await store.close();
          await db.drop();
        },
      };
    },
  ],
];

describe.each(KINDS)("a %s filled by byok-ai 0.1", (_name, load) => {
  let loaded: Loaded;
  let byok: BYOK;
  beforeAll(async () => {
    loaded = await load();
    byok = byokOn(loaded.store);
  });
  afterAll(async () => {
    await byok.close();
    await loaded.close();
  });

  it("lists every key with the hint, status, endpoint and dates 0.1 listed", async () => {
    const owners = [...new Map(expected.keys.map((k) => [ownerName(k), ownerOf(k)])).entries()];
    for (const [name, owner] of owners) {
      const infos = await byok.listKeys(owner);
      // Records written by 0.1 read as label "default", priority 0.
      expect(infos).toEqual(
        loaded.readBack.listKeys[name]!.map((info: KeyInfo) =>
          expect.objectContaining({ ...info, label: "default", priority: 0 }),
        ),
      );
    }
    for (const k of expected.keys) {
      const info = (await byok.listKeys(ownerOf(k))).find((i) => i.provider === k.provider);
      expect(info).toMatchObject({ hint: `…${k.apiKey.slice(-4)}`, status: k.status });
      if (k.endpoint) expect(info!.endpoint).toBe(new URL(k.endpoint).host);
    }
  });

  it("opens every record to the plaintext 0.1 registered, bound to its owner, provider and endpoint", async () => {
    const keyring = new Keyring({
      current: localKey(expected.masterKey),
      previous: [],
      dataKeyCache: { maxAgeMs: 1000, maxEntries: 10 },
    });
    for (const k of expected.keys) {
      const record = await loaded.store.get(ownerIdOf(k), k.provider);
      expect(record!.endpoint).toBe(k.endpoint);
      expect(record!.label).toBe("default");
      // Label "default" is bound by 0.1's own associated data (no label part), so the context names none.
      const context = { userId: ownerIdOf(k), provider: k.provider, ...(k.endpoint ? { endpoint: k.endpoint } : {}) };
      expect(await keyring.open(record!.ciphertext, context)).toBe(k.apiKey);
    }
    keyring.close();
    expect(await byok.verify()).toMatchObject({ scanned: expected.keys.length, unreadable: [] });
  });

  it("reads 0.1's usage rows and its live budget reservation", async () => {
    const { day, usage } = loaded.readBack;
    expect(await byok.usage({ userId: "alice@example.com", from: day, to: day })).toEqual(usage["alice@example.com"]);
    expect(await byok.usage({ teamId: "team-42", from: day, to: day })).toEqual(usage["team:team-42"]);
    const fixed = expected.fixedUsage.row;
    expect(await byok.usage({ userId: fixed.userId, from: fixed.day, to: fixed.day })).toEqual([fixed]);
    // The reservation (123 tokens, until 2099) still holds: one token past what is left is refused.
    const { ownerId, tokens, counters } = expected.reservation;
    const counter = counters[0]!;
    expect(
      await loaded.store.budgets.reserve(ownerId, "migration-test", counter.limit - tokens + 1, counters, 60_000),
    ).toEqual({ index: 0, used: tokens });
  });

  it("serves chats with 0.1's keys: each user's own, and a team's to a member", async () => {
    const chats = (fake: (typeof fakes)["openai"]) => fake.requests.filter((r) => r.op === "chat");
    const usable = expected.keys.filter(
      (k) => k.status === "ok" && (k.provider === "openai" || k.provider === "anthropic"),
    );
    expect(usable.length).toBeGreaterThanOrEqual(4);
    for (const k of usable) {
      const fake = fakes[k.provider as "openai" | "anthropic"];
      const before = chats(fake).length;
      // A member with no key of their own is served by the team's.
      const ai = k.teamId === undefined ? byok.use(k.userId!) : byok.use("carol", { teamId: k.teamId });
      await ai.chat({ provider: k.provider, prompt: "hello from the migration test" });
      await waitFor(() => chats(fake).length === before + 1, "the fake to receive the chat");
      expect(chats(fake).at(-1)!.apiKey).toBe(k.apiKey);
      // The chat touches its key without waiting: let that write land before the store closes.
      const touched = async () => {
        const info = (await byok.listKeys(ownerOf(k))).find((i) => i.provider === k.provider);
        return info?.lastUsedAt !== undefined && info.lastUsedAt > expected.madeBy.at;
      };
      await waitFor(touched, "the chat's touch");
    }
  });
});

describe.each(KINDS)("a %s filled by byok-ai 0.1, after migrate()", (_name, load) => {
  it("keeps a key of another label beside each 0.1 key, each its own record", async () => {
    const loaded = await load();
    try {
      const k = expected.keys[0]!;
      const old = (await loaded.store.get(ownerIdOf(k), k.provider))!;
      const at = new Date().toISOString();
      const work = { ...old, label: "work", ciphertext: "v1.other.label", createdAt: at, updatedAt: at };
      delete work.lastUsedAt;
      delete work.status;
      delete work.statusUntil;
      expect(await loaded.store.put(work)).toEqual({ record: work, replaced: false });
      expect(await loaded.store.get(ownerIdOf(k), k.provider)).toEqual(old);
      expect(await loaded.store.get(ownerIdOf(k), k.provider, "work")).toEqual(work);
    } finally {
      await loaded.close();
    }
  });
});
