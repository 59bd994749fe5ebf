// The apps the benchmarks load: Express or Hono + the Gemini SDK (@google/genai) called directly, and byokRouter
// (Express) or byokHandler (Hono) over MemoryStore or RedisStore.
import { GoogleGenAI } from "@google/genai";
import { Hono } from "hono";
import type { Redis } from "ioredis";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { BYOK, byokHandler, byokRouter, MemoryStore, RedisStore, type RouterOptions } from "../lib";
import type { KeyStore } from "../lib/extend";

export type Variant = "memory" | "redis";
/** Router pieces a variant can leave out, to price each in the same run. */
export type Without = "helmet" | "ratelimit";
/** What a variant can add: `budget`, a daily token budget per user key that never runs out (prices the reservation). */
export type With = "budget";
/** The budget of the `-budget` variants: every chat reserves and settles against it, none is ever refused. */
const NEVER_REACHED = { user: { tokensPerDay: 1e15 } };
export const BENCH_KEY = "AIzaBENCH-0123456789abcdefghijk";
export const BENCH_USER = "bench-user";
export const BENCH_BODY = JSON.stringify({ prompt: "Say hello" });
const MASTER_KEY = Buffer.alloc(32, 9).toString("base64");
const MODEL = "gemini-2.5-flash";

/** The baselines' one SDK client, with a fixed key and base URL: what an app does without byok-ai. */
function geminiClient(upstream: string): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: BENCH_KEY,
    vertexai: false,
    httpOptions: { baseUrl: upstream, apiVersion: "v1beta", timeout: 60_000 },
  });
}

/** The baselines' chat: one SDK call, answered in byok-ai's ChatResponse shape. */
async function geminiChat(ai: GoogleGenAI, prompt: string) {
  const r = await ai.models.generateContent({ model: MODEL, contents: [{ role: "user", parts: [{ text: prompt }] }] });
  const u = r.usageMetadata;
  return {
    text: r.text ?? "",
    provider: "gemini",
    model: MODEL,
    finishReason: "stop",
    usage: {
      inputTokens: u?.promptTokenCount ?? 0,
      outputTokens: u?.candidatesTokenCount ?? 0,
      totalTokens: u?.totalTokenCount ?? 0,
    },
  };
}

/**
 * (a) The baseline: Express calling the SDK directly.
 * With `before`, each request first awaits it (the floor variants' Redis commands).
 */
export function bareGeminiApp(upstream: string, before?: () => Promise<unknown>): Express {
  const ai = geminiClient(upstream);
  const app = express();
  app.post("/byok/chat", express.json(), (req: Request, res: Response, next: NextFunction) => {
    const chat = async () => {
      if (before) await before();
      res.json(await geminiChat(ai, String((req.body as { prompt?: string }).prompt)));
    };
    chat().catch(next);
  });
  return app;
}

/** An app for a fetch-style server (served on @hono/node-server), with what the bench asks of Express's `app.locals`. */
export interface FetchApp {
  fetch: (request: globalThis.Request) => globalThis.Response | Promise<globalThis.Response>;
  locals: { close?: () => Promise<void>; redisFloorMs?: () => Promise<number> };
}

/** (h) The fetch handler's baseline: Hono calling the SDK directly. */
export function bareHonoApp(upstream: string): FetchApp {
  const ai = geminiClient(upstream);
  const app = new Hono();
  app.post("/byok/chat", async (c) => c.json(await geminiChat(ai, String((await c.req.json()).prompt))));
  return { fetch: app.fetch, locals: {} };
}

/** rate-limit-redis's increment script, verbatim: what the router's chat counter runs in Redis per request. */
const COUNTER_SCRIPT = `local windowMs = tonumber(ARGV[1])
local timeToExpire = redis.call("PTTL", KEYS[1])
if timeToExpire <= 0 then
redis.call("SET", KEYS[1], 1, "PX", windowMs)
return { 1, windowMs }
end
local totalHits = redis.call("INCR", KEYS[1])
return { totalHits, timeToExpire }`;

/**
 * The floor variants, on a connection set up as RedisStore's (auto-pipelining): the bare app plus one
 * raw Redis GET per request (`floor`: the least any per-user key lookup in Redis costs), or plus that
 * GET and the counter's script sent together (`counter`: the least a shared rate-limit counter adds).
 */
export async function floorApp(upstream: string, prefix: string, redisUrl: string, counter: boolean): Promise<Express> {
  const { Redis: RedisClient } = await import("ioredis");
  const redis = new RedisClient(redisUrl, { enableAutoPipelining: true });
  redis.defineCommand("countHit", { numberOfKeys: 1, lua: COUNTER_SCRIPT });
  const countHit = (redis as unknown as { countHit: (key: string, windowMs: number) => Promise<unknown> }).countHit;
  const get = () => redis.get(`${prefix}floor`);
  const app = bareGeminiApp(
    upstream,
    counter ? () => Promise.all([get(), countHit.call(redis, `${prefix}counter`, 60_000)]) : get,
  );
  app.locals.close = async () => {
    await redis.del(`${prefix}counter`);
    await redis.quit();
  };
  return app;
}

