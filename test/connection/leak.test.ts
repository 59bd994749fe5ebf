// Leak canary for ai.connection(): the key shows up only in the upstream's auth header, never in the connection,
// errors thrown by its fetch or the SDKs, events or console output.
import { inspect } from "node:util";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, type LanguageModel, streamText } from "ai";
import OpenAI from "openai";
import { BYOK, MemoryStore, type ProviderConnection } from "../../lib";
import { type FakeReply, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { expectOnlyInAuthHeader, leakHunt } from "../helpers/leak-suite";
import { freePort } from "../helpers/redis-server";
import { waitFor } from "../helpers/wait-for";

const CANARIES = {
  gemini: "AIzaCANARYconn-gemini-0123456789QWER",
  openai: "sk-CANARYconn-openai-0123456789ASDF",
  anthropic: "sk-ant-CANARYconn-anthropic-0123456789ZXCV",
} as const;
type Id = keyof typeof CANARIES;
const AUTH_HEADER: Record<Id, (key: string) => [string, string]> = {
  gemini: (k) => ["x-goog-api-key", k],
  openai: (k) => ["authorization", `Bearer ${k}`],
  anthropic: (k) => ["x-api-key", k],
};
const MODEL: Record<Id, (c: ProviderConnection) => LanguageModel> = {
  openai: (c) => createOpenAI(c)("gpt-4o-mini"),
  anthropic: (c) => createAnthropic(c)("claude-haiku-4-5"),
  gemini: (c) => createGoogleGenerativeAI(c)("gemini-2.5-flash"),
};
const FAILURES: FakeReply[] = [
  { status: 400, message: "bad request" },
  { status: 401, message: "no" }, // the fake OpenAI's 401 echoes a masked key, as OpenAI does
  { status: 429, retryAfter: 1 },
  { status: 500 },
  { garbage: true },
  { reset: true },
  { chunks: ["a ", "b"], errorAfterChunks: 1 },
];

describe("leak canary across ai.connection()", () => {
  it("shows the key only in the upstream auth header", async () => {
    const fakes = await startFakeProviders();
    const hunt = leakHunt();
    const { seen, events } = hunt;
    const store = new MemoryStore();
    const closedPort = await freePort();
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: fakes.providers,
      onEvent: hunt.onEvent,
    });
    const unreachable = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: { openai: { baseUrl: `http://127.0.0.1:${closedPort}/v1` } },
    });
    const wrongMaster = new BYOK({ masterKey: Buffer.alloc(32, 3), store, providers: fakes.providers });
    const attempt = async (run: () => Promise<unknown>) => seen.push(await run().catch((e: unknown) => e));
    try {
      await hunt.capture(async () => {
        for (const id of Object.keys(CANARIES) as Id[]) {
          await byok.registerKey({ userId: "leaky", provider: id, apiKey: CANARIES[id], validate: false });
          const conn = await byok.use("leaky").connection(id);
          seen.push(conn, inspect(conn, { showHidden: true, depth: 5 }), JSON.stringify(conn));
          await attempt(() => generateText({ model: MODEL[id](conn), prompt: "hello", maxRetries: 0 }));
          for (const failure of FAILURES) {
            fakes[id].enqueue(failure);
            await attempt(() => generateText({ model: MODEL[id](conn), prompt: "x", maxRetries: 0 }));
            fakes[id].enqueue(failure);
            await attempt(async () => {
              const result = streamText({
                model: MODEL[id](conn),
                prompt: "x",
                maxRetries: 0,
                onError: () => undefined,
              });
              for await (const part of result.fullStream) seen.push(part);
              return result.text;
            });
          }
          fakes[id].enqueue({ hang: true });
          const aborted = new AbortController();
          const sent = fakes[id].requests.length;
          // Aborted mid-flight: once the fake holds the request.
          void waitFor(() => fakes[id].requests.length > sent, "the request to reach the fake").then(() =>
            aborted.abort(),
          );
          await attempt(() => conn.fetch(`${conn.baseURL}/models`, { signal: aborted.signal }));
          await attempt(() => conn.fetch("http://127.0.0.1:9/v1/models"));
          await attempt(() => conn.fetch(`${conn.baseURL}/../../admin`));
          const other = await wrongMaster.use("leaky").connection(id);
          await attempt(() => other.fetch(`${other.baseURL}/models`));
        }
        const down = await unreachable.use("leaky").connection("openai");
        await attempt(() => generateText({ model: MODEL.openai(down), prompt: "x", maxRetries: 0 }));
        const official = new OpenAI({ apiKey: down.apiKey, baseURL: down.baseURL, fetch: down.fetch, maxRetries: 0 });
        await attempt(() => official.responses.create({ model: "gpt-4o-mini", input: "x" }));
        const conn = await byok.use("leaky").connection("openai");
        fakes.openai.enqueue({ status: 401 });
        const viaOfficial = new OpenAI({
          apiKey: conn.apiKey,
          baseURL: conn.baseURL,
          fetch: conn.fetch,
          maxRetries: 0,
        });
        await attempt(() =>
          viaOfficial.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }),
        );
      });

      expect(events.filter((e) => e.type === "key.used").length).toBeGreaterThan(30);
      hunt.expectNone(Object.values(CANARIES));
      for (const id of Object.keys(CANARIES) as Id[]) {
        expect(fakes[id].requests.length).toBeGreaterThan(10);
        expectOnlyInAuthHeader(fakes[id], AUTH_HEADER[id](CANARIES[id]), "CANARY", { every: true });
      }
    } finally {
      await fakes.close();
    }
  });
});
