// One leak hunt over every route and error path, every store and every built-in provider: canary keys show up only in upstream auth headers.
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import express from "express";
import { Redis } from "ioredis";
import { Client } from "pg";
import request from "supertest";
import { BYOK, byokRouter, MemoryStore, PostgresStore, RedisStore, type KeyEncryptionKey } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeReply, startFakeProviders } from "../../lib/testing";
import { keyEchoes } from "../helpers/canary";
import { expectOnlyInAuthHeader, leakHunt } from "../helpers/leak-suite";
import { freePort } from "../helpers/redis-server";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";
import { type KekSetup, startKek } from "../helpers/key-services";
// The optional SDKs load on a provider's first call, inside its timeoutMs; load them up front so the
// short timeout below measures the upstream, not a cold require on a busy machine.
import "openai";
import "@anthropic-ai/sdk";

// "+", "/", "=" and "%" so that the key's URL-encoded forms differ from the key itself.
const CANARIES = {
  gemini: "AIzaCANARYgemini-0123+456/789=abcd%QWER",
  openai: "sk-CANARYopenai-0123+456/789=abcd%ASDF",
  anthropic: "sk-ant-CANARYanthropic-0123+456/789=%ZXCV",
  openrouter: "sk-or-v1-CANARYopenrouter-0123+456/789=%TYUI",
  "azure-openai": "CANARYazure0123+456/789=abcdef%GHJK",
} as const;
type Id = keyof typeof CANARIES;
const AUTH_HEADER: Record<Id, (key: string) => [string, string]> = {
  gemini: (k) => ["x-goog-api-key", k],
  openai: (k) => ["authorization", `Bearer ${k}`],
  anthropic: (k) => ["authorization", `Bearer ${k}`], // @anthropic-ai/sdk 1.x sends the key as a bearer token
  openrouter: (k) => ["authorization", `Bearer ${k}`],
  "azure-openai": (k) => ["api-key", k],
};
// Hundreds of calls through five stores and five providers, then a hunt for every 8-character piece of each key:
// 35–70 s alone, up to ~150 s with other suites on the same 2 cores; the limit only catches a hang.
jest.setTimeout(480_000);

const master = randomBytes(32);
const ERRORS: FakeReply[] = [400, 401, 403, 429, 500, 503].map((status) => ({
  status,
  retryAfter: 1,
  message: `upstream says no to ${Object.values(CANARIES).join(" ")}`,
}));
ERRORS.push({ garbage: true }, { reset: true }, { hang: true });

function appFor(
  byok: BYOK,
  rateLimit: Parameters<typeof byokRouter>[0]["rateLimit"] = false,
  teams: Partial<Parameters<typeof byokRouter>[0]> = {},
) {
  const app = express();
  app.use(
    (req, _res, next) => (
      ((req as unknown as { user?: { id: string } }).user = { id: String(req.headers["x-user"]) }),
      next()
    ),
  );
  app.use(byokRouter({ byok, rateLimit, ...teams }));
  return app;
}

