// BudgetStore conformance: reserve/settle counters by owner, expiry, resets, concurrency, deleteOwner, isolation and
// fast failure.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { BudgetStore } from "../core/types.js";
import {
  type CapabilityConformanceOptions,
  type ConformanceRunner,
  expectFastFailure,
  withCapability,
} from "./store-conformance-support.js";
import { counter, teamOwner, until } from "./store-cases-rows.js";

/** Registers the BudgetStore cases. */
export function budgetCases({ it }: ConformanceRunner, o: CapabilityConformanceOptions<BudgetStore>): void {
  it("`reserve()` grants until a limit, then answers the first counter over with what it holds and reserves nothing", () =>
    withCapability(o, async (budgets, user) => {
      const owner = user();
      const [day, month] = [counter(100), counter(50)];
      assert.equal(await budgets.reserve(owner, "a", 30, [day, month], 60_000), undefined);
      assert.deepEqual(await budgets.reserve(owner, "b", 30, [day, month], 60_000), { index: 1, used: 30 });
      assert.equal(await budgets.reserve(owner, "c", 20, [day, month], 60_000), undefined);
      assert.deepEqual(await budgets.reserve(owner, "d", 51, [day, month], 60_000), { index: 0, used: 50 });
      // The refused calls reserved nothing on the counters that had room: 50 of 100 are held.
      assert.equal(await budgets.reserve(owner, "e", 50, [day], 60_000), undefined);
      assert.deepEqual(await budgets.reserve(owner, "f", 1, [day], 60_000), { index: 0, used: 100 });
      // Another owner's counter of the same name is its own.
      assert.equal(await budgets.reserve(user(), "a", 100, [day], 60_000), undefined);
    }));

  it("`settle()` adds the tokens spent to each counter and frees the reservation; `settle(0)` releases it", () =>
    withCapability(o, async (budgets, user) => {
      const owner = teamOwner(user);
      const [day, month] = [counter(100), counter(1000)];
      assert.equal(await budgets.reserve(owner, "a", 60, [day, month], 60_000), undefined);
      await budgets.settle(owner, "a", 10, [day, month]);
      assert.equal(await budgets.reserve(owner, "b", 90, [day, month], 60_000), undefined);
      assert.deepEqual(await budgets.reserve(owner, "c", 1, [day, month], 60_000), { index: 0, used: 100 });
      await budgets.settle(owner, "b", 0, [day, month]);
      assert.equal(await budgets.reserve(owner, "c", 90, [day, month], 60_000), undefined);
      // A reservation already gone: the tokens count anyway (10 + 900 spent, 90 reserved).
      await budgets.settle(owner, "gone", 900, [month]);
      assert.deepEqual(await budgets.reserve(owner, "d", 1, [month], 60_000), { index: 0, used: 1000 });
    }));

  it("a reservation frees itself after its ttlMs", () =>
    withCapability(o, async (budgets, user) => {
      const owner = user();
      const day = counter(100);
      assert.equal(await budgets.reserve(owner, "held", 50, [day], 600_000), undefined);
      assert.equal(await budgets.reserve(owner, "brief", 50, [day], 200), undefined);
      let tries = 0;
      await until(
        async () => (await budgets.reserve(owner, `after-${tries++}`, 50, [day], 600_000)) === undefined,
        "the 200 ms reservation to expire",
      );
      // The long one still holds its 50, and the one just granted 50 more.
      assert.deepEqual(await budgets.reserve(owner, "over", 1, [day], 600_000), { index: 0, used: 100 });
    }));

  it("a counter past its resetsAt starts over", () =>
    withCapability(o, async (budgets, user) => {
      const owner = user();
      const day = counter(100, Date.now() + 1000);
      const asked = Date.now();
      assert.equal(await budgets.reserve(owner, "a", 100, [day], 600_000), undefined);
      await budgets.settle(owner, "a", 100, [day]);
      const refused = await budgets.reserve(owner, "b", 1, [day], 600_000);
      // Only meaningful while the period lasts (a very slow machine may already be past it).
      if (Date.now() < day.resetsAt - 50 && asked < day.resetsAt) assert.deepEqual(refused, { index: 0, used: 100 });
      let tries = 0;
      await until(
        async () => (await budgets.reserve(owner, `c-${tries++}`, 100, [day], 600_000)) === undefined,
        "the counter to start over after resetsAt",
      );
    }));

  it("200 concurrent `reserve()`s of 10 tokens against a limit of 200 grant exactly 20", () =>
    withCapability(o, async (budgets, user) => {
      const owner = user();
      const [day, month] = [counter(200), counter(10_000)];
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => budgets.reserve(owner, `r${i}`, 10, [day, month], 600_000)),
      );
      assert.equal(answers.filter((a) => a === undefined).length, 20);
      // Each refusal saw the day's 200 held: never a count between two reserves.
      assert.equal(answers.filter((a) => a?.index === 0 && a.used === 200).length, 180);
    }));

  it("`deleteOwner()` erases the owner's counters and reservations and leaves another owner's", () =>
    withCapability(o, async (budgets, user) => {
      const [gone, kept] = [user(), user()];
      const day = counter(100);
      assert.equal(await budgets.reserve(gone, "held", 60, [day], 600_000), undefined);
      await budgets.settle(gone, "spent", 40, [day]);
      assert.equal(await budgets.reserve(kept, "held", 70, [day], 600_000), undefined);
      await budgets.deleteOwner(gone);
      assert.equal(await budgets.reserve(gone, "again", 100, [day], 600_000), undefined);
      assert.deepEqual(await budgets.reserve(kept, "over", 31, [day], 600_000), { index: 0, used: 70 });
    }));

  const { createIsolated, unreachable } = o;
  if (createIsolated) {
    it("counters never reach across to another prefix or table", () =>
      withCapability(o, (a, user) =>
        withCapability(
          o,
          async (b) => {
            const owner = user();
            const day = counter(100);
            assert.equal(await a.reserve(owner, "a", 100, [day], 600_000), undefined);
            assert.equal(await b.reserve(owner, "b", 100, [day], 600_000), undefined);
            await b.deleteOwner(owner);
          },
          createIsolated,
        ),
      ));
  }

  if (!unreachable) return;
  it("every method rejects STORE_UNAVAILABLE in under a second when the backend cannot be reached", () =>
    withCapability(
      o,
      async (budgets) => {
        const owner = randomUUID();
        const counters = [counter(100)];
        for (const [method, run] of [
          ["reserve", () => budgets.reserve(owner, "r", 10, counters, 60_000)],
          ["settle", () => budgets.settle(owner, "r", 10, counters)],
          ["deleteOwner", () => budgets.deleteOwner(owner)],
        ] as const)
          await expectFastFailure(method, run);
      },
      unreachable,
    ));
}
