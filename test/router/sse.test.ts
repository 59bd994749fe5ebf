// POST /byok/chat as Server-Sent Events, for every provider, through the real router and the fakes.
import express from "express";
import request from "supertest";
import { request as httpRequest } from "node:http";
import { BYOK, byokRouter, type ByokEvent } from "../../lib";
import type { Provider, ProviderStreamPart } from "../../lib/extend";
import { startFakeProviders, type FakeProviders, type FakeUpstream } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "../helpers/canary";
import { listen } from "../helpers/router-harness";
import { waitFor } from "../helpers/wait-for";

type Frame = { event: string; data: unknown };
const parseSse = (text: string): Frame[] =>
  text
    .split("\n\n")
    .filter((block) => block.trim())
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1];
      return { event, data: data === undefined ? undefined : JSON.parse(data) };
    });

function appFor(byok: BYOK) {
  const app = express();
  app.use((req, _res, next) => {
    const user = req.headers["x-user"];
    if (typeof user === "string") (req as unknown as { user: { id: string } }).user = { id: user };
    next();
  });
  app.use(byokRouter({ byok, rateLimit: false }));
  return app;
}

const sse = (app: express.Express, body: object) =>
  request(app)
    .post("/byok/chat")
    .set("x-user", "u1")
    .set("accept", "text/event-stream")
    .send(body)
    .buffer(true)
    .parse((res, done) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () => done(null, text));
    });

const PROVIDERS = ["gemini", "openai", "anthropic"] as const;

describe("POST /byok/chat with SSE", () => {
  let fakes: FakeProviders;
  let byok: BYOK;
  let events: ByokEvent[];
  let app: express.Express;
  beforeEach(async () => {
    fakes = await startFakeProviders();
    events = [];
    byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers, onEvent: (e) => void events.push(e) });
    app = appFor(byok);
    for (const provider of PROVIDERS) await byok.registerKey({ userId: "u1", provider, apiKey: CANARY_KEY });
  });
  afterEach(async () => {
    await byok.close();
    await fakes.close();
  });

  describe.each(PROVIDERS)("with %s", (provider) => {
    const fake = (): FakeUpstream => fakes[provider];

    it("sends chunk events in order, then done with the whole ChatResponse", async () => {
      fake().enqueue({ chunks: ["Hello", ", ", "wor", "ld"] });
      const res = await sse(app, { prompt: "greet", provider, stream: true });
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
      expect(res.headers["cache-control"]).toContain("no-store");
      expect(res.headers["x-accel-buffering"]).toBe("no");
      const frames = parseSse(res.body as string);
      const chunks = frames.filter((f) => f.event === "chunk").map((f) => (f.data as { text: string }).text);
      expect(chunks).toEqual(["Hello", ", ", "wor", "ld"]);
      const done = frames.at(-1)!;
      expect(done.event).toBe("done");
      expect(done.data).toMatchObject({
        text: chunks.join(""),
        provider,
        finishReason: "stop",
        usage: { outputTokens: 4 },
      });
      expect(events.at(-1)).toMatchObject({ type: "chat.completed", provider, usage: { outputTokens: 4 } });
      expect(res.body as string).not.toContain(CANARY_KEY);
    });

    it("ends with an error event when the upstream fails mid-stream", async () => {
      fake().enqueue({ chunks: ["a ", "b ", "c"], errorAfterChunks: 2, chunkDelayMs: 20 });
      const frames = parseSse((await sse(app, { prompt: "x", provider, stream: true })).body as string);
      expect(frames.map((f) => f.event)).toEqual(["chunk", "chunk", "error"]);
      expect(frames.at(-1)!.data).toEqual({ code: expect.stringMatching(/^PROVIDER_/), message: expect.any(String) });
      expect(events.at(-1)).toMatchObject({ type: "chat.failed", provider });
    });

    it("reports an upstream that drops the connection mid-stream instead of hanging", async () => {
      fake().enqueue({ chunks: ["a ", "b ", "c"], dropAfterChunks: 1, chunkDelayMs: 50 });
      const body = (await sse(app, { prompt: "x", provider, stream: true })).body as string;
      expect(parseSse(body).at(-1)).toMatchObject({ event: "error", data: { code: "PROVIDER_ERROR" } });
    });

    it("answers an error before the first chunk as JSON with its status", async () => {
      fake().enqueue({ status: 429, retryAfter: 5 });
      const res = await request(app)
        .post("/byok/chat")
        .set("x-user", "u1")
        .send({ prompt: "x", provider, stream: true });
      expect([res.status, res.body.error.code, res.headers["retry-after"]]).toEqual([
        429,
        "PROVIDER_RATE_LIMITED",
        "5",
      ]);
    });

    it("aborts the upstream request within a second when the client disconnects after the first chunk", async () => {
      fake().enqueue({ chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 100 });
      const server = await listen(app);
      try {
        const closedAt = await new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            `${server.url}/byok/chat`,
            {
              method: "POST",
              headers: { "content-type": "application/json", "x-user": "u1", accept: "text/event-stream" },
            },
            (res) => {
              res.once("data", () => {
                const at = performance.now();
                req.destroy();
                resolve(at);
              });
            },
          );
          req.on("error", () => undefined);
          req.on("close", () => reject(new Error("the stream closed before its first chunk")));
          req.end(JSON.stringify({ prompt: "x", provider }));
        });
        await waitFor(() => fake().requests.at(-1)!.aborted, "the upstream abort");
        const upstream = fake().requests.at(-1)!;
        expect(upstream.aborted).toBe(true);
        expect(upstream.abortedAt! - closedAt).toBeLessThan(1000); // tens of ms when idle; generous for a loaded box
      } finally {
        await server.close();
      }
    });
  });
});

