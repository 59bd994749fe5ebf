// Costs in dollars: each call priced from the price table (or pricing.prices, or the provider's own figure), in whole
// micro-dollars, on every built-in provider's chats, streams and connection() requests.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { calcPrice } from "@pydantic/genai-prices";
import { BYOK, ByokError, type ByokEvent, type ChatResponse, MemoryStore, type Usage } from "../../lib";
import type { Provider } from "../../lib/extend";
import { parsePricing, type PricedCall } from "../../lib/core/pricing";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

const NOW = Date.UTC(2026, 11, 8);
const PROVIDERS = ["openai", "anthropic", "gemini", "openrouter", "azure-openai"];
const prices = parsePricing(undefined, PROVIDERS);

const usage = (parts: Partial<Usage> & Pick<Usage, "inputTokens" | "outputTokens">): Usage => ({
  totalTokens: parts.inputTokens + parts.outputTokens,
  ...parts,
});

/**
 * The independent computation: the table's prices for the model (as the table itself chooses them for the date and
 * the input size), times each part of the usage, in BigInt pico-dollars, rounded half up to micro-dollars once.
 */
function expectedMicroUsd(providerId: string, model: string, u: Usage, at = NOW): number {
  const found = calcPrice({ input_tokens: u.inputTokens, output_tokens: u.outputTokens }, model, {
    providerId,
    timestamp: new Date(at),
  });
  if (!found) throw new Error(`no table price for ${providerId}:${model}`);
  const price = (key: string): number | undefined => {
    const value = found.model_price[key];
    if (value === undefined || typeof value === "number") return value;
    return value.tiers.filter((t) => u.inputTokens > t.start).reduce((p, t) => t.price, value.base);
  };
  const pico = (perMTok: number) => BigInt(Math.round(perMTok * 1e6));
  const input = price("input_mtok")!;
  const cached = BigInt(u.cachedInputTokens ?? 0);
  const written = BigInt(u.cacheWriteTokens ?? 0);
  const uncached = BigInt(u.inputTokens) - cached - written;
  const sum =
    uncached * pico(input) +
    cached * pico(price("cache_read_mtok") ?? input) +
    written * pico(price("cache_write_mtok") ?? input) +
    BigInt(u.outputTokens) * pico(price("output_mtok")!);
  return Number((sum + 500_000n) / 1_000_000n);
}

/** What the table's own calculation says, in dollars (floating point), to check the sum against it too. */
function tableTotal(providerId: string, model: string, u: Usage, at = NOW): number {
  return calcPrice(
    {
      input_tokens: u.inputTokens,
      cache_read_tokens: u.cachedInputTokens ?? 0,
      cache_write_tokens: u.cacheWriteTokens ?? 0,
      output_tokens: u.outputTokens,
    },
    model,
    { providerId, timestamp: new Date(at) },
  )!.total_price;
}

const call = (provider: string, providerId: string | undefined, model: string, u: Usage, at = NOW): PricedCall => ({
  provider,
  ...(providerId ? { table: { providerId } } : {}),
  model,
  usage: u,
  at,
});

