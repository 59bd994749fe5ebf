// KeyStore conformance, for a store that also offers capabilities (`store.usage`, `store.budgets`, `store.once`):
// what they keep is never a key record.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { ByokStores, KeyStore } from "../core/types.js";
import {
  type ConformanceRunner,
  type KeyStoreConformanceOptions,
  makeRecord,
  scanAll,
  withStore,
} from "./store-conformance-support.js";
import { call, counter, teamOwner } from "./store-cases-rows.js";

/** Registers the case (a store without `usage`, `budgets` or `once` members passes it without checking anything). */
export function apartCases({ it }: ConformanceRunner, o: KeyStoreConformanceOptions): void {
  it("what the store's own `usage`, `budgets` and `once` keep never shows in `scan()` or `list()`", () =>
    withStore(o, async (store, user) => {
      const { usage, budgets, once } = store as KeyStore & Partial<ByokStores>;
      if (!usage && !budgets && !once) return;
      const owner = user();
      const team = teamOwner(user);
      const record = makeRecord(owner);
      await store.put(record);
      await usage?.add([owner, team], call(owner, { teamId: "x" }), 30);
      if (budgets) {
        await budgets.reserve(owner, "a", 10, [counter(100)], 60_000);
        await budgets.reserve(team, "a", 10, [counter(100)], 60_000);
        await budgets.settle(team, "a", 5, [counter(100)]);
      }
      await once?.put(team, randomUUID(), "not a record", 60_000);
      await once?.put(owner, owner, "not a record", 60_000);
      const { records } = await scanAll(store);
      assert.deepEqual(
        records.filter((r) => r.userId === owner || r.userId === team),
        [record],
      );
      assert.deepEqual(await store.list(team), []);
      for (const capability of [usage, budgets, once]) await capability?.deleteOwner(owner);
      for (const capability of [usage, budgets, once]) await capability?.deleteOwner(team);
    }));
}
