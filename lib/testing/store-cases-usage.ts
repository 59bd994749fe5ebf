// KeyStore conformance, usage and budgets: addUsage/readUsage rows, reserve/settle counters, and scan() seeing neither.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { DAY_MS, dayOf } from "../core/days.js";
import type { BudgetCounter, KeyStore, UsageRow } from "../core/types.js";
import {
  type ConformanceRunner,
  type KeyStoreConformanceOptions,
  makeRecord,
  scanAll,
  type UserIds,
  withStore,
} from "./store-conformance-support.js";

/** `YYYY-MM-DD` of today (UTC) plus `days`. */
const dayFrom = (days: number): string => dayOf(Date.now() + days * DAY_MS);

/** A row of one call: 1 request, 10 input and 5 output tokens, today. */
const call = (userId: string, more: Partial<UsageRow> = {}): UsageRow => ({
  day: dayFrom(0),
  provider: "gemini",
  model: "gemini-2.5-flash",
  userId,
  requests: 1,
  inputTokens: 10,
  outputTokens: 5,
  estimated: false,
  ...more,
});

/** Orders rows for order-free comparisons of `readUsage()`. */
const sorted = (rows: UsageRow[]): UsageRow[] =>
  [...rows].sort((a, b) => {
    const ka = JSON.stringify([a.day, a.provider, a.model, a.userId, a.teamId ?? ""]);
    const kb = JSON.stringify([b.day, b.provider, b.model, b.userId, b.teamId ?? ""]);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });

/** A team's owner id, as byok-ai stores a team's rows and counters. */
const teamOwner = (user: UserIds): string => user(`\uFFFFteam:${randomUUID()}`);

/** A counter named at random (so runs sharing a backend never meet), resetting in an hour unless told. */
const counter = (limit: number, resetsAt = Date.now() + 3_600_000): BudgetCounter => ({
  name: `gemini|day|${randomUUID()}`,
  limit,
  resetsAt,
});

/** Polls `check` every 20 ms until it holds; fails naming `what` after 10 s. No fixed sleeps. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after 10 s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const hasUsage = (s: KeyStore): s is KeyStore & Required<Pick<KeyStore, "addUsage" | "readUsage">> =>
  typeof s.addUsage === "function" && typeof s.readUsage === "function";
const hasBudgets = (s: KeyStore): s is KeyStore & Required<Pick<KeyStore, "reserve" | "settle">> =>
  typeof s.reserve === "function" && typeof s.settle === "function";

/**
 * Registers the usage and budget cases. They are optional methods: a store without `addUsage` and
 * `readUsage` (or `reserve` and `settle`) passes their cases without checking anything.
 */
