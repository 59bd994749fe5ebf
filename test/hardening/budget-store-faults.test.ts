// A reserve answered STORE_UNAVAILABLE never locks the budget: what the store may still record (a hung Redis runs the
// script once it resumes, a lost answer after the write) is released, on a private redis-server and on a custom store.
import { BYOK, ByokError, MemoryStore, RedisStore } from "../../lib";
import type { BudgetCounter } from "../../lib/extend";
import { type FakeUpstream, startFakeGemini } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { freePort, type RedisProcess, startRedisServer } from "../helpers/redis-server";
import { uniqueName } from "../helpers/services";

const KEY = "AIza-budget-fault-key-0000";
/** One call reserves ceil(2 / 3) + 8 + 3000 tokens: one fits in the budget, two do not. */
const CALL = { prompt: "hi", maxTokens: 3000 };
const BUDGETS = { user: { tokensPerDay: 5000 } };

const codeOf = (error: unknown) => (ByokError.is(error) ? error.code : error);

let fake: FakeUpstream;
beforeAll(async () => (fake = await startFakeGemini()));
afterAll(() => fake.close());

describe("budgets on RedisStore when Redis hangs (SIGSTOP) during a reserve", () => {
  let redis: RedisProcess;
  beforeAll(async () => (redis = await startRedisServer(await freePort())));
  afterAll(async () => {
    redis.signal("SIGCONT");
    await redis.kill();
  });

  it("answers STORE_UNAVAILABLE, then serves the next call that fits once Redis resumes", async () => {
    let stopAtReserve = false;
    /** Hangs Redis just before a reserve is sent: the key was read, the reserve script waits in the socket. */
    class StoppingStore extends RedisStore {
      override reserve(...args: Parameters<RedisStore["reserve"]>): ReturnType<RedisStore["reserve"]> {
        if (stopAtReserve) redis.signal("SIGSTOP");
        stopAtReserve = false;
        return super.reserve(...args);
      }
    }
    const store = new StoppingStore({ url: `redis://127.0.0.1:${redis.port}`, prefix: `${uniqueName("bfault")}:` });
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: { gemini: { baseUrl: fake.url } },
      budgets: BUDGETS,
    });
    try {
      await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: KEY, validate: false });
      const ai = byok.use("u1");
      stopAtReserve = true;
      try {
        // The reserve script is written to the connection and runs when Redis resumes, after its caller was answered.
        expect(codeOf(await ai.chat(CALL).catch((e: unknown) => e))).toBe("STORE_UNAVAILABLE");
      } finally {
        redis.signal("SIGCONT");
      }
      await expect(ai.chat(CALL)).resolves.toMatchObject({ text: expect.any(String) });
      await expect(ai.chat(CALL)).resolves.toMatchObject({ text: expect.any(String) });
    } finally {
      await byok.close();
    }
  });
});

/** A store whose next reserve records the reservation and then loses its answer, and whose releases can fail. */
class LosingStore extends MemoryStore {
  loseNextReserve = false;
  failingSettles = 0;
  settles = 0;
  override async reserve(
    ownerId: string,
    id: string,
    tokens: number,
    counters: readonly BudgetCounter[],
    ttlMs: number,
  ): ReturnType<MemoryStore["reserve"]> {
    const refusal = await super.reserve(ownerId, id, tokens, counters, ttlMs);
    if (!this.loseNextReserve) return refusal;
    this.loseNextReserve = false;
    throw new Error("connection reset");
  }
  override async settle(ownerId: string, id: string, tokens: number, counters: readonly BudgetCounter[]) {
    this.settles++;
    if (this.failingSettles > 0) {
      this.failingSettles--;
      throw new Error("connection reset");
    }
    return super.settle(ownerId, id, tokens, counters);
  }
}

describe("budgets on a store that loses a reserve's answer", () => {
  it("releases the lost reservation, and retries that release before the owner's next reserve when it failed", async () => {
    const store = new LosingStore();
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: { gemini: { baseUrl: fake.url } },
      budgets: BUDGETS,
    });
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: KEY, validate: false });
    const ai = byok.use("u1");

    store.loseNextReserve = true;
    store.failingSettles = 2; // the release right after the failure, and the first retry
    expect(codeOf(await ai.chat(CALL).catch((e: unknown) => e))).toBe("STORE_UNAVAILABLE");
    // The retry before this reserve fails too: the reservation still holds, so this call does not fit.
    expect(codeOf(await ai.chat(CALL).catch((e: unknown) => e))).toBe("BUDGET_EXCEEDED");
    // The next retry succeeds: the call fits, and the released reservation is not released again.
    await expect(ai.chat(CALL)).resolves.toMatchObject({ text: expect.any(String) });
    const settles = store.settles;
    await expect(ai.chat(CALL)).resolves.toMatchObject({ text: expect.any(String) });
    expect(store.settles).toBe(settles + 1); // only the call's own settle
    await byok.close();
  });

  it("releases a lost reservation of another owner only before that owner's reserve", async () => {
    const store = new LosingStore();
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: { gemini: { baseUrl: fake.url } },
      budgets: BUDGETS,
    });
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: KEY, validate: false });
    await byok.registerKey({ userId: "u2", provider: "gemini", apiKey: KEY, validate: false });
    store.loseNextReserve = true;
    store.failingSettles = 1;
    expect(
      codeOf(
        await byok
          .use("u1")
          .chat(CALL)
          .catch((e: unknown) => e),
      ),
    ).toBe("STORE_UNAVAILABLE");
    const settles = store.settles;
    await byok.use("u2").chat(CALL);
    expect(store.settles).toBe(settles + 1); // u2's own settle, not u1's release
    await expect(byok.use("u1").chat(CALL)).resolves.toMatchObject({ text: expect.any(String) });
    await byok.close();
  });
});
