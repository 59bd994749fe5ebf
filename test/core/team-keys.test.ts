// Team keys through the public API: owner checks, key choice, rotation and verify, and records that can never change owner.
import { BYOK, ByokError, type ByokEvent, MemoryStore, PostgresStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeUpstream, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

const TEAM_KEY = "AIza-team-key-000001";
const MARK = "\uFFFFteam:";

let fakes: Awaited<ReturnType<typeof startFakeProviders>>;
let fake: FakeUpstream;
beforeAll(async () => {
  fakes = await startFakeProviders();
  fake = fakes.gemini;
});
afterAll(() => fakes.close());
beforeEach(() => fake.reset());

const byokOn = (store: KeyStore, events: ByokEvent[] = [], masterKey: string | Buffer = TEST_MASTER_KEY) =>
  new BYOK({ masterKey, store, providers: fakes.providers, onEvent: (e) => events.push(e) });

describe("team keys in the core", () => {
  it("registers, lists, uses, deletes a team's key, and deleteTeam removes them all", async () => {
    const events: ByokEvent[] = [];
    const byok = byokOn(new MemoryStore(), events);
    const info = await byok.registerKey({ teamId: "acme", provider: "gemini", apiKey: TEAM_KEY, actorId: "admin" });
    expect([info.owner, info.replaced]).toEqual(["team", false]);
    await byok.registerKey({ teamId: "acme", provider: "openai", apiKey: "sk-team-openai-01", validate: false });
    expect((await byok.listKeys({ teamId: "acme" })).map((k) => [k.provider, k.owner])).toEqual([
      ["gemini", "team"],
      ["openai", "team"],
    ]);
    expect(await byok.listKeys("acme")).toEqual([]); // a user named like the team has nothing
    const ai = byok.use("member", { teamId: "acme" });
    expect(await ai.has("gemini")).toBe(true);
    expect((await ai.keys()).map((k) => k.owner)).toEqual(["team", "team"]);
    expect((await ai.chat({ prompt: "hi", provider: "gemini" })).text).toBe("Echo: hi");
    expect(fake.requests.at(-1)!.apiKey).toBe(TEAM_KEY);
    expect(await byok.use("member").has("gemini")).toBe(false);
    expect(await byok.deleteKey({ teamId: "acme", provider: "openai", actorId: "admin" })).toBe(true);
    expect(await byok.deleteTeam("acme")).toBe(1);
    expect(await byok.listKeys({ teamId: "acme" })).toEqual([]);
    expect(events.filter((e) => e.teamId === "acme").map((e) => [e.type, e.userId])).toEqual([
      ["key.registered", "admin"],
      ["key.registered", ""],
      ["chat.completed", "member"],
      ["key.deleted", "admin"],
      ["key.deleted", ""],
    ]);
  });

  it("checks its owners: exactly one of userId and teamId; no NUL, lone surrogate or U+FFFF in either", async () => {
    const byok = byokOn(new MemoryStore());
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "stored",
        (e: unknown) => (ByokError.is(e) ? e.code : e),
      );
    const both = { userId: "u", teamId: "t", provider: "gemini", apiKey: TEAM_KEY } as never;
    const neither = { provider: "gemini", apiKey: TEAM_KEY } as never;
    expect(await codeOf(byok.registerKey(both))).toBe("INVALID_REQUEST");
    expect(await codeOf(byok.registerKey(neither))).toBe("INVALID_REQUEST");
    for (const id of ["a\u0000b", "a\uD800b", `${MARK}acme`, "x\uFFFF", ""]) {
      expect(await codeOf(byok.registerKey({ teamId: id, provider: "gemini", apiKey: TEAM_KEY }))).toBe(
        "INVALID_REQUEST",
      );
      expect(await codeOf(byok.registerKey({ userId: id, provider: "gemini", apiKey: TEAM_KEY }))).toBe(
        "INVALID_REQUEST",
      );
    }
    expect(() => byok.use("u", { teamId: `${MARK}x` })).toThrow(/teamId must be well-formed Unicode/);
    for (const id of ["a:b", "{a}", "}{", "team:acme"])
      expect(
        await codeOf(byok.registerKey({ teamId: id, provider: "gemini", apiKey: TEAM_KEY, validate: false })),
      ).toBe("stored");
  });

  it("rotates team keys with the users' and verify names an unreadable team record by its team", async () => {
    const store = new MemoryStore();
    const old = byokOn(store, [], Buffer.alloc(32, 5));
    await old.registerKey({ teamId: "acme", provider: "gemini", apiKey: TEAM_KEY, validate: false });
    await old.registerKey({ userId: "acme", provider: "gemini", apiKey: "AIza-user-acme-01", validate: false });
    const next = new BYOK({ masterKey: TEST_MASTER_KEY, previousMasterKeys: [Buffer.alloc(32, 5)], store });
    expect(await next.rotate()).toEqual({ scanned: 2, rotated: 2, skipped: 0, failed: 0 });
    const stranger = byokOn(store, [], Buffer.alloc(32, 9));
    await stranger.registerKey({ teamId: "globex", provider: "gemini", apiKey: TEAM_KEY, validate: false });
    const report = await next.verify();
    expect(report.scanned).toBe(3);
    expect(report.unreadable).toEqual([{ teamId: "globex", provider: "gemini", keyId: expect.any(String) }]);
  });
});

describe.each([
  ["RedisStore", () => new RedisStore({ url: REDIS_URL, prefix: `${uniqueName("team")}:` })],
  [
    "PostgresStore",
    async () => {
      const store = new PostgresStore({ connectionString: DATABASE_URL, table: uniqueName("team") });
      await store.migrate();
      return store;
    },
  ],
] as const)("a record moved between a team and a user on %s", (_name, create) => {
  let store: KeyStore;
  beforeEach(async () => {
    store = await create();
  });
  afterEach(async () => {
    for (const owner of ["acme", `${MARK}acme`, "bob"]) await store.deleteUser(owner);
    await store.close?.();
  });

  it("is KEY_UNREADABLE either way, and nothing is sent upstream", async () => {
    const byok = byokOn(store);
    await byok.registerKey({ teamId: "acme", provider: "gemini", apiKey: TEAM_KEY, validate: false });
    await byok.registerKey({ userId: "bob", provider: "gemini", apiKey: "AIza-bob-own-key-1", validate: false });
    const team = (await store.get(`${MARK}acme`, "gemini"))!;
    const bob = (await store.get("bob", "gemini"))!;
    // The team's record written into the slot of a user named like the team, and bob's into the team's.
    await store.put({ ...team, userId: "acme" });
    await store.put({ ...bob, userId: `${MARK}acme` });
    await store.delete("bob", "gemini");
    fake.reset();
    for (const [userId, teamId] of [
      ["acme", undefined],
      ["bob", "acme"],
    ] as const) {
      const error = await byok
        .use(userId, teamId === undefined ? {} : { teamId })
        .chat({ prompt: "x", provider: "gemini" })
        .catch((e: unknown) => e);
      expect(ByokError.is(error) && error.code).toBe("KEY_UNREADABLE");
    }
    expect((await byok.listKeys({ teamId: "acme" }))[0]!.status).toBe("unreadable");
    expect((await byok.listKeys("acme"))[0]!.status).toBe("unreadable");
    expect(fake.requests).toEqual([]);
  });
});
