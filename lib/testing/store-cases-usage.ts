// UsageStore conformance: add/read rows by owner, odd ids, deleteOwner, isolation and fast failure.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { UsageRow, UsageStore } from "../core/types.js";
import {
  type CapabilityConformanceOptions,
  type ConformanceRunner,
  expectFastFailure,
  withCapability,
} from "./store-conformance-support.js";
import { call, dayFrom, sorted, teamOwner } from "./store-cases-rows.js";

/** Registers the UsageStore cases. */
export function usageCases({ it }: ConformanceRunner, o: CapabilityConformanceOptions<UsageStore>): void {
  it("`add()` adds each call to its row, and `estimated` once set stays set", () =>
    withCapability(o, async (usage, user) => {
      const userId = user();
      await usage.add([userId], call(userId), 30);
      await usage.add([userId], call(userId, { inputTokens: 7, outputTokens: 0, estimated: true }), 30);
      await usage.add([userId], call(userId, { requests: 2, outputTokens: 1 }), 30);
      assert.deepEqual(await usage.read(userId, dayFrom(0), dayFrom(0)), [
        call(userId, { requests: 4, inputTokens: 27, outputTokens: 6, estimated: true }),
      ]);
    }));

  it("`add()` writes the row of every owner given, and `read()` keeps owners apart", () =>
    withCapability(o, async (usage, user) => {
      const [member, other, team] = [user(), user(), teamOwner(user)];
      const teamId = team.slice("\uFFFFteam:".length);
      await usage.add([member, team], call(member, { teamId }), 30);
      await usage.add([other], call(other, { model: "gemini-2.5-pro" }), 30);
      assert.deepEqual(await usage.read(member, dayFrom(0), dayFrom(0)), [call(member, { teamId })]);
      assert.deepEqual(await usage.read(team, dayFrom(0), dayFrom(0)), [call(member, { teamId })]);
      assert.deepEqual(await usage.read(other, dayFrom(0), dayFrom(0)), [call(other, { model: "gemini-2.5-pro" })]);
      assert.deepEqual(await usage.read(user(), dayFrom(0), dayFrom(0)), []);
    }));

  it("`add()` keeps a row per provider, model, user and team (a team key's calls apart from the user's own)", () =>
    withCapability(o, async (usage, user) => {
      const [owner, second] = [user(), user()];
      const rows = [
        call(owner),
        call(owner, { teamId: "t1" }),
        call(owner, { teamId: "t2" }),
        call(owner, { provider: "openai" }),
        call(owner, { model: "gemini-2.5-pro" }),
        call(second),
      ];
      for (const row of rows) await usage.add([owner], row, 30);
      assert.deepEqual(sorted(await usage.read(owner, dayFrom(0), dayFrom(0))), sorted(rows));
    }));

  it("`read()` returns the days from fromDay to toDay, both included", () =>
    withCapability(o, async (usage, user) => {
      const owner = user();
      for (const days of [-4, -3, -2, -1, 0]) await usage.add([owner], call(owner, { day: dayFrom(days) }), 30);
      const read = await usage.read(owner, dayFrom(-3), dayFrom(-1));
      assert.deepEqual(sorted(read), sorted([-3, -2, -1].map((days) => call(owner, { day: dayFrom(days) }))));
      assert.deepEqual(await usage.read(owner, dayFrom(-10), dayFrom(-5)), []);
    }));

  it("usage rows never mix, whatever their ids hold (`:`, `{}`, `|`, Unicode, JSON-like text)", () =>
    withCapability(o, async (usage, user) => {
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
      for (const row of rows) await usage.add([owners[0]!], row, 30);
      for (const [i, owner] of owners.entries()) await usage.add([owner], call(owner, { requests: 1000 + i }), 30);
      assert.deepEqual(
        sorted(await usage.read(owners[0]!, dayFrom(0), dayFrom(0))),
        sorted([...rows, call(owners[0]!, { requests: 1000 })]),
      );
      for (const [i, owner] of owners.entries())
        if (i > 0)
          assert.deepEqual(await usage.read(owner, dayFrom(0), dayFrom(0)), [call(owner, { requests: 1000 + i })]);
    }));

  it("`deleteOwner()` erases every row of the owner and leaves another owner's", () =>
    withCapability(o, async (usage, user) => {
      const [gone, kept, team] = [user(), user(), teamOwner(user)];
      const teamId = team.slice("\uFFFFteam:".length);
      await usage.add([gone, team], call(gone, { teamId }), 30);
      await usage.add([gone], call(gone, { day: dayFrom(-2) }), 30);
      await usage.add([kept], call(kept), 30);
      await usage.deleteOwner(gone);
      assert.deepEqual(await usage.read(gone, dayFrom(-10), dayFrom(0)), []);
      assert.deepEqual(await usage.read(kept, dayFrom(0), dayFrom(0)), [call(kept)]);
      assert.deepEqual(await usage.read(team, dayFrom(0), dayFrom(0)), [call(gone, { teamId })]);
      await usage.deleteOwner(gone); // nothing left: not an error
    }));

  const { createIsolated, unreachable } = o;
  if (createIsolated) {
    it("`read()` never sees another prefix's or table's rows", () =>
      withCapability(o, (a, user) =>
        withCapability(
          o,
          async (b) => {
            const owner = user();
            await a.add([owner], call(owner), 30);
            assert.deepEqual(await b.read(owner, dayFrom(0), dayFrom(0)), []);
            assert.deepEqual(await a.read(owner, dayFrom(0), dayFrom(0)), [call(owner)]);
          },
          createIsolated,
        ),
      ));
  }

  if (!unreachable) return;
  it("every method rejects STORE_UNAVAILABLE in under a second when the backend cannot be reached", () =>
    withCapability(
      o,
      async (usage) => {
        const owner = randomUUID();
        for (const [method, run] of [
          ["add", () => usage.add([owner], call(owner), 30)],
          ["read", () => usage.read(owner, dayFrom(0), dayFrom(0))],
          ["deleteOwner", () => usage.deleteOwner(owner)],
        ] as const)
          await expectFastFailure(method, run);
      },
      unreachable,
    ));
}