export function usageCases({ it }: ConformanceRunner, o: KeyStoreConformanceOptions): void {
  it("`addUsage()` adds each call to its row, and `estimated` once set stays set", () =>
    withStore(o, async (store, user) => {
      if (!hasUsage(store)) return;
      const userId = user();
      await store.addUsage([userId], call(userId), 30);
      await store.addUsage([userId], call(userId, { inputTokens: 7, outputTokens: 0, estimated: true }), 30);
      await store.addUsage([userId], call(userId, { requests: 2, outputTokens: 1 }), 30);
      assert.deepEqual(await store.readUsage(userId, dayFrom(0), dayFrom(0)), [
        call(userId, { requests: 4, inputTokens: 27, outputTokens: 6, estimated: true }),
      ]);
    }));

  it("`addUsage()` writes the row of every owner given, and `readUsage()` keeps owners apart", () =>
    withStore(o, async (store, user) => {
      if (!hasUsage(store)) return;
      const [member, other, team] = [user(), user(), teamOwner(user)];
      const teamId = team.slice("\uFFFFteam:".length);
      await store.addUsage([member, team], call(member, { teamId }), 30);
      await store.addUsage([other], call(other, { model: "gemini-2.5-pro" }), 30);
      assert.deepEqual(await store.readUsage(member, dayFrom(0), dayFrom(0)), [call(member, { teamId })]);
      assert.deepEqual(await store.readUsage(team, dayFrom(0), dayFrom(0)), [call(member, { teamId })]);
      assert.deepEqual(await store.readUsage(other, dayFrom(0), dayFrom(0)), [
        call(other, { model: "gemini-2.5-pro" }),
      ]);
      assert.deepEqual(await store.readUsage(user(), dayFrom(0), dayFrom(0)), []);
    }));

  it("`addUsage()` keeps a row per provider, model, user and team (a team key's calls apart from the user's own)", () =>
    withStore(o, async (store, user) => {
      if (!hasUsage(store)) return;
      const [owner, second] = [user(), user()];
      const rows = [
        call(owner),
        call(owner, { teamId: "t1" }),
        call(owner, { teamId: "t2" }),
        call(owner, { provider: "openai" }),
        call(owner, { model: "gemini-2.5-pro" }),
        call(second),
      ];
      for (const row of rows) await store.addUsage([owner], row, 30);
      assert.deepEqual(sorted(await store.readUsage(owner, dayFrom(0), dayFrom(0))), sorted(rows));
    }));

  it("`readUsage()` returns the days from fromDay to toDay, both included", () =>
    withStore(o, async (store, user) => {
      if (!hasUsage(store)) return;
      const owner = user();
      for (const days of [-4, -3, -2, -1, 0]) await store.addUsage([owner], call(owner, { day: dayFrom(days) }), 30);
      const read = await store.readUsage(owner, dayFrom(-3), dayFrom(-1));
      assert.deepEqual(sorted(read), sorted([-3, -2, -1].map((days) => call(owner, { day: dayFrom(days) }))));
      assert.deepEqual(await store.readUsage(owner, dayFrom(-10), dayFrom(-5)), []);
    }));

  it("usage rows never mix, whatever their ids hold (`:`, `{}`, `|`, Unicode, JSON-like text)", () =>
    withStore(o, async (store, user) => {
      if (!hasUsage(store)) return;
      const t = randomUUID().slice(0, 8);
      const owners = [user(`${t}:a`), user(`${t}`), user(`{${t}}`), user(`${t}|r`), user(`\u00fc\u{1F511}${t}`)];
      const odd = ["a:b", "a", "{a}", "a|r", "a|i", '["a","b"]', '"a"', "a\\", "\u{1F511}", "null", "[]"];
      const rows: UsageRow[] = [];
      for (const [i, id] of odd.entries()) {
        rows.push(call(owners[0]!, { userId: id, requests: i + 1 }));
        rows.push(call(owners[0]!, { model: id, requests: 100 + i }));
        rows.push(call(owners[0]!, { provider: id, requests: 200 + i }));
        rows.push(call(owners[0]!, { teamId: id, requests: 300 + i }));
      }
      rows.push(call(owners[0]!, { model: "a", userId: "b" }), call(owners[0]!, { model: "a|b", userId: "" }));
      for (const row of rows) await store.addUsage([owners[0]!], row, 30);
      for (const [i, owner] of owners.entries()) await store.addUsage([owner], call(owner, { requests: 1000 + i }), 30);
      assert.deepEqual(
        sorted(await store.readUsage(owners[0]!, dayFrom(0), dayFrom(0))),
        sorted([...rows, call(owners[0]!, { requests: 1000 })]),
      );
      for (const [i, owner] of owners.entries())
        if (i > 0)
          assert.deepEqual(await store.readUsage(owner, dayFrom(0), dayFrom(0)), [call(owner, { requests: 1000 + i })]);
    }));

  it("`reserve()` grants until a limit, then answers the first counter over with what it holds and reserves nothing", () =>
    withStore(o, async (store, user) => {
      if (!hasBudgets(store)) return;
      const owner = user();
      const [day, month] = [counter(100), counter(50)];
      assert.equal(await store.reserve(owner, "a", 30, [day, month], 60_000), undefined);
      assert.deepEqual(await store.reserve(owner, "b", 30, [day, month], 60_000), { index: 1, used: 30 });
      assert.equal(await store.reserve(owner, "c", 20, [day, month], 60_000), undefined);
      assert.deepEqual(await store.reserve(owner, "d", 51, [day, month], 60_000), { index: 0, used: 50 });
      // The refused calls reserved nothing on the counters that had room: 50 of 100 are held.
      assert.equal(await store.reserve(owner, "e", 50, [day], 60_000), undefined);
      assert.deepEqual(await store.reserve(owner, "f", 1, [day], 60_000), { index: 0, used: 100 });
      // Another owner's counter of the same name is its own.
      assert.equal(await store.reserve(user(), "a", 100, [day], 60_000), undefined);
    }));

  it("`settle()` adds the tokens spent to each counter and frees the reservation; `settle(0)` releases it", () =>
    withStore(o, async (store, user) => {
      if (!hasBudgets(store)) return;
      const owner = teamOwner(user);
      const [day, month] = [counter(100), counter(1000)];
      assert.equal(await store.reserve(owner, "a", 60, [day, month], 60_000), undefined);
      await store.settle(owner, "a", 10, [day, month]);
      assert.equal(await store.reserve(owner, "b", 90, [day, month], 60_000), undefined);
      assert.deepEqual(await store.reserve(owner, "c", 1, [day, month], 60_000), { index: 0, used: 100 });
      await store.settle(owner, "b", 0, [day, month]);
      assert.equal(await store.reserve(owner, "c", 90, [day, month], 60_000), undefined);
      // A reservation already gone: the tokens count anyway (10 + 900 spent, 90 reserved).
      await store.settle(owner, "gone", 900, [month]);
      assert.deepEqual(await store.reserve(owner, "d", 1, [month], 60_000), { index: 0, used: 1000 });
    }));

  it("a reservation frees itself after its ttlMs", () =>
    withStore(o, async (store, user) => {
      if (!hasBudgets(store)) return;
      const owner = user();
      const day = counter(100);
      assert.equal(await store.reserve(owner, "held", 50, [day], 600_000), undefined);
      assert.equal(await store.reserve(owner, "brief", 50, [day], 200), undefined);
      let tries = 0;
      await until(
        async () => (await store.reserve(owner, `after-${tries++}`, 50, [day], 600_000)) === undefined,
        "the 200 ms reservation to expire",
      );
      // The long one still holds its 50, and the one just granted 50 more.
      assert.deepEqual(await store.reserve(owner, "over", 1, [day], 600_000), { index: 0, used: 100 });
    }));

  it("a counter past its resetsAt starts over", () =>
    withStore(o, async (store, user) => {
      if (!hasBudgets(store)) return;
      const owner = user();
      const day = counter(100, Date.now() + 1000);
      const asked = Date.now();
      assert.equal(await store.reserve(owner, "a", 100, [day], 600_000), undefined);
      await store.settle(owner, "a", 100, [day]);
      const refused = await store.reserve(owner, "b", 1, [day], 600_000);
      // Only meaningful while the period lasts (a very slow machine may already be past it).
      if (Date.now() < day.resetsAt - 50 && asked < day.resetsAt) assert.deepEqual(refused, { index: 0, used: 100 });
      let tries = 0;
      await until(
        async () => (await store.reserve(owner, `c-${tries++}`, 100, [day], 600_000)) === undefined,
        "the counter to start over after resetsAt",
      );
    }));

  it("200 concurrent `reserve()`s of 10 tokens against a limit of 200 grant exactly 20", () =>
    withStore(o, async (store, user) => {
      if (!hasBudgets(store)) return;
      const owner = user();
      const [day, month] = [counter(200), counter(10_000)];
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.reserve(owner, `r${i}`, 10, [day, month], 600_000)),
      );
      assert.equal(answers.filter((a) => a === undefined).length, 20);
      // Each refusal saw the day's 200 held: never a count between two reserves.
      assert.equal(answers.filter((a) => a?.index === 0 && a.used === 200).length, 180);
    }));

  it("`scan()` returns only key records after usage and budget writes", () =>
    withStore(o, async (store, user) => {
      if (!hasUsage(store) && !hasBudgets(store)) return;
      const owner = user();
      const team = teamOwner(user);
      const record = makeRecord(owner);
      await store.put(record);
      if (hasUsage(store)) await store.addUsage([owner, team], call(owner, { teamId: "x" }), 30);
      if (hasBudgets(store)) {
        await store.reserve(owner, "a", 10, [counter(100)], 60_000);
        await store.reserve(team, "a", 10, [counter(100)], 60_000);
        await store.settle(team, "a", 5, [counter(100)]);
      }
      const { records } = await scanAll(store);
      assert.deepEqual(
        records.filter((r) => r.userId === owner || r.userId === team),
        [record],
      );
      assert.deepEqual(await store.list(team), []);
    }));
}
