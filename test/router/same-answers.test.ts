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
import { waitFor } from "../helpers/wait-for";

/** One exchange of the suite. */
interface Exchange {
  method: string;
  path: string;
  user?: string;
  headers?: Record<string, string>;
  body?: string;
}

const json = (value: unknown) => JSON.stringify(value);
const JSON_TYPE = { "content-type": "application/json" };

/** The suite, in order: each step may depend on the ones before (a key registered, then replaced, used, deleted). */
const SUITE: Exchange[] = [
  { method: "GET", path: "/byok/keys" },
  {
    method: "POST",
    path: "/byok/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: CANARY_KEY }),
  },
  {
    method: "POST",
    path: "/byok/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: CANARY_KEY }),
  },
  { method: "GET", path: "/byok/keys", user: "u1" },
  {
    method: "POST",
    path: "/byok/keys",
    user: "u1",
    headers: { "content-type": "text/plain" },
    body: "provider=gemini",
  },
  { method: "POST", path: "/byok/keys", user: "u1", headers: JSON_TYPE, body: "{not json" },
  { method: "POST", path: "/byok/keys", user: "u1", headers: JSON_TYPE, body: '"a string"' },
  {
    method: "POST",
    path: "/byok/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: "x".repeat(20_000) }),
  },
  {
    method: "POST",
    path: "/byok/keys",
    user: "u1",
    headers: JSON_TYPE,
    body: json({ provider: "gemini", apiKey: CANARY_KEY, userId: "u2" }),
  },
  { method: "POST", path: "/byok/keys", user: "u1", headers: JSON_TYPE, body: json({ provider: 7 }) },
  { method: "POST", path: "/byok/keys/check", user: "u1", headers: JSON_TYPE, body: json({ provider: "gemini" }) },
  { method: "GET", path: "/byok/models?provider=gemini", user: "u1" },
  { method: "GET", path: "/byok/models?provider=gemini&provider=openai", user: "u1" },
  { method: "POST", path: "/byok/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: "hello" }) },
  { method: "POST", path: "/byok/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: "hello", stream: true }) },
  {
    method: "POST",
    path: "/byok/chat",
    user: "u1",
    headers: { ...JSON_TYPE, accept: "text/event-stream", "x-request-id": "req-1" },
    body: json({ prompt: "hello" }),
  },
  { method: "POST", path: "/byok/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: 1 }) },
  { method: "GET", path: "/byok/usage", user: "u1" },
  { method: "GET", path: "/byok/usage?team=1", user: "u1" },
  { method: "GET", path: "/byok/team/keys", user: "u1" },
  { method: "DELETE", path: "/byok/team/keys?provider=gemini", user: "u1" },
  { method: "DELETE", path: "/byok/keys?provider=gemini", user: "u1" },
  { method: "DELETE", path: "/byok/keys", user: "u1", headers: JSON_TYPE, body: json({ provider: "gemini" }) },
  { method: "POST", path: "/byok/chat", user: "u1", headers: JSON_TYPE, body: json({ prompt: "no key now" }) },
];

/** Headers that belong to the connection or the clock, not to the answer. */
const TRANSPORT = new Set(["date", "connection", "keep-alive", "transfer-encoding", "content-length"]);

/** What is compared of an answer: status, the answer's own headers, and the body with timestamps masked. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function exchange(url: string, step: Exchange): Promise<Answer> {
  const response = await fetch(url + step.path, {
    method: step.method,
    headers: { ...(step.user ? { "x-user": step.user } : {}), ...step.headers },
    ...(step.body === undefined ? {} : { body: step.body }),
  });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!TRANSPORT.has(name)) headers[name] = name === "ratelimit" ? value.replace(/reset=\d+/, "reset=<s>") : value;
  });
  const body = (await response.text()).replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>");
  return { status: response.status, headers, body };
}

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
        const seen: Answer[] = [];
        for (const step of SUITE) seen.push(await exchange(server.url, step));
        answers.set(kind, seen);
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
      const list: Exchange = { method: "GET", path: "/byok/keys", user: "u1" };
      expect((await exchange(router.url, list)).status).toBe(200);
      expect((await exchange(handler.url, list)).status).toBe(200);
      const refused = [await exchange(router.url, list), await exchange(handler.url, list)];
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