/** (a2) The same route in the app's own handler through `byok.use(user).chat()` (MemoryStore): prices the router. */
export async function coreApp(upstream: string): Promise<Express> {
  const byok = new BYOK({
    masterKey: MASTER_KEY,
    store: new MemoryStore(),
    providers: { gemini: { baseUrl: upstream } },
  });
  await byok.registerKey({ userId: BENCH_USER, provider: "gemini", apiKey: BENCH_KEY, validate: false });
  const app = express();
  app.post("/byok/chat", express.json(), (req: Request, res: Response, next: NextFunction) => {
    const user = String(req.headers["x-user"] ?? "");
    byok
      .use(user)
      .chat({ prompt: String((req.body as { prompt?: string }).prompt) })
      .then((answer) => res.json(answer), next);
  });
  return app;
}

/** The routes' BYOK for a variant, with the bench user's key, the store's Redis floor, and the clean-up. */
async function benchByok(variant: Variant, upstream: string, prefix: string, redisUrl: string, extras: With[]) {
  const store: KeyStore = variant === "memory" ? new MemoryStore() : new RedisStore({ url: redisUrl, prefix });
  const byok = new BYOK({
    masterKey: MASTER_KEY,
    store,
    providers: { gemini: { baseUrl: upstream } },
    ...(extras.includes("budget") ? { budgets: NEVER_REACHED } : {}),
  });
  await byok.registerKey({ userId: BENCH_USER, provider: "gemini", apiKey: BENCH_KEY, validate: false });
  /** The floor for (c): one raw Redis round trip (GET) on the store's own connection, from this process. */
  const redisFloorMs = async (count = 2000): Promise<number> => {
    const client = variant === "redis" ? ((await (store as RedisStore).connect()) as unknown as Redis) : undefined;
    if (!client) return NaN;
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await client.get(`${prefix}floor`);
      times.push(performance.now() - started);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  };
  const close = async () => {
    await byok.deleteUser(BENCH_USER).catch(() => undefined);
    if (variant === "redis") {
      const client = (store as RedisStore).client as Redis | undefined;
      // Rate-limit counters, and the usage rows and budget counters the run left under the store's prefix.
      const keys = [
        ...((await client?.keys(`byok-rl:${prefix}*`)) ?? []),
        ...((await client?.keys(`${prefix}*`)) ?? []),
      ];
      if (keys.length) await client!.del(...keys);
    }
    await byok.close();
  };
  return { byok, redisFloorMs, close };
}

/** The routes' options for a variant: defaults, with a rate limit that never triggers, less the pieces in `without`. */
const routeOptions = (without: Without[]): Pick<RouterOptions, "rateLimit" | "helmet"> => ({
  rateLimit: without.includes("ratelimit") ? false : { chat: { windowMs: 60_000, limit: 1e9 } },
  ...(without.includes("helmet") ? { helmet: false } : {}),
});

/**
 * (b)/(c) byokRouter with its defaults (helmet, validation, rate limiting with a limit that never triggers,
 * usage rows on), less the pieces in `without`, plus a budget with `extras: ["budget"]`.
 */
export async function byokApp(
  variant: Variant,
  upstream: string,
  prefix: string,
  redisUrl: string,
  without: Without[] = [],
  extras: With[] = [],
): Promise<Express> {
  const { byok, redisFloorMs, close } = await benchByok(variant, upstream, prefix, redisUrl, extras);
  const app = express();
  app.use((req: Request, _res: Response, next: NextFunction) => {
    (req as Request & { user?: { id: string } }).user = { id: String(req.headers["x-user"] ?? "") };
    next();
  });
  app.use(byokRouter({ byok, ...routeOptions(without) }));
  app.locals.redisFloorMs = redisFloorMs;
  app.locals.close = close;
  return app;
}

/** (d)/(e) byokHandler on Hono, with the same defaults, pieces left out and extras as {@link byokApp}. */
export async function byokHandlerApp(
  variant: Variant,
  upstream: string,
  prefix: string,
  redisUrl: string,
  without: Without[] = [],
  extras: With[] = [],
): Promise<FetchApp> {
  const { byok, redisFloorMs, close } = await benchByok(variant, upstream, prefix, redisUrl, extras);
  const handler = byokHandler({
    byok,
    ...routeOptions(without),
    getUserId: (request) => request.headers.get("x-user") ?? "",
  });
  const app = new Hono();
  app.all("/byok/*", (c) => handler(c.req.raw));
  return { fetch: app.fetch, locals: { redisFloorMs, close } };
}
