import { Redis } from "ioredis";
import { RedisStore } from "../../lib";
import type { BudgetCounter } from "../../lib/extend";
import { REDIS_URL, uniqueName } from "../helpers/services";
import { DAY_MS, dayFrom, row } from "../helpers/usage-rows";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64url");

let raw: Redis;
const prefixes: string[] = [];
const newPrefix = (what: string) => {
  const prefix = `${uniqueName(what)}:`;
  prefixes.push(prefix);
  return prefix;
};
const keysUnder = async (prefix: string) => {
  const keys: string[] = [];
  for await (const page of raw.scanStream({ match: `${prefix}*` })) keys.push(...(page as string[]));
  return keys.sort();
};

beforeAll(() => {
  raw = new Redis(REDIS_URL);
});
afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await keysUnder(prefix);
    if (keys.length) await raw.del(...keys);
  }
  await raw.quit();
});

describe("RedisStore usage and budgets", () => {
  it("write keys of their own, which scan() skips, even for a store whose prefix ends where they begin", async () => {
    const prefix = newPrefix("layout");
    const stores = [prefix, `${prefix}usage:`, `${prefix}budget:`].map(
      (p) => new RedisStore({ url: REDIS_URL, prefix: p }),
    );
    const [store, usagePrefixed, budgetPrefixed] = stores as [RedisStore, RedisStore, RedisStore];
    try {
      const at = new Date().toISOString();
      const record = {
        userId: "u1",
        provider: "gemini",
        label: "default",
        ciphertext: "v1.a.b.c.d",
        hint: "\u2026abcd",
        createdAt: at,
        updatedAt: at,
      };
      await store.put(record);
      await store.addUsage(["u1", "\uFFFFteam:t1"], row("u1", { teamId: "t1" }), 30);
      const counter: BudgetCounter = { name: "gemini|day|x", limit: 100, resetsAt: Date.now() + 3_600_000 };
      expect(await store.reserve("u1", "r1", 10, [counter], 60_000)).toBeUndefined();

      expect(await keysUnder(prefix)).toEqual(
        [
          `${prefix}{${b64("u1")}}`,
          `${prefix}usage:{${b64("u1")}}:${dayFrom(0)}`,
          `${prefix}usage:{${b64("\uFFFFteam:t1")}}:${dayFrom(0)}`,
          `${prefix}budget:{${b64("u1")}}:${b64(counter.name)}`,
        ].sort(),
      );
      const scanned = async (s: RedisStore) => {
        const seen = [];
        for await (const batch of s.scan()) seen.push(...batch);
        return seen;
      };
      expect(await scanned(store)).toEqual([record]);
      expect(await scanned(usagePrefixed)).toEqual([]);
      expect(await scanned(budgetPrefixed)).toEqual([]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("expire a day's usage retentionDays after its end, and a counter when it resets", async () => {
    const prefix = newPrefix("ttl");
    const store = new RedisStore({ url: REDIS_URL, prefix });
    try {
      await store.addUsage(["u1"], row("u1"), 30);
      const endOfDay = Date.parse(`${dayFrom(0)}T00:00:00Z`) + DAY_MS;
      const expiresAt = (await raw.call("EXPIRETIME", `${prefix}usage:{${b64("u1")}}:${dayFrom(0)}`)) as number;
      expect(expiresAt * 1000).toBe(endOfDay + 30 * DAY_MS);

      const counter: BudgetCounter = { name: "c", limit: 100, resetsAt: Date.now() + 3_600_000 };
      await store.reserve("u1", "r1", 10, [counter], 60_000);
      const key = `${prefix}budget:{${b64("u1")}}:${b64("c")}`;
      expect(await raw.call("PEXPIRETIME", key)).toBe(counter.resetsAt);
      await store.settle("u1", "r1", 7, [counter]);
      expect(await raw.hgetall(key)).toEqual({ spent: "7" });
      expect(await raw.call("PEXPIRETIME", key)).toBe(counter.resetsAt);
    } finally {
      await store.close();
    }
  });

  it("reads at most the last 400 days of a range, and answers an empty range or a bad day at once", async () => {
    const prefix = newPrefix("range");
    const store = new RedisStore({ url: REDIS_URL, prefix });
    try {
      await store.addUsage(["u1"], row("u1", { day: dayFrom(-450) }), 1000);
      await store.addUsage(["u1"], row("u1", { day: dayFrom(-399) }), 1000);
      expect(await store.readUsage("u1", dayFrom(-450), dayFrom(-450))).toEqual([row("u1", { day: dayFrom(-450) })]);
      expect(await store.readUsage("u1", "2000-01-01", dayFrom(0))).toEqual([row("u1", { day: dayFrom(-399) })]);
      expect(await store.readUsage("u1", dayFrom(0), dayFrom(-1))).toEqual([]);
      await expect(store.readUsage("u1", "2026-02-30", dayFrom(0))).rejects.toMatchObject({
        code: "INVALID_REQUEST",
        details: { fields: ["fromDay"] },
      });
    } finally {
      await store.close();
    }
  });

  it("grants exactly 20 of 200 concurrent reserves of 10 tokens against 200 from two stores on their own connections", async () => {
    const prefix = newPrefix("race");
    // 5 s, not 500 ms: the 200 calls queue behind each other, and each call's limit counts its wait.
    const stores = [0, 1].map(() => new RedisStore({ url: REDIS_URL, prefix, callTimeoutMs: 5000 }));
    try {
      const counters: BudgetCounter[] = [
        { name: "day", limit: 200, resetsAt: Date.now() + 3_600_000 },
        { name: "month", limit: 100_000, resetsAt: Date.now() + 3_600_000 },
      ];
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => stores[i % 2]!.reserve("u1", `r${i}`, 10, counters, 600_000)),
      );
      expect(answers.filter((a) => a === undefined)).toHaveLength(20);
      expect(answers.filter((a) => a?.index === 0 && a.used === 200)).toHaveLength(180);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