describe("leak canary across byokRouter, every store and every built-in provider", () => {
  it("shows the API keys only in the upstream auth headers and the master key nowhere", async () => {
    const fakes = await startFakeProviders();
    const prefix = `${uniqueName("leak")}:`;
    const table = uniqueName("leak");
    const redis = new Redis(REDIS_URL);
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    const postgres = new PostgresStore({ connectionString: DATABASE_URL, table });
    await postgres.migrate();
    // Each key-encryption key too: on a MemoryStore, with the key service's secrets hunted like the master key.
    const keks: Record<string, KekSetup> = {
      "memory-vault": await startKek("vaultTransit"),
      "memory-kms": await startKek("awsKms"),
    };
    const stores: Record<string, KeyStore> = {
      memory: new MemoryStore(),
      redis: new RedisStore({ url: REDIS_URL, prefix }),
      postgres,
      "memory-vault": new MemoryStore(),
      "memory-kms": new MemoryStore(),
    };
    const providers = Object.fromEntries(
      Object.entries(fakes.providers).map(([id, o]) => [id, { ...o, timeoutMs: 600 }]),
    );
    const hunt = leakHunt();
    const { seen, events } = hunt;
    const responses: string[] = [];
    const instances: BYOK[] = [];
    const record = (res: request.Response) =>
      void responses.push(JSON.stringify({ status: res.status, headers: res.headers, text: res.text, body: res.body }));
    const newByok = (store: KeyStore, keyEncryption?: KeyEncryptionKey) => {
      const byok = new BYOK({
        ...(keyEncryption ? { keyEncryption } : { masterKey: master.toString("base64") }),
        store,
        providers,
        budgets: { user: { tokensPerDay: 1e12 }, team: { tokensPerMonth: 1e12 } }, // reservations in every store, hunted too
        onEvent: hunt.onEvent,
      });
      instances.push(byok);
      return byok;
    };

    try {
      await hunt.capture(async () => {
        for (const [storeName, store] of Object.entries(stores)) {
          const byok = newByok(store, keks[storeName]?.kek);
          const app = appFor(byok);
          seen.push(byok, store);
          for (const id of Object.keys(CANARIES) as Id[]) {
            const key = CANARIES[id];
            const user = `${storeName}-${id}`;
            // An Azure key registers with its resource endpoint (the fake's).
            const keyBody = (apiKey: string) => ({
              provider: id,
              apiKey,
              ...(id === "azure-openai" ? { endpoint: fakes["azure-openai"].url } : {}),
            });
            const call = (method: "post" | "get" | "delete", path: string, body?: object) => {
              const r = request(app)[method](`/byok${path}`).set("x-user", user);
              return body ? r.send(body) : r;
            };
            const expectStatus = async (pending: PromiseLike<request.Response>, status: number) => {
              const res = await pending;
              record(res);
              expect([storeName, id, res.status, res.status === status ? "" : res.text]).toEqual([
                storeName,
                id,
                status,
                "",
              ]);
              return res;
            };
            await expectStatus(call("post", "/keys", keyBody(`bad${key}`)), 422);
            await expectStatus(call("post", "/keys", keyBody(`${key} x`)), 400);
            await expectStatus(call("post", "/keys", { provider: "nope", apiKey: key }), 400);
            await expectStatus(call("post", "/keys", keyBody(key)), 201);
            // Key health: the documented quota and rate-limit refusals (key.status_changed events, stored
            // statuses; the GET /keys lists the last, with statusUntil), then the chat's success sets it ok.
            for (const reply of [{ refuse: "quota" }, { refuse: "rate_limit", retryAfter: 30 }] as FakeReply[]) {
              fakes[id].enqueue(reply);
              record(await call("post", "/chat", { provider: id, prompt: "x" }));
            }
            await expectStatus(call("get", "/keys"), 200);
            await expectStatus(call("post", "/chat", { provider: id, prompt: "hello" }), 200);
            // Then: only a middle piece of the key, which no credential pattern catches, and the key
            // URL-encoded, base64, hex or reversed, whole or a middle piece, in the message or the error type.
            const echoes = Object.values(keyEchoes(key)).flatMap((echo) => [echo, echo.slice(5, 21)]);
            const echoReplies: FakeReply[] = [
              ...echoes.map((echo) => ({ status: 400, message: `bad value (${echo}) here` })),
              ...echoes.map((echo) => ({ status: 400, message: "bad value", errorType: echo })),
            ];
            for (const reply of [
              ...ERRORS,
              { status: 400, message: `bad value ${key.slice(4, 16)}` },
              ...echoReplies,
            ]) {
              fakes[id].enqueue(reply);
              record(await call("post", "/chat", { provider: id, prompt: "x" }));
            }
            await expectStatus(call("post", "/keys/check", { provider: id }), 200);
            fakes[id].enqueue({ status: 401, message: `Incorrect API key provided: ${key}` });
            expect((await expectStatus(call("post", "/keys/check", { provider: id }), 200)).body.status).toBe(
              "invalid",
            );
            await expectStatus(call("post", "/chat", { provider: id, prompt: "a b c", stream: true }), 200);
            // Failing mid-stream: an SSE error event, or a JSON 502 when the SDK read the failure before the first chunk.
            for (const reply of [{ errorAfterChunks: 1, message: `stream broke for ${key}` }, { dropAfterChunks: 1 }]) {
              fakes[id].enqueue({ chunks: ["a ", "b ", "c"], ...reply });
              const res = await call("post", "/chat", { provider: id, prompt: "x", stream: true });
              record(res);
              expect(res.status === 200 ? res.text : res.body.error.code).toMatch(/event: error|PROVIDER_/);
            }
            // Usage rows of every call above, over HTTP and through the API, where the store keeps usage.
            if (store.readUsage) {
              await expectStatus(call("get", "/usage"), 200);
              seen.push(await byok.usage({ userId: user }));
            }
            const ai = byok.use(user);
            for (const reply of echoReplies) {
              fakes[id].enqueue(reply);
              seen.push(await ai.chat({ provider: id, prompt: "x" }).catch((e: unknown) => e)); // thrown errors, which apps log
            }
            seen.push(ai, await ai.keys(), await ai.models(id));
            record(await call("get", `/models?provider=${id}`));
            // Azure lists no models (its list is not the deployments): nothing goes upstream to refuse.
            if (id !== "azure-openai")
              fakes[id].enqueue({ status: 401, message: `Incorrect API key provided: ${key}` });
            seen.push(await ai.models(id).catch((e: unknown) => e));
            fakes[id].enqueue({ status: 401, message: `Incorrect API key provided: ${key}` });
            seen.push(await ai.chat({ provider: id, prompt: "x" }).catch((e: unknown) => e));
            const stored = (await store.get(user, id))!;
            await store.compareAndSwap(
              user,
              id,
              stored.ciphertext,
              stored.ciphertext.replace(/\.(.)/, (_m, c: string) => `.${c === "A" ? "B" : "A"}`),
            );
            const unreadable = await expectStatus(call("post", "/chat", { provider: id, prompt: "x" }), 500);
            expect(unreadable.body.error.code).toBe("KEY_UNREADABLE");
            expect((await expectStatus(call("post", "/keys/check", { provider: id }), 200)).body.status).toBe(
              "unreadable",
            );
            seen.push(await ai.chat({ provider: id, prompt: "x" }).catch((e: unknown) => e));
            await expectStatus(call("post", "/keys", keyBody(key)), 200);
          }
          // Team keys: a manager adds the team's key over HTTP, a member chats with it, lists it, sees it refused.
          const teamId = `team-${storeName}`;
          const teamApp = appFor(byok, false, { getTeamId: () => teamId, canManageTeamKeys: () => true });
          for (const id of Object.keys(CANARIES) as Id[]) {
            const key = CANARIES[id];
            const send = (method: "post" | "get" | "delete", path: string, body?: object) => {
              const r = request(teamApp)[method](`/byok${path}`).set("x-user", `${storeName}-member`);
              return body ? r.send(body) : r;
            };
            const teamKey = {
              provider: id,
              apiKey: key,
              ...(id === "azure-openai" ? { endpoint: fakes[id].url } : {}),
            };
            const statuses: number[] = [];
            const keep = (res: request.Response) => (record(res), statuses.push(res.status));
            keep(await send("post", "/team/keys", teamKey));
            keep(await send("get", "/team/keys"));
            keep(await send("get", "/keys"));
            keep(await send("post", "/chat", { provider: id, prompt: "team" }));
            fakes[id].enqueue({ status: 401, message: `Incorrect API key provided: ${key}` });
            keep(await send("post", "/chat", { provider: id, prompt: "team" }));
            seen.push(await byok.use(`${storeName}-member`, { teamId }).keys());
            keep(await send("delete", `/team/keys?provider=${id}`));
            expect([storeName, id, statuses]).toEqual([storeName, id, [201, 200, 200, 200, 422, 204]]);
          }
          if (store.readUsage) {
            const teamUsage = await request(teamApp).get("/byok/usage?team=1").set("x-user", `${storeName}-member`);
            record(teamUsage);
            expect([storeName, teamUsage.status, teamUsage.body.usage.length > 0]).toEqual([storeName, 200, true]);
            seen.push(await byok.usage({ teamId }), await byok.use(`${storeName}-member`).usage());
          }
          // Connect OpenRouter: the key the code exchange hands out is a canary; it must show in no redirect or answer.
          const connectApp = appFor(byok, false, { connect: { openrouter: true } });
          const connectUser = `${storeName}-connect`;
          const started = await request(connectApp)
            .get("/byok/connect/openrouter?returnTo=/s")
            .set("x-user", connectUser);
          record(started);
          const page = new URL(started.headers.location!);
          const back = new URL(page.searchParams.get("callback_url")!);
          const code = fakes.openrouter.mintCode(page.searchParams.get("code_challenge")!, CANARIES.openrouter);
          back.searchParams.set("code", code);
          const finish = (user: string) =>
            request(connectApp)
              .get(back.pathname + back.search)
              .set("x-user", user);
          const connected = await finish(connectUser);
          record(connected);
          expect([connected.status, connected.headers.location]).toEqual([303, "/s"]);
          for (const res of [await finish(connectUser), await finish("someone-else")]) {
            record(res);
            expect(res.status).toBe(400);
          }
          seen.push(await byok.listKeys(connectUser));
          // byok's own rate limit, counted in this store's backend where it has one
          const limited = appFor(byok, { chat: { windowMs: 60_000, limit: 1 }, keys: { windowMs: 60_000, limit: 1 } });
          for (let i = 0; i < 2; i++)
            record(
              await request(limited)
                .post("/byok/chat")
                .set("x-user", `${storeName}-gemini`)
                .send({ provider: "gemini", prompt: "x" }),
            );
          expect(responses.at(-1)).toContain("RATE_LIMITED");
        }
        // a store whose backend is down
        const down = new RedisStore({ url: `redis://127.0.0.1:${await freePort()}`, prefix });
        const downByok = newByok(down);
        const downApp = appFor(downByok, {}, { connect: { openrouter: true } });
        seen.push(downByok, down);
        for (const [method, path, body] of [
          ["post", "/keys", { provider: "gemini", apiKey: CANARIES.gemini }],
          ["get", "/keys"],
          ["post", "/chat", { prompt: "x" }],
          ["delete", "/keys", { provider: "gemini" }],
          ["get", "/connect/openrouter"],
        ] as const) {
          const res = await request(downApp)[method](`/byok${path}`).set("x-user", "down-user").send(body);
          record(res);
          expect([path, res.status, res.body.error.code]).toEqual([path, 503, "STORE_UNAVAILABLE"]);
        }
        seen.push(
          await downByok
            .registerKey({ userId: "down-user", provider: "openai", apiKey: CANARIES.openai })
            .catch((e: unknown) => e),
        );
      });

      const raw: string[] = [];
      for (const pattern of [`${prefix}*`, `byok-rl:${prefix}*`]) {
        for (const key of await redis.keys(pattern))
          raw.push(JSON.stringify(await redis.hgetall(key).catch(() => redis.get(key))));
      }
      raw.push(JSON.stringify((await pg.query(`SELECT * FROM ${table}`)).rows));
      for (const companion of ["_once", "_usage", "_budget"])
        raw.push(JSON.stringify((await pg.query(`SELECT * FROM ${table}${companion}`)).rows));
      for (const name of ["memory", ...Object.keys(keks)])
        for await (const batch of stores[name]!.scan()) raw.push(JSON.stringify(batch));
      expect(raw.join("").length).toBeGreaterThan(1000);
      expect(events.length).toBeGreaterThan(50);
      expect(events.filter((e) => e.type === "key.status_changed").length).toBeGreaterThan(20);
      const extra = [
        ...responses,
        ...raw,
        inspect(stores, { depth: 5, showHidden: true }),
        ...Object.values(keks).flatMap((k) => [inspect(k.kek, { depth: 5, showHidden: true }), JSON.stringify(k.kek)]),
      ];
      // The keys, and any 8 characters of one in a row (or of its encoded forms); the master key in every
      // encoding; the key services' secrets.
      hunt.expectNone(Object.values(CANARIES), { extra, pieces: true });
      hunt.expectNone(
        [
          master.toString("base64"),
          master.toString("hex"),
          master.toString("base64url"),
          ...Object.values(keks).flatMap((k) => k.secrets),
        ],
        { extra },
      );
      for (const id of Object.keys(CANARIES) as Id[]) {
        expect(fakes[id].requests.length).toBeGreaterThan(20);
        expectOnlyInAuthHeader(fakes[id], AUTH_HEADER[id](CANARIES[id]), "CANARY");
      }
    } finally {
      for (const byok of instances) await byok.close();
      const keys = [...(await redis.keys(`${prefix}*`)), ...(await redis.keys(`byok-rl:${prefix}*`))];
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      await pg.query(`DROP TABLE IF EXISTS ${table}, ${table}_once, ${table}_usage, ${table}_budget`);
      await pg.end();
      await fakes.close();
      for (const k of Object.values(keks)) await k.close();
    }
  });
});
