// ai.connection() with the official openai, @anthropic-ai/sdk and @google/genai clients, against the fakes.
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { useConnectionFixture } from "../helpers/connection-fixture";

const USER = "official-sdk-user";
const KEYS = {
  openai: "sk-user-openai-key-0002",
  anthropic: "sk-ant-user-anthropic-key-0002",
  gemini: "AIza-user-gemini-key-0002",
} as const;

const fx = useConnectionFixture(USER, KEYS);

describe("ai.connection() with the official openai client", () => {
  const client = async () => {
    const conn = await fx.byok.use(USER).connection("openai");
    return new OpenAI({
      apiKey: conn.apiKey,
      baseURL: conn.baseURL,
      fetch: conn.fetch,
      organization: null,
      project: null,
      maxRetries: 0,
    });
  };

  it("answers responses.create and chat.completions.create with the user's key", async () => {
    const openai = await client();
    fx.fakes.openai.enqueue({ text: "From responses." }, { text: "From chat." });
    const response = await openai.responses.create({ model: "gpt-4o-mini", input: "Hi" });
    const completion = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hi" }],
    });
    expect([response.output_text, completion.choices[0]!.message.content]).toEqual(["From responses.", "From chat."]);
    expect(fx.fakes.openai.requests.map((r) => [r.path, r.apiKey])).toEqual([
      ["/v1/responses", KEYS.openai],
      ["/v1/chat/completions", KEYS.openai],
    ]);
  });

  it("streams a response and reports a tool call", async () => {
    const openai = await client();
    fx.fakes.openai.enqueue({ chunks: ["a ", "b"] }, { toolCalls: [{ name: "lookup", arguments: { q: "x" } }] });
    const deltas: string[] = [];
    for await (const event of await openai.responses.create({ model: "gpt-4o-mini", input: "Hi", stream: true }))
      if (event.type === "response.output_text.delta") deltas.push(event.delta);
    expect(deltas).toEqual(["a ", "b"]);
    const withTool = await openai.responses.create({ model: "gpt-4o-mini", input: "Look up x" });
    expect(withTool.output).toEqual([
      expect.objectContaining({ type: "function_call", name: "lookup", arguments: '{"q":"x"}' }),
    ]);
  });
});

describe("ai.connection() with the official @anthropic-ai/sdk client", () => {
  it("answers messages.create, plain and streamed, with the user's key in x-api-key", async () => {
    const conn = await fx.byok.use(USER).connection("anthropic");
    // @anthropic-ai/sdk appends /v1/... itself, so it takes the root.
    const anthropic = new Anthropic({
      apiKey: conn.apiKey,
      baseURL: conn.baseURL.replace(/\/v1$/, ""),
      fetch: conn.fetch,
      maxRetries: 0,
    });
    fx.fakes.anthropic.enqueue({ text: "Bonjour." }, { chunks: ["x ", "y"] });
    const message = await anthropic.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect(message.content).toEqual([{ type: "text", text: "Bonjour." }]);
    const stream = anthropic.messages.stream({
      model: "claude-haiku-4-5",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect((await stream.finalMessage()).content).toEqual([{ type: "text", text: "x y" }]);
    expect(fx.fakes.anthropic.requests.map((r) => [r.path, r.headers["x-api-key"], r.headers.authorization])).toEqual([
      ["/v1/messages", KEYS.anthropic, undefined],
      ["/v1/messages", KEYS.anthropic, undefined],
    ]);
  });
});

describe("ai.connection() with the official @google/genai client", () => {
  it("answers generateContent, plain and streamed, with the user's key", async () => {
    const conn = await fx.byok.use(USER).connection("gemini");
    // conn.baseURL already ends in /v1beta: apiVersion "" keeps the SDK from adding it again.
    const ai = new GoogleGenAI({
      apiKey: conn.apiKey,
      vertexai: false,
      httpOptions: { baseUrl: conn.baseURL, apiVersion: "", fetch: conn.fetch },
    });
    fx.fakes.gemini.enqueue({ text: "Hallo." }, { chunks: ["p ", "q"] });
    const response = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "Hi" });
    expect(response.text).toBe("Hallo.");
    const texts: string[] = [];
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "Hi" }))
      texts.push(chunk.text ?? "");
    expect(texts.join("")).toBe("p q");
    expect(fx.fakes.gemini.requests.map((r) => [r.path, r.apiKey])).toEqual([
      ["/v1beta/models/gemini-2.5-flash:generateContent", KEYS.gemini],
      ["/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", KEYS.gemini],
    ]);
  });
});
