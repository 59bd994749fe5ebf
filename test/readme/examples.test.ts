// Runs the examples/ programs: the graceful shutdown exits on SIGTERM, and the AI SDK routes answer with the user's
// own key through the fakes, without retrying. (test/readme/prisma-key-store.test.ts runs the Prisma store;
// snippets.test.ts compiles every examples/ file.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import express from "express";
import request from "supertest";
import { BYOK, byokErrorHandler, byokRouter, generateMasterKey } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { startNode } from "../helpers/node-process";
import { REDIS_URL } from "../helpers/services";
import { blocksUnder, exampleAsModule, ROOT } from "./readme-blocks";

describe("examples/graceful-shutdown.mjs", () => {
  it("is what docs/deployment.md shows under “Graceful shutdown”", () => {
    const source = readFileSync(join(ROOT, "examples/graceful-shutdown.mjs"), "utf8");
    for (const block of blocksUnder("docs/deployment.md", "Graceful shutdown", ["js"]))
      expect(source).toContain(block.code);
  });

  it("serves with its Redis connection open, then exits with status 0 on SIGTERM", async () => {
    const app = startNode("examples/graceful-shutdown.mjs", [], {
      PORT: "0",
      BYOK_MASTER_KEY: generateMasterKey(),
      REDIS_URL,
    });
    try {
      const [, base] = await app.waitFor(/listening on (http:\/\/\S+)/);
      // Listing keys reads Redis, so the store's own connection is open when the signal comes.
      const listed = await fetch(`${base}/byok/keys`, { headers: { "x-demo-user": "shutdown-user" } });
      expect([listed.status, await listed.json()]).toEqual([200, { keys: [] }]);
      app.child.kill("SIGTERM");
      expect(await app.exited).toBe(0);
      expect(app.output()).toContain("SIGTERM: shutting down");
    } finally {
      await app.stop();
    }
  });
});

describe("examples/ai-sdk-routes.ts", () => {
  const generated = exampleAsModule("ai-sdk-routes.ts");
  const { aiSdkRoutes } = jest.requireActual(generated.path) as { aiSdkRoutes: () => express.Router };
  const USER = "ai-sdk-example-user";
  const KEYS = { openai: "sk-example-openai-0003", anthropic: "sk-ant-example-0003", gemini: "AIza-example-0003" };
  let fakes: FakeProviders;
  let app: express.Express;

  beforeAll(async () => {
    fakes = await startFakeProviders();
    const byok = new BYOK({ masterKey: generateMasterKey(), providers: fakes.providers });
    for (const [provider, apiKey] of Object.entries(KEYS))
      await byok.registerKey({ userId: USER, provider, apiKey, validate: false });
    app = express();
    app.use(byokRouter({ byok, getUserId: () => USER }));
    app.use(aiSdkRoutes());
    app.use(byokErrorHandler());
  });
  afterAll(async () => {
    await fakes.close();
    generated.remove();
  });
  beforeEach(() => [fakes.openai, fakes.anthropic, fakes.gemini].forEach((fake) => fake.reset()));

  it("POST /summarize: structured output from OpenAI, with the user's key", async () => {
    fakes.openai.enqueue({ text: JSON.stringify({ summary: "Short.", keywords: ["keys"] }) });
    const res = await request(app).post("/summarize").send({ text: "A long text about keys." });
    expect([res.status, res.body]).toEqual([200, { summary: "Short.", keywords: ["keys"] }]);
    expect(fakes.openai.requests.map((r) => r.apiKey)).toEqual([KEYS.openai]);
  });

  it("POST /weather: Anthropic asks for the tool, the SDK runs it, Anthropic answers", async () => {
    fakes.anthropic.enqueue({ toolCalls: [{ name: "weather", arguments: { city: "Paris" } }] }, { text: "A coat." });
    const res = await request(app).post("/weather").send({ city: "Paris" });
    expect([res.status, res.body]).toEqual([200, { text: "A coat." }]);
    expect(fakes.anthropic.requests.map((r) => r.apiKey)).toEqual([KEYS.anthropic, KEYS.anthropic]);
  });

  it("POST /poem: text from Gemini, with the user's key", async () => {
    fakes.gemini.enqueue({ text: "Keys in the dark." });
    const res = await request(app).post("/poem").send({});
    expect([res.status, res.body]).toEqual([200, { text: "Keys in the dark." }]);
    expect(fakes.gemini.requests.map((r) => r.apiKey)).toEqual([KEYS.gemini]);
  });

  it("sends a failing request once (maxRetries: 0), never spending the user's quota on retries", async () => {
    fakes.gemini.enqueue({ status: 503 }, { text: "A retry would get this." });
    const res = await request(app).post("/poem").send({});
    expect(res.status).toBe(503); // Express's default handler answers the AI SDK's APICallError with its statusCode
    expect(fakes.gemini.requests).toHaveLength(1);
  });
});
