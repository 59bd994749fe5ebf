// Usage and budgets through the public API, on every store: counts match the fake upstream's, budgets never overrun.
import { BYOK, ByokError, type ByokEvent, type Budgets, MemoryStore, type UsageRow } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { concurrentChats } from "../helpers/concurrent-chats";
import { waitFor } from "../helpers/wait-for";
import { storeKinds } from "../helpers/store-kinds";
import { uniqueName } from "../helpers/services";

const KEY = "sk-usage-test-key-0001";
const TEAM_KEY = "sk-usage-team-key-0001";

let fakes: FakeProviders;
beforeAll(async () => (fakes = await startFakeProviders()));
afterAll(() => fakes.close());
beforeEach(() => fakes.openai.reset());

/** The chats the fake OpenAI answered (validation calls left out). */
const served = () => fakes.openai.requests.filter((r) => r.op === "chat" || r.op === "stream");

/** Usage rows without the day, in a stable order. */
const totals = (rows: UsageRow[]) =>
  rows.map(({ provider, model, userId, teamId, requests, inputTokens, outputTokens, estimated }) => ({
    provider,
    model,
    userId,
    ...(teamId === undefined ? {} : { teamId }),
    requests,
    inputTokens,
    outputTokens,
    estimated,
  }));

describe.each(storeKinds())("usage and budgets on $name", ({ make }) => {
  let stores: KeyStore[] = [];
  let name = "";
  beforeEach(() => (name = uniqueName("usage")));
  /** A store on this test's namespace: two of them are two app instances sharing one backend. */
  const open = async (): Promise<KeyStore> => {
    const store = await make(name);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close?.()));
    stores = [];
  });
  const byokOn = (store: KeyStore, options: { budgets?: Budgets; events?: ByokEvent[] } = {}) =>
    new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: fakes.providers,
      defaultProvider: "openai",
      budgets: options.budgets,
      onEvent: (e) => options.events?.push(e),
    });

  it("counts chats, streams and a stream cut short per day, provider, model, user and team", async () => {
    const byok = byokOn(await open());
    await byok.registerKey({ userId: "ann", provider: "openai", apiKey: KEY, validate: false });
    await byok.registerKey({ teamId: "acme", provider: "anthropic", apiKey: TEAM_KEY, validate: false });
    const ai = byok.use("ann", { teamId: "acme" });
    fakes.openai.enqueue(
      { usage: { inputTokens: 11, outputTokens: 7 } },
      { usage: { inputTokens: 5, outputTokens: 3 } },
    );
    await ai.chat({ prompt: "one", model: "gpt-a" });
    for await (const _ of ai.stream({ prompt: "two", model: "gpt-a" }));
    // A stream the client leaves after its first chunk, before the provider reported usage: counted from its reservation.
    fakes.openai.enqueue({ chunks: ["a ", "b ", "c"], chunkDelayMs: 20 });
    for await (const _ of ai.stream({ prompt: "three", model: "gpt-b", maxTokens: 50 })) break;
    fakes.anthropic.enqueue({ usage: { inputTokens: 2, outputTokens: 4 } });
    await ai.chat({ prompt: "team", provider: "anthropic", model: "claude-x" });

    const expected = [
      {
        provider: "anthropic",
        model: "claude-x",
        userId: "ann",
        teamId: "acme",
        requests: 1,
        inputTokens: 2,
        outputTokens: 4,
        estimated: false,
      },
      {
        provider: "openai",
        model: "gpt-a",
        userId: "ann",
        requests: 2,
        inputTokens: 16,
        outputTokens: 10,
        estimated: false,
      },
      // "three": 5 characters → ceil(5 / 3) + 8 estimated input tokens; the output reserved was maxTokens.
      {
        provider: "openai",
        model: "gpt-b",
        userId: "ann",
        requests: 1,
        inputTokens: 10,
        outputTokens: 50,
        estimated: true,
      },
    ];
    await waitFor(
      async () => (await ai.usage()).length === 3 && (await byok.usage({ teamId: "acme" })).length === 1,
      "the usage rows, written after each call without being awaited",
    );
    expect(totals(await ai.usage())).toEqual(expected);
    expect(totals(await byok.usage({ userId: "ann" }))).toEqual(expected);
    expect(totals(await byok.usage({ teamId: "acme" }))).toEqual([expected[0]]);
    expect(totals(await byok.usage({ userId: "ann", teamId: "acme" }))).toEqual([expected[0]]);
    expect(await byok.usage({ userId: "bob" })).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    expect((await ai.usage({ from: today, to: today })).every((r) => r.day === today)).toBe(true);
    expect(await ai.usage({ to: "2000-01-31" })).toEqual([]);
  });

  it("refuses a call that would exceed the budget before anything is sent, with Retry-After at midnight UTC", async () => {
    const events: ByokEvent[] = [];
    const byok = byokOn(await open(), { budgets: { user: { tokensPerDay: 100 } }, events });
    await byok.registerKey({ userId: "ann", provider: "openai", apiKey: KEY, validate: false });
    const ai = byok.use("ann");
    fakes.openai.enqueue({ usage: { inputTokens: 30, outputTokens: 30 } });
    await ai.chat({ prompt: "hi", maxTokens: 40 }); // reserves 9 + 40, spends 60
    // Refused whether the first call's settle (not awaited) has landed or not: 60 spent or 49 reserved, plus 69.
    const error = await ai.chat({ prompt: "hi", maxTokens: 60 }).catch((e: unknown) => e);
    expect(ByokError.is(error) && [error.code, error.status]).toEqual(["BUDGET_EXCEEDED", 429]);
    const untilMidnight =
      (Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1) - Date.now()) /
      1000;
    expect(Math.abs((error as ByokError).retryAfter! - untilMidnight)).toBeLessThan(600);
    expect((error as ByokError).details).toEqual({
      scope: "user",
      period: "day",
      unit: "tokens",
      limit: 100,
      used: expect.any(Number),
      requested: 69,
    });
    expect([49, 60]).toContain((error as ByokError).details!.used);
    expect(served()).toHaveLength(1);
    expect(events.map((e) => e.type === "chat.failed" && e.code).filter(Boolean)).toEqual(["BUDGET_EXCEEDED"]);
    await ai.chat({ prompt: "hi", maxTokens: 20 }); // 9 + 20 still fits beside 60
    expect(served()).toHaveLength(2);
    // Another user's budget is their own.
    await byok.registerKey({ userId: "bob", provider: "openai", apiKey: KEY, validate: false });
    await byok.use("bob").chat({ prompt: "hi", maxTokens: 40 });
  });

  it("refuses a call larger than the whole budget as request_exceeds_budget, with no retryAfter", async () => {
    const events: ByokEvent[] = [];
    const byok = byokOn(await open(), { budgets: { user: { tokensPerDay: 600, tokensPerMonth: 5000 } }, events });
    await byok.registerKey({ userId: "ann", provider: "openai", apiKey: KEY, validate: false });
    const ai = byok.use("ann");
    // No maxTokens: the call reserves 9 + 4,096, more than the day allows however long it waits.
    const error = await ai.chat({ prompt: "hi" }).catch((e: unknown) => e);
    expect(ByokError.is(error) && [error.code, error.status, error.retryAfter]).toEqual([
      "BUDGET_EXCEEDED",
      429,
      undefined,
    ]);
    expect((error as ByokError).details).toEqual({
      scope: "user",
      period: "day",
      unit: "tokens",
      limit: 600,
      requested: 4105,
      reason: "request_exceeds_budget",
    });
    expect((error as ByokError).message).toMatch(/lower maxTokens/);
    expect(served()).toEqual([]);
    expect(events.map((e) => e.type === "chat.failed" && e.code).filter(Boolean)).toEqual(["BUDGET_EXCEEDED"]);
    // The same call with a maxTokens that fits is served: the refusal reserved nothing.
    await ai.chat({ prompt: "hi", maxTokens: 500 });
    expect(served()).toHaveLength(1);
  });

  it("counts a team key for all members together and each member's share", async () => {
    const byok = byokOn(await open(), { budgets: { team: { tokensPerDay: 60 }, member: { tokensPerDay: 40 } } });
    await byok.registerKey({ teamId: "acme", provider: "openai", apiKey: TEAM_KEY, validate: false });
    const call = (userId: string) =>
      byok
        .use(userId, { teamId: "acme" })
        .chat({ prompt: "hi", maxTokens: 11 }) // reserves 20
        .then(
          () => "ok",
          (e: unknown) => (ByokError.is(e) ? `${e.code} (${String(e.details?.scope)})` : e),
        );
    fakes.openai.enqueue(...Array.from({ length: 4 }, () => ({ usage: { inputTokens: 10, outputTokens: 10 } })));
    const refused = (scope: string) => `BUDGET_EXCEEDED (${scope})`;
    expect([await call("ann"), await call("ann"), await call("ann")]).toEqual(["ok", "ok", refused("member")]);
    expect([await call("bob"), await call("bob")]).toEqual(["ok", refused("team")]); // the team's 60 is spent
  });

  it("200 concurrent chats through two instances against a budget that fits 20 spend at most the budget", async () => {
    const budget = { user: { tokensPerDay: 20 * 20 } };
    const [a, b] = [byokOn(await open(), { budgets: budget }), byokOn(await open(), { budgets: budget })];
    await a.registerKey({ userId: "ann", provider: "openai", apiKey: KEY, validate: false });
    // Each chat reserves ceil(2 / 3) + 8 + 11 = 20 tokens and the fake charges exactly that.
    fakes.openai.enqueue(...Array.from({ length: 200 }, () => ({ usage: { inputTokens: 9, outputTokens: 11 } })));
    const outcomes = await concurrentChats([a, b], "ann");
    const spent = served().length * 20;
    expect(spent).toBeLessThanOrEqual(400);
    expect(outcomes.filter((o) => o === 20)).toHaveLength(served().length);
    expect(outcomes.filter((o) => o !== 20).every((o) => o === "BUDGET_EXCEEDED")).toBe(true);
    expect(served().length).toBe(20); // nothing was refused that fit
  });

  it("releases the reservation of a call that failed, and starts over when the day turns (injected clock)", async () => {
    const start = Date.UTC(2031, 0, 31, 23, 59, 0);
    jest.useFakeTimers({ now: start, doNotFake: [...NOT_DATE] });
    try {
      const byok = byokOn(await open(), { budgets: { user: { tokensPerDay: 50, tokensPerMonth: 1000 } } });
      await byok.registerKey({ userId: "ann", provider: "openai", apiKey: KEY, validate: false });
      const ai = byok.use("ann");
      fakes.openai.enqueue({ status: 500 }, { usage: { inputTokens: 20, outputTokens: 20 } });
      await expect(ai.chat({ prompt: "hi", maxTokens: 30 })).rejects.toMatchObject({ code: "PROVIDER_ERROR" });
      await ai.chat({ prompt: "hi", maxTokens: 30 }); // fits: the failed call's 39 were released
      const error = await ai.chat({ prompt: "hi", maxTokens: 30 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "BUDGET_EXCEEDED", retryAfter: 60 });
      jest.setSystemTime(start + 60_000); // February 1st: a new day and a new month
      await ai.chat({ prompt: "hi", maxTokens: 30 });
      expect(served()).toHaveLength(3);
    } finally {
      jest.useRealTimers();
    }
  });
});

