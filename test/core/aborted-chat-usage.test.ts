// A chat aborted after the provider received it is not free: it counts from its reservation, marked estimated.
import { BYOK, ByokError, type ByokEvent } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

let fakes: FakeProviders;
beforeAll(async () => (fakes = await startFakeProviders()));
afterAll(() => fakes.close());
beforeEach(() => fakes.openai.reset());

const chats = () => fakes.openai.requests.filter((r) => r.op === "chat");

async function setUp() {
  const events: ByokEvent[] = [];
  const byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    providers: fakes.providers,
    defaultProvider: "openai",
    budgets: { user: { tokensPerDay: 200 } },
    onEvent: (e) => void events.push(e),
  });
  const userId = uniqueName("user");
  await byok.registerKey({ userId, provider: "openai", apiKey: "sk-abort-test-key-0001", validate: false });
  return { byok, userId, ai: byok.use(userId), events };
}

const outcome = (call: Promise<unknown>) =>
  call.then(
    () => "served",
    (e: unknown) => (ByokError.is(e) ? e.code : e),
  );

describe("a non-streamed chat aborted after the provider received it", () => {
  it("adds one estimated usage row and keeps its reservation in the budget", async () => {
    const { byok, userId, ai, events } = await setUp();
    fakes.openai.enqueue({ hang: true });
    const controller = new AbortController();
    // "hi": ceil(2 / 3) + 8 = 9 input tokens, plus the 100 asked for: 109 reserved of 200.
    const aborted = ai.chat({ prompt: "hi", model: "gpt-x", maxTokens: 100, signal: controller.signal });
    await waitFor(() => chats().length === 1, "the provider to receive the chat");
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    await waitFor(async () => (await byok.usage({ userId })).length === 1, "the usage row");
    expect(await byok.usage({ userId })).toEqual([
      expect.objectContaining({ model: "gpt-x", requests: 1, inputTokens: 9, outputTokens: 100, estimated: true }),
    ]);
    expect(events.filter((e) => e.type === "chat.failed")).toEqual([expect.objectContaining({ code: "ABORTED" })]);
    // The 109 stay spent: another 109 does not fit in 200, and is not sent; 9 + 80 does.
    expect(await outcome(ai.chat({ prompt: "hi", maxTokens: 100 }))).toBe("BUDGET_EXCEEDED");
    expect(chats()).toHaveLength(1);
    expect(await outcome(ai.chat({ prompt: "hi", maxTokens: 80 }))).toBe("served");
  });

  it("counts an abort through byok.use(userId, { signal }) the same way", async () => {
    const { byok, userId } = await setUp();
    fakes.openai.enqueue({ hang: true });
    const controller = new AbortController();
    const aborted = byok.use(userId, { signal: controller.signal }).chat({ prompt: "hi", maxTokens: 100 });
    await waitFor(() => chats().length === 1, "the provider to receive the chat");
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    await waitFor(async () => (await byok.usage({ userId })).length === 1, "the usage row");
    expect(await byok.usage({ userId })).toEqual([
      expect.objectContaining({ requests: 1, inputTokens: 9, outputTokens: 100, estimated: true }),
    ]);
  });
});

describe("a stream aborted after the provider received it, before its first part", () => {
  it("counts from its reservation, as a non-streamed chat does", async () => {
    const { byok, userId, ai } = await setUp();
    fakes.openai.enqueue({ hang: true });
    const controller = new AbortController();
    const stream = ai.stream({ prompt: "hi", model: "gpt-x", maxTokens: 100, signal: controller.signal });
    const read = (async () => {
      for await (const part of stream) void part;
    })();
    await waitFor(() => fakes.openai.requests.some((r) => r.op === "stream"), "the provider to receive the stream");
    controller.abort();
    await expect(read).rejects.toMatchObject({ name: "AbortError" });
    await waitFor(async () => (await byok.usage({ userId })).length === 1, "the usage row");
    expect(await byok.usage({ userId })).toEqual([
      expect.objectContaining({ model: "gpt-x", requests: 1, inputTokens: 9, outputTokens: 100, estimated: true }),
    ]);
    expect(await outcome(ai.chat({ prompt: "hi", maxTokens: 100 }))).toBe("BUDGET_EXCEEDED"); // 109 + 109 > 200
  });
});

describe("a non-streamed chat the provider did not bill", () => {
  it("is free when aborted before it was sent", async () => {
    const { byok, userId, ai } = await setUp();
    const aborted = ai.chat({ prompt: "hi", maxTokens: 180, signal: AbortSignal.abort() });
    await expect(aborted).rejects.toMatchObject({ name: "AbortError" });
    expect(chats()).toHaveLength(0);
    expect(await outcome(ai.chat({ prompt: "hi", maxTokens: 180 }))).toBe("served"); // 189 of 200: nothing was held
    await waitFor(async () => (await byok.usage({ userId })).length === 1, "the usage row");
    expect(await byok.usage({ userId })).toEqual([expect.objectContaining({ requests: 1, estimated: false })]);
  });

  it("releases its reservation when the provider refused it", async () => {
    const { ai } = await setUp();
    fakes.openai.enqueue({ status: 500 });
    expect(await outcome(ai.chat({ prompt: "hi", maxTokens: 180 }))).toBe("PROVIDER_ERROR");
    expect(await outcome(ai.chat({ prompt: "hi", maxTokens: 180 }))).toBe("served");
  });
});