describe("POST /byok/chat SSE backpressure", () => {
  it("stops pulling from the provider while the client does not read", async () => {
    let pulled = 0;
    const total = 20_000;
    const chunk = "x".repeat(2048);
    const counting: Provider = {
      specificationVersion: "v1",
      defaultModel: "count",
      validateKey: async () => undefined,
      doChat: async () => ({
        text: "",
        model: "count",
        finishReason: "stop",
        usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      }),
      async *doStream(_request, { signal }): AsyncGenerator<ProviderStreamPart> {
        for (let i = 0; i < total && !signal.aborted; i++) {
          pulled++;
          yield { type: "text", text: chunk };
        }
        yield {
          type: "finish",
          model: "count",
          finishReason: "stop",
          usage: { inputTokens: 0, outputTokens: total, totalTokens: total },
        };
      },
    };
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: { counting }, defaultProvider: "counting" });
    await byok.registerKey({ userId: "u1", provider: "counting", apiKey: CANARY_KEY });
    const server = await listen(appFor(byok));
    try {
      const pulledWhilePaused = await new Promise<number>((resolve) => {
        const req = httpRequest(
          `${server.url}/byok/chat`,
          {
            method: "POST",
            headers: { "content-type": "application/json", "x-user": "u1", accept: "text/event-stream" },
          },
          (res) => {
            res.once("data", () => {
              res.pause(); // a reader that stops reading
              // Until the provider has not been pulled for 5 polls in a row (pulling shares this event loop, so a
              // router that ignored backpressure would be seen still pulling, or done).
              let [last, quiet] = [-1, 0];
              const stalled = () => ((quiet = pulled === last ? quiet + 1 : 0), (last = pulled), quiet >= 5);
              void waitFor(stalled, "the provider to stop being pulled", 20_000, 50).then(() => {
                resolve(pulled);
                req.destroy();
              });
            });
          },
        );
        req.on("error", () => undefined);
        req.end(JSON.stringify({ prompt: "x" }));
      });
      // 20 000 chunks of 2 KB is 40 MB; with backpressure only what fits in socket buffers is pulled.
      expect(pulledWhilePaused).toBeLessThan(total / 4);
    } finally {
      await server.close();
      await byok.close();
    }
  });
});
