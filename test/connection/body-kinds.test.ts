// Budgets hold for ai.connection() requests whatever their body is: a Request, bytes, a Blob or a stream.
import { BYOK, ByokError } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { uniqueName } from "../helpers/services";
import { rowsAfter } from "../helpers/usage-rows";

let fakes: FakeProviders;
beforeAll(async () => (fakes = await startFakeProviders()));
afterAll(() => fakes.close());
beforeEach(() => fakes.openai.reset());

async function setUp(tokensPerDay: number) {
  const byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    providers: { ...fakes.providers, openai: { baseUrl: `${fakes.openai.url}/v1` } },
    budgets: { user: { tokensPerDay } },
  });
  const userId = uniqueName("user");
  await byok.registerKey({ userId, provider: "openai", apiKey: "sk-user-openai-key-0001", validate: false });
  const ai = byok.use(userId);
  const connection = await ai.connection("openai");
  return { ai, connection, url: `${connection.baseURL}/chat/completions` };
}

/** A Chat Completions body of 77 or 78 characters: it reserves ceil(78 / 3) + 8 = 34 input tokens plus `maxTokens`. */
const chatBody = (maxTokens: number) =>
  JSON.stringify({ model: "gpt-x", max_tokens: maxTokens, messages: [{ role: "user", content: "hi" }] });

const failureOf = (call: Promise<Response>) =>
  call.then(
    (r) => r.status,
    (e: unknown) => (ByokError.is(e) ? e.code : e),
  );

type Send = (fetch: typeof globalThis.fetch, url: string, body: string) => Promise<Response>;
const post = { method: "POST", headers: { "content-type": "application/json" } };
const BODY_KINDS: [string, Send][] = [
  ["a Request", (fetch, url, body) => fetch(new Request(url, { ...post, body }))],
  ["a Request given its body in init", (fetch, url, body) => fetch(new Request(url), { ...post, body })],
  ["a Uint8Array", (fetch, url, body) => fetch(url, { ...post, body: new TextEncoder().encode(body) })],
  ["an ArrayBuffer", (fetch, url, body) => fetch(url, { ...post, body: new TextEncoder().encode(body).buffer })],
  [
    "a Buffer inside a larger one",
    (fetch, url, body) => fetch(url, { ...post, body: Buffer.from(`  ${body}`).subarray(2) }),
  ],
  ["a Blob", (fetch, url, body) => fetch(url, { ...post, body: new Blob([body]) })],
];

describe.each(BODY_KINDS)("a connection() request whose body is %s", (_kind, send) => {
  it("reserves from the body and settles to the provider's figures, so the budget refuses what no longer fits", async () => {
    const { ai, connection, url } = await setUp(500);
    // Reserves 34 + 100; the provider charges 400, more than the reservation: only a settle counts that.
    fakes.openai.enqueue(
      { usage: { inputTokens: 300, outputTokens: 100 } },
      { usage: { inputTokens: 30, outputTokens: 20 } },
    );
    const served = await send(connection.fetch, url, chatBody(100));
    expect(served.status).toBe(200);
    await served.json();
    expect(await rowsAfter(ai, 1)).toEqual([
      { model: "gpt-x", requests: 1, inputTokens: 300, outputTokens: 100, estimated: false },
    ]);
    // 400 spent: another 34 + 100 does not fit in 500, and nothing is sent.
    expect(await failureOf(send(connection.fetch, url, chatBody(100)))).toBe("BUDGET_EXCEEDED");
    expect(fakes.openai.requests).toHaveLength(1);
    // 34 + 50 still does.
    expect(await failureOf(send(connection.fetch, url, chatBody(50)))).toBe(200);
    expect(fakes.openai.requests).toHaveLength(2);
  });
});

describe("a connection() request whose body is a stream", () => {
  const streamOf = (text: string) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text));
        controller.close();
      },
    });
  const sendStream = (fetch: typeof globalThis.fetch, url: string, text: string) =>
    fetch(url, { ...post, body: streamOf(text), duplex: "half" } as RequestInit);

  it("reserves the worst case without reading the stream, refused by a budget smaller than that", async () => {
    const { ai, connection, url } = await setUp(500);
    expect(await failureOf(sendStream(connection.fetch, url, chatBody(10)))).toBe("BUDGET_EXCEEDED");
    expect(fakes.openai.requests).toHaveLength(0);
    expect(await ai.usage()).toEqual([]);
  });

  it("sends the stream as it is and settles to the provider's figures", async () => {
    const { ai, connection, url } = await setUp(5000);
    // Reserves 4,096 (the output of a request that names no limit); the provider charges 4,500.
    fakes.openai.enqueue({ usage: { inputTokens: 4400, outputTokens: 100 } });
    const served = await sendStream(connection.fetch, url, chatBody(10));
    expect(served.status).toBe(200);
    await served.json();
    expect(fakes.openai.requests[0]!.body).toEqual(JSON.parse(chatBody(10)));
    expect(await rowsAfter(ai, 1)).toEqual([
      { model: expect.any(String), requests: 1, inputTokens: 4400, outputTokens: 100, estimated: false },
    ]);
    // 4,500 spent: 34 + 500 more does not fit in 5,000.
    const refused = connection.fetch(url, { ...post, body: chatBody(500) });
    expect(await failureOf(refused)).toBe("BUDGET_EXCEEDED");
    expect(fakes.openai.requests).toHaveLength(1);
  });
});