describe("prices from the table", () => {
  const cases: [string, string, string, Usage][] = [
    ["openai", "openai", "gpt-4o", usage({ inputTokens: 12_345, cachedInputTokens: 4_096, outputTokens: 777 })],
    [
      "openai",
      "openai",
      "o3-mini",
      usage({ inputTokens: 2_000, cachedInputTokens: 0, outputTokens: 5_000, reasoningTokens: 4_200 }),
    ],
    [
      "anthropic",
      "anthropic",
      "claude-haiku-4-5",
      usage({ inputTokens: 10_000, cachedInputTokens: 6_000, cacheWriteTokens: 3_000, outputTokens: 1_234 }),
    ],
    [
      "anthropic",
      "anthropic",
      "claude-sonnet-4-5",
      usage({ inputTokens: 250_000, cachedInputTokens: 200_000, cacheWriteTokens: 10_000, outputTokens: 3_000 }),
    ],
    [
      "gemini",
      "google",
      "gemini-2.5-flash",
      usage({ inputTokens: 5_000, cachedInputTokens: 2_000, outputTokens: 3_000, reasoningTokens: 2_000 }),
    ],
    [
      "gemini",
      "google",
      "gemini-2.5-pro",
      usage({ inputTokens: 300_000, outputTokens: 9_000, reasoningTokens: 8_000 }),
    ],
    ["azure-openai", "azure", "gpt-4o-mini-2024-07-18", usage({ inputTokens: 1_000, outputTokens: 100 })],
    ["openrouter", "openrouter", "openai/gpt-4o-mini", usage({ inputTokens: 3_000, outputTokens: 300 })],
  ];

  it.each(cases)(
    "%s %s %s: equals the table's prices times each part, and the table's own sum",
    (id, table, model, u) => {
      const cost = prices.cost(call(id, table, model, u))!;
      expect(cost).toEqual({ microUsd: expectedMicroUsd(table, model, u), source: "table", version: prices.version });
      expect(cost.microUsd).toBeGreaterThan(0);
      expect(Math.abs(cost.microUsd / 1e6 - tableTotal(table, model, u))).toBeLessThanOrEqual(0.5e-6 + 1e-12);
    },
  );

  it("names the table's version, so an audit can replay a price", () => {
    const main = require.resolve("@pydantic/genai-prices");
    const { version } = JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8")) as {
      version: string;
    };
    expect(prices.version).toBe(`@pydantic/genai-prices@${version}`);
  });

  it("prices cache reads below input, and counts reasoning as output", () => {
    const plain = prices.cost(call("openai", "openai", "gpt-4o", usage({ inputTokens: 1_000_000, outputTokens: 0 })))!;
    const cached = prices.cost(
      call(
        "openai",
        "openai",
        "gpt-4o",
        usage({ inputTokens: 1_000_000, cachedInputTokens: 1_000_000, outputTokens: 0 }),
      ),
    )!;
    expect(plain.microUsd).toBe(2_500_000); // $2.50 per million input tokens
    expect(cached.microUsd).toBe(1_250_000); // $1.25 per million cached
    const reasoning = usage({ inputTokens: 0, outputTokens: 1_000_000, reasoningTokens: 900_000 });
    expect(prices.cost(call("openai", "openai", "gpt-4o", reasoning))!.microUsd).toBe(10_000_000);
  });

  it("uses the price of the call's date", () => {
    // Claude Sonnet 4.6 had a long-context tier until 2026-03-13, then one flat price.
    const long = usage({ inputTokens: 300_000, outputTokens: 0 });
    const before = prices.cost(call("anthropic", "anthropic", "claude-sonnet-4-6", long, Date.UTC(2026, 0, 1)))!;
    const after = prices.cost(call("anthropic", "anthropic", "claude-sonnet-4-6", long, Date.UTC(2026, 5, 1)))!;
    expect(before.microUsd).toBe(300_000 * 6);
    expect(after.microUsd).toBe(300_000 * 3);
  });

  it("answers undefined for a model the table does not know, or a provider without a table id", () => {
    expect(prices.cost(call("openai", "openai", "my-fine-tune-xyz", usage({ inputTokens: 1, outputTokens: 1 })))).toBe(
      undefined,
    );
    expect(prices.cost(call("local", undefined, "gpt-4o", usage({ inputTokens: 1, outputTokens: 1 })))).toBe(undefined);
    expect(prices.cost(call("openai", "no-such-table-id", "gpt-4o", usage({ inputTokens: 1, outputTokens: 1 })))).toBe(
      undefined,
    );
  });
});