/** Everything but Date: the stores' clients, timers and the fakes run on real time. */
const NOT_DATE = [
  "hrtime",
  "nextTick",
  "performance",
  "queueMicrotask",
  "setImmediate",
  "clearImmediate",
  "setInterval",
  "clearInterval",
  "setTimeout",
  "clearTimeout",
] as const;

describe("usage and budget options", () => {
  it("are CONFIG_INVALID without their capability, naming it, and usage is off by default there", () => {
    const { addUsage, readUsage, reserve, settle, ...plain } = Object.getOwnPropertyDescriptors(MemoryStore.prototype);
    void [addUsage, readUsage, reserve, settle];
    // A 0.1-style KeyStore without the optional methods, and stores given by capability without usage and budgets.
    const bare = Object.create(Object.prototype, plain) as KeyStore;
    const memory = new MemoryStore();
    for (const store of [bare, { keys: memory, once: memory.once }]) {
      const make = (extra: object) => () => new BYOK({ masterKey: TEST_MASTER_KEY, store, ...extra });
      expect(make({})).not.toThrow();
      expect(make({}).call(null).stores.usage).toBeUndefined();
      expect(make({ usage: { retentionDays: 7 } })).toThrow(/usage: there is no store\.usage \(usage capability\)/);
      expect(make({ budgets: { user: { tokensPerDay: 1 } } })).toThrow(
        /budgets: there is no store\.budgets \(budgets capability\).*MemoryStore, RedisStore and PostgresStore/,
      );
    }
    expect(() => new BYOK({ masterKey: TEST_MASTER_KEY, budgets: { user: { tokensPerDai: 1 } } as never })).toThrow(
      /Did you mean `tokensPerDay`/,
    );
    expect(() => new BYOK({ masterKey: TEST_MASTER_KEY, usage: { retentionDays: 0 } })).toThrow(/retentionDays/);
  });

  it("ai.usage() on a BYOK with usage off is CONFIG_INVALID, and bad ranges are INVALID_REQUEST naming the field", async () => {
    const off = new BYOK({ masterKey: TEST_MASTER_KEY, usage: false });
    await expect(off.use("ann").usage()).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    const on = new BYOK({ masterKey: TEST_MASTER_KEY });
    for (const [range, fields] of [
      [{ from: "2026-02-30" }, ["from"]],
      [{ to: "yesterday" }, ["to"]],
      [{ from: "2026-03-02", to: "2026-03-01" }, ["from", "to"]],
      [{ from: "2020-01-01", to: "2026-01-01" }, ["from", "to"]],
    ] as const)
      await expect(on.use("ann").usage(range)).rejects.toMatchObject({ code: "INVALID_REQUEST", details: { fields } });
    await expect(on.usage({})).rejects.toMatchObject({ code: "INVALID_REQUEST" });
  });
});
