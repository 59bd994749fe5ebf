// KeyStore conformance, everyday operations: get/put/list/delete/deleteUser/touch, concurrency (deleteUser racing puts included) and odd user ids.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { PutResult } from "../core/types.js";
import {
  byProvider,
  type ConformanceRunner,
  type KeyStoreConformanceOptions,
  makeRecord,
  scanAll,
  withStore,
} from "./store-conformance-support.js";

const earlier = (ms: number) => new Date(Date.now() - ms);

/** User ids that break naive stores: separators, hash tags, globs, LIKE wildcards, Unicode, length, prefixes, encoded keys. */
function oddUserIds(): string[] {
  const t = randomUUID().slice(0, 8);
  const encoded = Buffer.from(t, "utf8").toString("base64url");
  return [
    t,
    `${t}:`,
    `${t}:x`,
    `${t}:*`,
    `${t}{}`,
    `{${t}}`,
    `{a}${t}`,
    `${t}{a}b`,
    `${t}*`,
    `${t}?`,
    `${t}[a]`,
    `${t}%`,
    `${t}_`,
    `${t}\\`,
    `${t}'; DROP TABLE x; --`,
    `\u00fcn\u00ef\u00a9\u00f8d\u00e9 \u{1F511} ${t}`,
    `${t}`.padEnd(256, "z"),
    encoded,
    `{${encoded}}`,
    // A team's owner id (byok-ai keeps a team's keys under U+FFFF "team:" and the team id), beside the user ids above.
    `\uFFFFteam:${t}`,
    `\uFFFFteam:{${t}}:x`,
    `\uFFFFteam:${t}`.padEnd(262, "t"),
    `byok:{${encoded}}`,
    `byok:${t}`,
  ];
}

