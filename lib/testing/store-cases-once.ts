// OnceStore conformance (single-use values, the router's connect state): once, expiry, odd keys, owners apart,
// deleteOwner, isolation and fast failure.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { OnceStore } from "../core/types.js";
import {
  type CapabilityConformanceOptions,
  type ConformanceRunner,
  expectFastFailure,
  withCapability,
} from "./store-conformance-support.js";

/** How long the expiry case waits at most for a 1 ms value to be gone: far beyond any store's clock step. */
const EXPIRY_WAIT_MS = 5_000;

/** Registers the OnceStore cases. */
export function onceCases({ it }: ConformanceRunner, o: CapabilityConformanceOptions<OnceStore>): void {
  it("`take()` returns what `put()` kept, once; then `undefined`", () =>
    withCapability(o, async (once, user) => {
      const owner = user();
      const key = `conformance:${randomUUID()}`;
      const value = JSON.stringify({ userId: randomUUID(), verifier: randomUUID(), note: "\u00e9\u{1F511}" });
      await once.put(owner, key, value, 60_000);
      assert.equal(await once.take(owner, key), value);
      assert.equal(await once.take(owner, key), undefined);
      assert.equal(await once.take(owner, `conformance:${randomUUID()}`), undefined);
    }));

  it("`take()` lets exactly one of many concurrent takers have the value", () =>
    withCapability(o, async (once, user) => {
      const owner = user();
      const key = `conformance:${randomUUID()}`;
      await once.put(owner, key, "the value", 60_000);
      const taken = await Promise.all(Array.from({ length: 8 }, () => once.take(owner, key)));
      assert.deepEqual(
        taken.filter((v) => v !== undefined),
        ["the value"],
      );
    }));

  it("`take()` returns `undefined` once the value's `ttlMs` has passed", () =>
    withCapability(o, async (once, user) => {
      const owner = user();
      const kept = `conformance:${randomUUID()}`;
      await once.put(owner, kept, "kept", 60_000);
      // A 1 ms value is expired by the time anything can look; each look takes it, so put it again until one
      // look comes back empty (the clocks that decide expiry are the store's, so poll rather than sleep).
      const short = `conformance:${randomUUID()}`;
      const started = performance.now();
      for (;;) {
        await once.put(owner, short, "short", 1);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if ((await once.take(owner, short)) === undefined) break;
        assert.ok(performance.now() - started < EXPIRY_WAIT_MS, "a value with ttlMs 1 was still there after 5 s");
      }
      assert.equal(await once.take(owner, kept), "kept");
    }));

  it("`put()` keeps odd keys apart (`:`, braces, `*`, `%`, Unicode, 512 characters)", () =>
    withCapability(o, async (once, user) => {
      const owner = user();
      const id = randomUUID();
      const keys = [
        `${id}`,
        `${id}:a`,
        `${id}:a:`,
        `{${id}}`,
        `${id}}`,
        `${id}*`,
        `${id}%`,
        `${id}\u00e9`,
        `${id}e\u0301`,
        `${id}\u{1F511}`,
        `${id}${"x".repeat(512 - id.length)}`,
      ];
      for (const [i, key] of keys.entries()) await once.put(owner, key, `value ${i}`, 60_000);
      for (const [i, key] of keys.entries()) assert.equal(await once.take(owner, key), `value ${i}`, `key #${i}`);
    }));

  it("`take()` finds only the owner's value: another owner's of the same key is theirs", () =>
    withCapability(o, async (once, user) => {
      const [owner, other] = [user(), user()];
      const key = `conformance:${randomUUID()}`;
      await once.put(owner, key, "mine", 60_000);
      assert.equal(await once.take(other, key), undefined);
      await once.put(other, key, "theirs", 60_000);
      assert.equal(await once.take(owner, key), "mine");
      assert.equal(await once.take(other, key), "theirs");
    }));

  it("`deleteOwner()` erases every value of the owner and leaves another owner's", () =>
    withCapability(o, async (once, user) => {
      const [gone, kept] = [user(), user()];
      const keys = [`conformance:${randomUUID()}`, `conformance:${randomUUID()}`];
      for (const key of keys) await once.put(gone, key, "gone", 60_000);
      await once.put(kept, keys[0]!, "kept", 60_000);
      await once.deleteOwner(gone);
      for (const key of keys) assert.equal(await once.take(gone, key), undefined);
      assert.equal(await once.take(kept, keys[0]!), "kept");
    }));

  const { createIsolated, unreachable } = o;
  if (createIsolated) {
    it("`take()` never sees another prefix's or table's values", () =>
      withCapability(o, (a, user) =>
        withCapability(
          o,
          async (b) => {
            const owner = user();
            const key = `conformance:${randomUUID()}`;
            await a.put(owner, key, "a", 60_000);
            assert.equal(await b.take(owner, key), undefined);
            assert.equal(await a.take(owner, key), "a");
          },
          createIsolated,
        ),
      ));
  }

  if (!unreachable) return;
  it("every method rejects STORE_UNAVAILABLE in under a second when the backend cannot be reached", () =>
    withCapability(
      o,
      async (once) => {
        const owner = randomUUID();
        for (const [method, call] of [
          ["put", () => once.put(owner, "unreachable", "v", 60_000)],
          ["take", () => once.take(owner, "unreachable")],
          ["deleteOwner", () => once.deleteOwner(owner)],
        ] as const)
          await expectFastFailure(method, call);
      },
      unreachable,
    ));
}