describe("pricing.prices overrides", () => {
  const overrides = parsePricing(
    {
      prices: {
        "openai:gpt-4o": { inputPerMTok: 1, outputPerMTok: 2 },
        "openai:gpt-4o*": { inputPerMTok: 7, outputPerMTok: 7 },
        "*:gpt-4o*": { inputPerMTok: 9, outputPerMTok: 9 },
        "azure-openai:*": { inputPerMTok: 0.5, outputPerMTok: 1.5, cachedInputPerMTok: 0.25 },
        "anthropic:claude-haiku-4-5": {
          inputPerMTok: 1,
          outputPerMTok: 5,
          cachedInputPerMTok: 0.1,
          cacheWritePerMTok: 2,
        },
      },
    },
    PROVIDERS,
  );
  const million = usage({ inputTokens: 1_000_000, outputTokens: 1_000_000 });

  it("an exact key beats a wildcard one, the most specific wildcard wins, and both beat the table", () => {
    expect(overrides.cost(call("openai", "openai", "gpt-4o", million))).toEqual({
      microUsd: 3_000_000,
      source: "override",
    });
    expect(overrides.cost(call("openai", "openai", "gpt-4o-mini", million))!.microUsd).toBe(14_000_000);
    expect(overrides.cost(call("openrouter", "openrouter", "gpt-4o-mini", million))!.microUsd).toBe(18_000_000);
    expect(overrides.cost(call("openai", "openai", "o3-mini", million))!.source).toBe("table");
  });

  it("prices cache reads and writes at their own rates, defaulting to the input price", () => {
    const u = usage({ inputTokens: 1_000_000, cachedInputTokens: 400_000, cacheWriteTokens: 100_000, outputTokens: 0 });
    // 500k uncached × $1 + 400k read × $0.10 + 100k written × $2
    expect(overrides.cost(call("anthropic", "anthropic", "claude-haiku-4-5", u))!.microUsd).toBe(740_000);
    // Azure: 500k uncached + 100k written (no write price: input's) × $0.50 + 400k read × $0.25
    expect(overrides.cost(call("azure-openai", "azure", "my-deployment", u))!.microUsd).toBe(400_000);
  });

  it("a provider's own figure wins over every price", () => {
    const stated = usage({ inputTokens: 1_000_000, outputTokens: 0, costUsd: 0.0000125 });
    expect(overrides.cost(call("openai", "openai", "gpt-4o", stated))).toEqual({ microUsd: 13, source: "provider" });
  });

  it.each([
    [{ prices: { "gpt-4o": { inputPerMTok: 1, outputPerMTok: 1 } } }, /"provider:model"/],
    [{ prices: { "opneai:gpt-4o": { inputPerMTok: 1, outputPerMTok: 1 } } }, /not a configured provider/],
    [{ prices: { "openai:gpt-4o": { inputPerMTok: -1, outputPerMTok: 1 } } }, /inputPerMTok must be a number/],
    [{ prices: { "openai:gpt-4o": { inputPerMTok: 1 } } }, /outputPerMTok must be a number/],
    [{ prices: { "openai:gpt-4o": { inputPerMTok: 1, outputPerMTok: "2" } } }, /outputPerMTok must be a number/],
    [{ prices: { "openai:gpt-4o": { inputPerMTok: 1, outputPerMTok: 1, cachedPerMTok: 1 } } }, /cachedInputPerMTok/],
    [{ unpriced: "deny" }, /pricing.unpriced must be "refuse"/],
    [{ price: {} }, /Did you mean `prices`/],
  ])("refuses bad pricing %j with CONFIG_INVALID naming the fix", (pricing, message) => {
    const build = () =>
      new BYOK({ masterKey: TEST_MASTER_KEY, store: new MemoryStore(), pricing: pricing as never, usage: false });
    expect(build).toThrow(message);
    try {
      build();
    } catch (error) {
      expect(ByokError.is(error) && error.code).toBe("CONFIG_INVALID");
    }
  });
});

describe("micro-dollar exactness", () => {
  const half = parsePricing({ prices: { "*:half": { inputPerMTok: 0.5, outputPerMTok: 0 } } }, PROVIDERS);
  const cost = (tokens: number) =>
    half.cost(call("openai", undefined, "half", usage({ inputTokens: tokens, outputTokens: 0 })))!.microUsd;

  it("rounds each call half up, once", () => {
    expect([0, 1, 2, 3, 5].map(cost)).toEqual([0, 1, 1, 2, 3]); // 0, 0.5, 1, 1.5, 2.5 micro-dollars
  });

  it("sums thousands of calls to the exact total, also in the store's row", async () => {
    // 5,000 calls of varied sizes: the sum of their micro-dollars equals the BigInt computation of each.
    let total = 0;
    let expected = 0n;
    const store = new MemoryStore();
    for (let i = 0; i < 5_000; i++) {
      const u = usage({
        inputTokens: 1 + ((i * 7919) % 3_001),
        cachedInputTokens: i % 3,
        outputTokens: (i * 31) % 997,
      });
      const micro = prices.cost(call("openai", "openai", "gpt-4o-mini", u))!.microUsd;
      expect(micro).toBe(expectedMicroUsd("openai", "gpt-4o-mini", u));
      total += micro;
      expected += BigInt(micro);
      await store.usage.add(
        ["u1"],
        {
          day: "2026-12-08",
          provider: "openai",
          model: "gpt-4o-mini",
          userId: "u1",
          requests: 1,
          inputTokens: 1,
          outputTokens: 0,
          costUsd: micro / 1e6,
          unpriced: 0,
          estimated: false,
        },
        90,
      );
    }
    expect(Number.isSafeInteger(total)).toBe(true);
    expect(BigInt(total)).toBe(expected);
    const [row] = await store.usage.read("u1", "2026-12-08", "2026-12-08");
    expect(row!.costUsd).toBe(total / 1e6); // summed as micro-dollars: no float drift
    let naive = 0;
    for (let i = 0; i < 5_000; i++) naive += 0.000001 * 3; // what summing dollars as floats does
    expect(naive).not.toBe(0.015);
  });

  it("keeps a billion-token call finite and whole", () => {
    const huge = prices.cost(call("openai", "openai", "gpt-4o", usage({ inputTokens: 4e9, outputTokens: 1e9 })))!;
    expect(Number.isSafeInteger(huge.microUsd)).toBe(true);
    expect(huge.microUsd).toBe(4e9 * 2.5 + 1e9 * 10);
  });
});

