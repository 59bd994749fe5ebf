// One HTTP suite against every adapter: byokRouter on Express 4, Express 5 and Connect, and byokHandler under Hono on Node
// answer the same statuses, bodies, headers and SSE frames, count in the same rate-limit stores, and abort on disconnect.
import { request as httpRequest } from "node:http";
import { MemoryStore as CounterStore } from "express-rate-limit";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "../helpers/canary";
import {
  loadKit,
  SERVER_KINDS,
  type ServerKind,
  serveRoutes,
  type SharedRouteOptions,
} from "../helpers/router-harness";
import { type Answer, type Exchange, exchange, JSON_TYPE, json, runSuite } from "../helpers/shared-suite";
import { waitFor } from "../helpers/wait-for";

/** A BYOK on fresh fakes, from the byok-ai module the kind loads. */
async function byokFor(kind: ServerKind, fakes: FakeProviders) {
  const lib = loadKit(kind === "express4" ? "express4" : "express5").lib;
  return new lib.BYOK({ masterKey: TEST_MASTER_KEY, store: new lib.MemoryStore(), providers: fakes.providers });
}

describe("the same answers from byokRouter (Express 4, Express 5, Connect) and byokHandler (Hono on Node)", () => {
  it("answers the whole suite identically, statuses, bodies, headers and SSE frames", async () => {
    const answers = new Map<ServerKind, Answer[]>();
    for (const kind of SERVER_KINDS) {
      const fakes = await startFakeProviders();
      const byok = await byokFor(kind, fakes);
      const server = await serveRoutes(kind, byok);
      try {
        answers.set(kind, await runSuite(`${server.url}/byok`));
      } finally {
        await server.close();
        await byok.close();
        await fakes.close();
      }
    }
    const reference = answers.get("express5")!;
    expect(reference.map((a) => a.status)).toEqual([
      401, 201, 200, 200, 400, 400, 400, 413, 400, 400, 200, 200, 400, 200, 200, 200, 400, 200, 404, 404, 404, 204, 404,
      404,
    ]);
    expect(reference[14]!.body).toMatch(/^event: chunk\ndata: /);
    expect(reference[14]!.body).toMatch(/event: done\ndata: /);
    for (const kind of SERVER_KINDS) {
      answers.get(kind)!.forEach((answer, i) => expect([kind, i, answer]).toEqual([kind, i, reference[i]]));
    }
  });

  it("counts one user's requests in the same stores across a byokRouter and a byokHandler instance", async () => {
    const fakes = await startFakeProviders();
    const byok = await byokFor("express5", fakes);
    const stores = { keys: new CounterStore(), chat: new CounterStore() };
    const options: SharedRouteOptions = { rateLimit: { keys: { limit: 2 }, store: (name) => stores[name] } };
    const router = await serveRoutes("express5", byok, options);
    const handler = await serveRoutes("hono", byok, options);
    try {
      const list: Exchange = { method: "GET", path: "/keys", user: "u1" };
      const [viaRouter, viaHandler] = [`${router.url}/byok`, `${handler.url}/byok`];
      expect((await exchange(viaRouter, list)).status).toBe(200);
      expect((await exchange(viaHandler, list)).status).toBe(200);
      const refused = [await exchange(viaRouter, list), await exchange(viaHandler, list)];
      expect(refused.map((a) => [a.status, JSON.parse(a.body).error.code])).toEqual([
        [429, "RATE_LIMITED"],
        [429, "RATE_LIMITED"],
      ]);
      expect(refused[1]!.headers["retry-after"]).toMatch(/^\d+$/);
    } finally {
      await router.close();
      await handler.close();
      await byok.close();
      await fakes.close();
    }
  });

  it.each(SERVER_KINDS)("%s: a chunked body (no Content-Length) is counted as it arrives", async (kind) => {
    const fakes = await startFakeProviders();
    const byok = await byokFor(kind, fakes);
    const server = await serveRoutes(kind, byok, { rateLimit: false });
    /** POSTs `body` to /byok/keys in chunked pieces, so that no Content-Length tells its size. */
    const chunked = (body: string) =>
      new Promise<[number, string]>((resolve, reject) => {
        const req = httpRequest(
          `${server.url}/byok/keys`,
          { method: "POST", headers: { ...JSON_TYPE, "x-user": "u1" } },
          (res) => {
            let text = "";
            res.on("data", (part: Buffer) => (text += part.toString("utf8")));
            res.on("end", () => resolve([res.statusCode!, JSON.parse(text).error?.code ?? "ok"]));
          },
        );
        req.on("error", reject);
        for (let i = 0; i < body.length; i += 1000) req.write(body.slice(i, i + 1000));
        req.end();
      });
    try {
      expect(await chunked(json({ provider: "gemini", apiKey: "x".repeat(20_000) }))).toEqual([
        413,
        "PAYLOAD_TOO_LARGE",
      ]);
      expect(await chunked(json({ provider: "gemini", apiKey: CANARY_KEY }))).toEqual([201, "ok"]);
    } finally {
      await server.close();
      await byok.close();
      await fakes.close();
    }
  });

  it("byokHandler stops reading a Request whose Content-Length understates its streamed body at the limit", async () => {
    const fakes = await startFakeProviders();
    const lib = loadKit("express5").lib;
    const byok = new lib.BYOK({ masterKey: TEST_MASTER_KEY, store: new lib.MemoryStore(), providers: fakes.providers });
    const handler = lib.byokHandler({ byok, getUserId: () => "u1", rateLimit: false });
    let pulled = 0;
    // 1,000 chunks of 1 kB on demand: a reader that trusted the header would pull all of them before checking.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled++ === 1000) controller.close();
        else controller.enqueue(new TextEncoder().encode(" ".repeat(1024)));
      },
    });
    try {
      const answer = await handler(
        new Request("http://app.test/byok/keys", {
          method: "POST",
          headers: { ...JSON_TYPE, "content-length": "10" },
          body,
          duplex: "half",
        } as RequestInit),
      );
      expect([answer.status, ((await answer.json()) as { error: { code: string } }).error.code]).toEqual([
        413,
        "PAYLOAD_TOO_LARGE",
      ]);
      expect(pulled).toBeLessThan(40); // the 16 kB limit, and what the stream had queued
    } finally {
      await byok.close();
      await fakes.close();
    }
  });

  it.each(SERVER_KINDS)("%s: a client that disconnects mid-stream aborts the upstream call", async (kind) => {
    const fakes = await startFakeProviders();
    const byok = await byokFor(kind, fakes);
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY });
    fakes.gemini.enqueue({ chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 100 });
    const server = await serveRoutes(kind, byok, { rateLimit: false });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          `${server.url}/byok/chat`,
          { method: "POST", headers: { ...JSON_TYPE, "x-user": "u1", accept: "text/event-stream" } },
          (res) => res.once("data", () => (req.destroy(), resolve())),
        );
        req.on("error", () => undefined);
        req.on("close", () => reject(new Error("the stream closed before its first chunk")));
        req.end(json({ prompt: "x", provider: "gemini" }));
      });
      await waitFor(() => fakes.gemini.requests.at(-1)?.aborted === true, "the upstream abort");
    } finally {
      await server.close();
      await byok.close();
      await fakes.close();
    }
  });
});