/** Registers the basic cases. */
export function basicCases({ it }: ConformanceRunner, o: KeyStoreConformanceOptions): void {
  it("`put()` then `get()` returns the record exactly as stored, timestamps included", () =>
    withStore(o, async (store, user) => {
      const record = makeRecord(user(), "gemini", earlier(60_000));
      assert.deepEqual(await store.put(record), { record, replaced: false });
      assert.deepEqual(await store.get(record.userId, "gemini"), record);
    }));

  it("`put()`, `get()`, `scan()` and `compareAndSwap()` keep an envelope record (v2, up to 8,192 characters) exactly", () =>
    withStore(o, async (store, user) => {
      // What a key service's records look like: longer than v1, every part base64url.
      const part = (bytes: number) => Buffer.alloc(bytes, 0xfb).toString("base64url");
      const envelope = (wrapped: number) =>
        ["v2", part(40), part(wrapped), part(12), part(64), part(16)].join(".").slice(0, 8192);
      const record = { ...makeRecord(user()), ciphertext: envelope(6_100) };
      assert.equal(record.ciphertext.length, 8192);
      await store.put(record);
      assert.deepEqual(await store.get(record.userId, "gemini"), record);
      const { records } = await scanAll(store);
      assert.deepEqual(
        records.find((r) => r.userId === record.userId),
        record,
      );
      const next = envelope(300);
      assert.equal(await store.compareAndSwap(record.userId, "gemini", record.ciphertext, next), true);
      assert.equal((await store.get(record.userId, "gemini"))!.ciphertext, next);
    }));

  it("`put()` of an existing key keeps createdAt, clears lastUsedAt and reports replaced", () =>
    withStore(o, async (store, user) => {
      const first = makeRecord(user(), "gemini", earlier(60_000));
      await store.put(first);
      await store.touch?.(first.userId, "gemini", earlier(30_000).toISOString());
      const second = makeRecord(first.userId, "gemini");
      const expected = { ...second, createdAt: first.createdAt };
      assert.deepEqual(await store.put(second), { record: expected, replaced: true });
      assert.deepEqual(await store.get(first.userId, "gemini"), expected);
    }));

  if (o.endpoints !== false)
    it("`put()` keeps a record's `endpoint` and `region` through get, list and scan; a replacing put without them drops them", () =>
      withStore(o, async (store, user) => {
        const record = {
          ...makeRecord(user(), "azure-openai"),
          endpoint: "https://res.openai.azure.com",
          region: "eu-west-1",
        };
        assert.deepEqual(await store.put(record), { record, replaced: false });
        assert.deepEqual(await store.get(record.userId, "azure-openai"), record);
        assert.deepEqual(await store.list(record.userId), [record]);
        assert.deepEqual(
          (await scanAll(store)).records.find((r) => r.userId === record.userId),
          record,
        );
        const replacement = makeRecord(record.userId, "azure-openai");
        await store.put(replacement);
        assert.deepEqual(await store.get(record.userId, "azure-openai"), {
          ...replacement,
          createdAt: record.createdAt,
        });
      }));

  it("`get()` returns undefined when there is no key", () =>
    withStore(o, async (store, user) => {
      const userId = user();
      assert.equal(await store.get(userId, "gemini"), undefined);
      await store.put(makeRecord(userId, "openai"));
      assert.equal(await store.get(userId, "gemini"), undefined);
    }));

  it("`delete()` returns true when it removed a key", () =>
    withStore(o, async (store, user) => {
      const record = makeRecord(user());
      await store.put(record);
      assert.equal(await store.delete(record.userId, record.provider), true);
      assert.equal(await store.get(record.userId, record.provider), undefined);
    }));

  it("`delete()` returns false when there was no key", () =>
    withStore(o, async (store, user) => {
      const record = makeRecord(user());
      assert.equal(await store.delete(record.userId, "gemini"), false);
      await store.put(record);
      await store.delete(record.userId, "gemini");
      assert.equal(await store.delete(record.userId, "gemini"), false);
    }));

  it("`deleteUser()` returns how many keys it removed and leaves other users alone", () =>
    withStore(o, async (store, user) => {
      const [a, b] = [user(), user()];
      for (const provider of ["gemini", "openai", "anthropic"]) await store.put(makeRecord(a, provider));
      const kept = makeRecord(b, "gemini");
      await store.put(kept);
      assert.equal(await store.deleteUser(a), 3);
      assert.deepEqual(await store.list(a), []);
      assert.equal(await store.deleteUser(a), 0);
      assert.deepEqual(await store.list(b), [kept]);
    }));

  it("`deleteUser()` racing `put()`s removes or keeps each record whole, and counts exactly what it removed", () =>
    withStore(o, async (store, user) => {
      const before = ["gemini", "openai", "anthropic"];
      for (let round = 0; round <= 6; round++) {
        const userId = user();
        for (const provider of before) await store.put(makeRecord(userId, provider));
        const replacing = before.map((provider) => makeRecord(userId, provider));
        const adding = ["groq", "mistral", "cohere"].map((provider) => makeRecord(userId, provider));
        const puts = [...replacing, ...adding];
        // Each round starts the delete at another place among the puts.
        const calls: (() => Promise<unknown>)[] = puts.map((r) => () => store.put(r));
        calls.splice(round, 0, () => store.deleteUser(userId));
        const settled = await Promise.all(calls.map((call) => call()));
        const count = settled.splice(round, 1)[0] as number;
        const results = settled as PutResult[];
        const left = await store.list(userId);
        for (const record of left) {
          const i = puts.findIndex((p) => p.provider === record.provider);
          assert.deepEqual(record, results[i]!.record, `${record.provider}: not the record its put() returned`);
        }
        const kept = (provider: string) => left.some((r) => r.provider === provider);
        // A key that existed survives only as a put() made after the delete, which found nothing to replace.
        for (const [i, r] of replacing.entries())
          assert.equal(kept(r.provider), !results[i]!.replaced, `${r.provider}: replaced, yet survived the delete`);
        // It removed every key that existed, plus the new ones put before it.
        assert.equal(count, before.length + adding.filter((r) => !kept(r.provider)).length, `round ${round}`);
      }
    }));

  it("`list()` returns every key of one user and none of another's", () =>
    withStore(o, async (store, user) => {
      const [a, b] = [user(), user()];
      const mine = [makeRecord(a, "gemini"), makeRecord(a, "openai")];
      for (const r of [...mine, makeRecord(b, "anthropic")]) await store.put(r);
      assert.deepEqual(byProvider(await store.list(a)), byProvider(mine));
      assert.deepEqual(await store.list(user()), []);
    }));

  it("`touch()` sets lastUsedAt on an existing key and changes nothing else", () =>
    withStore(o, async (store, user) => {
      if (!store.touch) return; // recommended, not required
      const record = makeRecord(user(), "gemini", earlier(60_000));
      await store.put(record);
      const at = new Date().toISOString();
      await store.touch(record.userId, "gemini", at);
      assert.deepEqual(await store.get(record.userId, "gemini"), { ...record, lastUsedAt: at });
    }));

  it("`touch()` never re-creates a deleted key", () =>
    withStore(o, async (store, user) => {
      if (!store.touch) return;
      const record = makeRecord(user());
      await store.put(record);
      await store.delete(record.userId, "gemini");
      await store.touch(record.userId, "gemini", new Date().toISOString());
      await store.touch(record.userId, "openai", new Date().toISOString());
      assert.equal(await store.get(record.userId, "gemini"), undefined);
      assert.deepEqual(await store.list(record.userId), []);
    }));

  it("concurrent `put()`s to one user keep every provider, each with one whole record", () =>
    withStore(o, async (store, user) => {
      const userId = user();
      const providers = ["gemini", "openai", "anthropic", "groq", "mistral"];
      const writes = providers.flatMap((p) => Array.from({ length: 4 }, () => makeRecord(userId, p)));
      await Promise.all(writes.map((r) => store.put(r)));
      const listed = byProvider(await store.list(userId));
      assert.deepEqual(
        listed.map((r) => r.provider),
        [...providers].sort(),
      );
      for (const record of listed) {
        assert.ok(
          writes.some(
            (w) => w.provider === record.provider && w.ciphertext === record.ciphertext && w.hint === record.hint,
          ),
        );
        assert.deepEqual(await store.get(userId, record.provider), record);
      }
    }));

  it("`list()` keeps many users apart", () =>
    withStore(o, async (store, user) => {
      const records = Array.from({ length: 40 }, (_, i) =>
        makeRecord(user(), ["gemini", "openai", "anthropic"][i % 3]),
      );
      await Promise.all(records.map((r) => store.put(r)));
      const lists = await Promise.all(records.map((r) => store.list(r.userId)));
      lists.forEach((list, i) => assert.deepEqual(list, [records[i]]));
    }));

  it("keeps owners apart whatever their ids (`:`, `{}`, `*`, `%`, Unicode, 256 characters, prefixes, encoded-looking, team owner ids)", () =>
    withStore(o, async (store, user) => {
      const records = oddUserIds().map((id) => makeRecord(user(id)));
      for (const r of records) await store.put(r);
      for (const r of records) {
        assert.deepEqual(await store.get(r.userId, "gemini"), r);
        assert.deepEqual(await store.list(r.userId), [r]);
      }
      const seen = (await scanAll(store)).records.filter((s) => records.some((r) => r.userId === s.userId));
      assert.deepEqual(new Set(seen.map((s) => s.ciphertext)), new Set(records.map((r) => r.ciphertext)));
      for (const s of seen)
        assert.deepEqual(
          s,
          records.find((r) => r.userId === s.userId),
        );
      assert.equal(await store.deleteUser(records[0]!.userId), 1);
      for (const r of records.slice(1)) assert.deepEqual(await store.get(r.userId, "gemini"), r);
    }));
}