describe("costUsd through the public API, on every built-in provider", () => {
  let fakes: FakeProviders;
  beforeAll(async () => (fakes = await startFakeProviders()));
  afterAll(() => fakes.close());

  const KEY = "sk-pricing-test-key-0001";
  type Case = { id: string; table: string; model: string; u: Usage };
  const CASES: Case[] = [
    {
      id: "openai",
      table: "openai",
      model: "gpt-4o",
      u: usage({ inputTokens: 2_000, cachedInputTokens: 1_024, outputTokens: 600, reasoningTokens: 256 }),
    },
    {
      id: "anthropic",
      table: "anthropic",
      model: "claude-haiku-4-5",
      u: usage({ inputTokens: 5_000, cachedInputTokens: 3_000, cacheWriteTokens: 1_500, outputTokens: 400 }),
    },
    {
      id: "gemini",
      table: "google",
      model: "gemini-2.5-flash",
      u: usage({ inputTokens: 4_000, cachedInputTokens: 2_048, outputTokens: 900, reasoningTokens: 700 }),
    },
    {
      id: "azure-openai",
      table: "azure",
      model: "gpt-4o-mini",
      u: usage({ inputTokens: 3_000, cachedInputTokens: 1_280, outputTokens: 200, reasoningTokens: 0 }),
    },
    {
      id: "openrouter",
      table: "openrouter",
      model: "openai/gpt-4o-mini",
      u: usage({ inputTokens: 3_000, cachedInputTokens: 1_000, outputTokens: 200, reasoningTokens: 50 }),
    },
  ];

  async function setUp(id: string) {
    const events: ByokEvent[] = [];
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store: new MemoryStore(),
      providers: fakes.providers,
      onEvent: (e) => void events.push(e),
    });
    const userId = uniqueName("pricing");
    await byok.registerKey({
      userId,
      provider: id,
      apiKey: KEY,
      validate: false,
      ...(id === "azure-openai" ? { endpoint: fakes["azure-openai"].url } : {}),
    });
    return { ai: byok.use(userId), events };
  }

  /** The usage a response should carry: the scripted counts (as the vendor bills them) and their table price. */
  const priced = ({ table, model, u }: Case): Usage => {
    const { cacheWriteTokens: _write, ...shown } = u;
    return {
      ...shown,
      ...(u.cacheWriteTokens === undefined ? {} : { cacheWriteTokens: u.cacheWriteTokens }),
      costUsd: expectedMicroUsd(table, model, u) / 1e6,
    };
  };

  it.each(CASES)(
    "$id: chat and stream carry cached and reasoning tokens and costUsd; rows and events too",
    async (c) => {
      const { ai, events } = await setUp(c.id);
      const fake = (fakes as unknown as Record<string, { enqueue(...r: object[]): void }>)[c.id]!;
      fake.enqueue({ usage: c.u }, { usage: c.u });
      const chat = await ai.chat({ provider: c.id, model: c.model, prompt: "How much?" });
      const stream = ai.stream({ provider: c.id, model: c.model, prompt: "How much?" });
      for await (const _ of stream);
      const streamed: ChatResponse = await stream.response;
      const expected = priced(c);
      // Anthropic's usage states no reasoning part; the others state what was scripted.
      if (c.id === "anthropic") delete expected.reasoningTokens;
      expect(chat.usage).toEqual(expected);
      expect(streamed.usage).toEqual(expected);
      expect(chat.usage.costUsd).toBeGreaterThan(0);

      const completed = events.filter((e) => e.type === "chat.completed");
      expect(completed.map((e) => e.type === "chat.completed" && [e.usage.costUsd, e.priceVersion])).toEqual([
        [expected.costUsd, expect.stringMatching(/^@pydantic\/genai-prices@\d/)],
        [expected.costUsd, expect.stringMatching(/^@pydantic\/genai-prices@\d/)],
      ]);
      await waitFor(async () => (await ai.usage()).some((r) => r.requests === 2), "both calls counted");
      const [row] = await ai.usage();
      expect(row).toMatchObject({
        requests: 2,
        inputTokens: 2 * c.u.inputTokens,
        cachedInputTokens: 2 * (c.u.cachedInputTokens ?? 0),
        reasoningTokens: c.id === "anthropic" ? 0 : 2 * (c.u.reasoningTokens ?? 0),
        costUsd: (2 * expectedMicroUsd(c.table, c.model, c.u)) / 1e6,
        unpriced: 0,
      });
    },
  );

  it("openrouter: the cost its usage states wins over the table", async () => {
    const { ai, events } = await setUp("openrouter");
    const stated = { ...CASES[4]!.u, costUsd: 0.004321 };
    fakes.openrouter.enqueue({ usage: stated }, { usage: stated });
    const chat = await ai.chat({ provider: "openrouter", model: "openai/gpt-4o-mini", prompt: "How much?" });
    const stream = ai.stream({ provider: "openrouter", model: "openai/gpt-4o-mini", prompt: "How much?" });
    for await (const _ of stream);
    expect(chat.usage.costUsd).toBe(0.004321);
    expect((await stream.response).usage.costUsd).toBe(0.004321);
    // It asked for the cost in its usage, and a figure the provider stated has no table version.
    const bodies = fakes.openrouter.requests.slice(-2).map((r) => r.body as { usage?: unknown });
    expect(bodies.map((b) => b.usage)).toEqual([{ include: true }, { include: true }]);
    expect(events.filter((e) => e.type === "chat.completed").map((e) => "priceVersion" in e)).toEqual([false, false]);
  });

  it("an unpriced model has no costUsd, and its row counts it as unpriced", async () => {
    const { ai } = await setUp("openai");
    fakes.openai.enqueue({ usage: { inputTokens: 10, outputTokens: 5 } });
    const chat = await ai.chat({ provider: "openai", model: "my-fine-tune-xyz", prompt: "How much?" });
    expect(chat.usage).toEqual({ inputTokens: 10, outputTokens: 5, totalTokens: 15 });
    await waitFor(async () => (await ai.usage()).length === 1, "the call counted");
    expect((await ai.usage())[0]).toMatchObject({ requests: 1, costUsd: 0, unpriced: 1 });
  });

  it.each([
    ["openai", "gpt-4o", "openai", "/chat/completions"],
    ["gemini", "gemini-2.5-flash", "google", "/models/gemini-2.5-flash:generateContent"],
    ["anthropic", "claude-haiku-4-5", "anthropic", "/messages"],
  ])("%s: a connection() request is counted with its parts and priced", async (id, model, table, path) => {
    const c = CASES.find((x) => x.id === id)!;
    const { ai } = await setUp(id);
    const fake = (fakes as unknown as Record<string, { enqueue(...r: object[]): void }>)[id]!;
    fake.enqueue({ usage: c.u });
    const connection = await ai.connection(id);
    const body =
      id === "gemini"
        ? { contents: [{ role: "user", parts: [{ text: "How much?" }] }] }
        : { model, max_tokens: 100, messages: [{ role: "user", content: "How much?" }] };
    const answer = await connection.fetch(`${connection.baseURL}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(answer.status).toBe(200);
    await answer.json();
    await waitFor(async () => (await ai.usage()).length === 1, "the request counted");
    expect((await ai.usage())[0]).toMatchObject({
      model,
      inputTokens: c.u.inputTokens,
      cachedInputTokens: c.u.cachedInputTokens,
      reasoningTokens: id === "anthropic" ? 0 : c.u.reasoningTokens,
      costUsd: expectedMicroUsd(table, model, c.u) / 1e6,
      unpriced: 0,
    });
  });

  it("openrouter: a connection() request is counted at the cost its answer states", async () => {
    const { ai } = await setUp("openrouter");
    fakes.openrouter.enqueue({ usage: { ...CASES[4]!.u, cacheWriteTokens: 100, costUsd: 0.0012345 } });
    const connection = await ai.connection("openrouter");
    const answer = await connection.fetch(`${connection.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "How much?" }] }),
    });
    await answer.json();
    await waitFor(async () => (await ai.usage()).length === 1, "the request counted");
    expect((await ai.usage())[0]).toMatchObject({ cachedInputTokens: 1_000, costUsd: 0.001235, unpriced: 0 });
  });
});

describe("a stream cut short, and a custom provider's pricing hook", () => {
  let fakes: FakeProviders<"openai">;
  beforeAll(async () => (fakes = await startFakeProviders({ only: ["openai"] })));
  afterAll(() => fakes.close());

  it("a stream left before the provider reported usage is priced from its reservation, and marked estimated", async () => {
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, store: new MemoryStore(), providers: fakes.providers });
    const userId = uniqueName("pricing");
    await byok.registerKey({ userId, provider: "openai", apiKey: "sk-pricing-test-key-0002", validate: false });
    const ai = byok.use(userId);
    fakes.openai.enqueue({ chunks: ["a ", "b ", "c"], chunkDelayMs: 20 });
    for await (const _ of ai.stream({ provider: "openai", model: "gpt-4o", prompt: "three", maxTokens: 50 })) break;
    await waitFor(async () => (await ai.usage()).length === 1, "the cut stream counted");
    // "three": ceil(5 / 3) + 8 = 10 input tokens estimated, and the 50 output tokens reserved.
    const estimate = usage({ inputTokens: 10, outputTokens: 50 });
    expect((await ai.usage())[0]).toMatchObject({
      inputTokens: 10,
      outputTokens: 50,
      costUsd: expectedMicroUsd("openai", "gpt-4o", estimate) / 1e6,
      unpriced: 0,
      estimated: true,
    });
  });

  /** A provider of the app's own that answers from its own table of models, priced as another vendor's in the table. */
  const custom = (pricing: unknown): Provider => ({
    specificationVersion: "v1",
    defaultModel: "house-gpt-4o",
    pricing: pricing as Provider["pricing"],
    validateKey: async () => undefined,
    doChat: async (request) => ({
      text: "ok",
      model: request.model,
      finishReason: "stop",
      usage: { inputTokens: 1_000, cachedInputTokens: 500, outputTokens: 100, totalTokens: 1_100 },
    }),
    async *doStream() {
      yield {
        type: "finish",
        model: "house-gpt-4o",
        finishReason: "stop",
        usage: usage({ inputTokens: 0, outputTokens: 0 }),
      };
    },
  });

  it("prices a custom provider's models where its hook puts them in the table", async () => {
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store: new MemoryStore(),
      providers: { house: custom({ providerId: "openai", modelId: (m: string) => m.replace(/^house-/, "") }) },
      defaultProvider: "house",
    });
    const userId = uniqueName("pricing");
    await byok.registerKey({ userId, provider: "house", apiKey: "house-key-0001", validate: false });
    const { usage: priced } = await byok.use(userId).chat({ prompt: "hi" });
    const expected = expectedMicroUsd(
      "openai",
      "gpt-4o",
      usage({ inputTokens: 1_000, cachedInputTokens: 500, outputTokens: 100 }),
    );
    expect(priced.costUsd).toBe(expected / 1e6);
  });

  it.each([[{ providerId: 7 }], [{ providerId: "" }], [{ providerId: "openai", modelId: "gpt-4o" }], ["openai"]])(
    "refuses a custom provider's pricing %j with CONFIG_INVALID",
    (pricing) => {
      expect(
        () => new BYOK({ masterKey: TEST_MASTER_KEY, store: new MemoryStore(), providers: { house: custom(pricing) } }),
      ).toThrow(/providers\.house\.pricing must be \{ providerId: string/);
    },
  );
});
