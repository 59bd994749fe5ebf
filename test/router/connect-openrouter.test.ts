// "Connect OpenRouter" over HTTP on Express 4 and 5 against the fake: the PKCE flow, its state (single use, bound to the user, shared by instances) and returnTo;
// and on every adapter, a failure a browser opened sent back to returnTo with its code.
import { createHash } from "node:crypto";
import { get as httpGet } from "node:http";
import type { Express, NextFunction, Request, Response } from "express";
import request from "supertest";
import type { BYOK, ByokEvent, ConnectOpenRouterOptions } from "../../lib";
import { type FakeProviders, type FakeRequest, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { thrownBy } from "../helpers/errors";
import {
  type AppFixture,
  appFixture,
  EXPRESS_VERSIONS,
  type Kit,
  loadKit,
  SERVER_KINDS,
  serveRoutes,
} from "../helpers/router-harness";
import { REDIS_URL, uniqueName } from "../helpers/services";

const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");
const isExchange = (r: FakeRequest) => r.method === "POST" && r.path === "/api/v1/auth/keys";

/** What the browser does between the two routes: follows the 302 to the fake's page, which approves at once. */
async function approve(location: string): Promise<URL> {
  const page = await fetch(location, { redirect: "manual" });
  expect(page.status).toBe(302);
  return new URL(page.headers.get("location")!);
}

const pathOf = (url: URL) => url.pathname + url.search;

describe.each(EXPRESS_VERSIONS)("GET /byok/connect/openrouter on %s", (version) => {
  const kit = loadKit(version);
  let fx: AppFixture;
  const events: ByokEvent[] = [];
  beforeEach(async () => {
    events.length = 0;
    fx = await appFixture(kit, {
      router: { connect: { openrouter: { returnTo: "/settings" } } },
      byok: { onEvent: (e) => void events.push(e) },
    });
  });
  afterEach(() => fx.close());

  const start = (user: string | undefined, query = "") => {
    const call = request(fx.app).get(`/byok/connect/openrouter${query}`);
    return user === undefined ? call : call.set("x-user", user);
  };
  const callback = (user: string | undefined, path: string) => {
    const call = request(fx.app).get(path);
    return user === undefined ? call : call.set("x-user", user);
  };
  /** Start as `user` and approve at the fake: the callback the browser then opens. */
  const startAndApprove = async (user: string, query = "") => {
    const started = await start(user, query);
    expect(started.status).toBe(302);
    return { started, back: await approve(started.headers.location!) };
  };

  it("sends the user to OpenRouter with an S256 challenge, then stores the key and 303s to returnTo", async () => {
    const started = await start("u1", "?returnTo=%2Fsettings%3Ftab%3Dkeys");
    expect(started.status).toBe(302);
    expect(started.headers["cache-control"]).toBe("no-store");
    const to = new URL(started.headers.location!);
    expect(to.origin + to.pathname).toBe(fx.fakes.openrouter.authUrl);
    expect(to.searchParams.get("code_challenge_method")).toBe("S256");
    const challenge = to.searchParams.get("code_challenge")!;
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const back = new URL(to.searchParams.get("callback_url")!);
    expect(back.pathname).toBe("/byok/connect/openrouter/callback");
    expect(back.origin).toBe(new URL(started.request.url).origin);
    expect(back.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const returned = await approve(started.headers.location!);
    const done = await callback("u1", pathOf(returned));
    expect([done.status, done.headers.location, done.text]).toEqual([303, "/settings?tab=keys", ""]);
    expect(done.headers["cache-control"]).toBe("no-store");

    const exchange = fx.fakes.openrouter.requests.filter(isExchange);
    expect(exchange).toHaveLength(1);
    const body = exchange[0]!.body as Record<string, string>;
    expect(body).toEqual({
      code: returned.searchParams.get("code"),
      code_verifier: expect.any(String),
      code_challenge_method: "S256",
    });
    // The challenge the user's browser carried is the verifier's S256; the verifier itself went only to the exchange.
    expect(s256(body.code_verifier!)).toBe(challenge);
    for (const shown of [started.headers.location!, pathOf(returned), done.headers.location!])
      expect(shown).not.toContain(body.code_verifier);

    // Stored like POST /keys: validated with the key, listed for the user, one key.registered event.
    const minted = fx.fakes.openrouter.requests.find((r) => r.op === "validate")?.apiKey;
    expect(minted).toMatch(/^sk-or-v1-/);
    const keys = await request(fx.app).get("/byok/keys").set("x-user", "u1");
    expect(keys.body.keys).toEqual([
      expect.objectContaining({ provider: "openrouter", owner: "user", hint: `\u2026${minted!.slice(-4)}` }),
    ]);
    expect(events.map((e) => e.type)).toContain("key.registered");
    expect(events.find((e) => e.type === "key.registered")).toMatchObject({ userId: "u1", provider: "openrouter" });
    expect(JSON.stringify(events)).not.toContain(minted);
  });

  it("uses the configured default returnTo when the link gives none", async () => {
    const { back } = await startAndApprove("u1");
    const done = await callback("u1", pathOf(back));
    expect([done.status, done.headers.location]).toEqual([303, "/settings"]);
  });

  it("answers 400 naming state for a replayed callback, and exchanges and stores nothing more", async () => {
    const { back } = await startAndApprove("u1");
    expect((await callback("u1", pathOf(back))).status).toBe(303);
    const before = await fx.snapshot();
    const replay = await callback("u1", pathOf(back));
    expect([replay.status, replay.body.error.code, replay.body.error.details]).toEqual([
      400,
      "INVALID_REQUEST",
      { fields: ["state"] },
    ]);
    expect(fx.fakes.openrouter.requests.filter(isExchange)).toHaveLength(1);
    expect(await fx.snapshot()).toEqual(before);
  });

  it("answers another user's callback 400 as for a used state (the state is kept under its owner), storing nothing for them", async () => {
    const { back } = await startAndApprove("u1");
    const foreign = await callback("u2", pathOf(back));
    expect([foreign.status, foreign.body.error.code, foreign.body.error.details]).toEqual([
      400,
      "INVALID_REQUEST",
      { fields: ["state"] },
    ]);
    expect(fx.fakes.openrouter.requests.filter(isExchange)).toHaveLength(0);
    expect(await fx.snapshot()).toEqual([]);
    // Not found under u2, so not spent: the user who started the flow still finishes it.
    expect((await callback("u1", pathOf(back))).status).toBe(303);
    expect((await request(fx.app).get("/byok/keys").set("x-user", "u2")).body.keys).toEqual([]);
  });

  it.each([
    ["no state", (code: string) => `?code=${code}`],
    ["an unknown state", (code: string) => `?code=${code}&state=${"A".repeat(43)}`],
    ["a malformed state", (code: string) => `?code=${code}&state=abc`],
    ["two states", (code: string) => `?code=${code}&state=${"A".repeat(43)}&state=${"B".repeat(43)}`],
  ])("answers 400 naming state for %s, storing nothing", async (_name, query) => {
    const code = fx.fakes.openrouter.mintCode(s256("x".repeat(43)));
    const res = await callback("u1", `/byok/connect/openrouter/callback${query(code)}`);
    expect([res.status, res.body.error.code, res.body.error.details]).toEqual([
      400,
      "INVALID_REQUEST",
      { fields: ["state"] },
    ]);
    expect(await fx.snapshot()).toEqual([]);
  });

  it("answers 400 naming code when the callback has none, or OpenRouter refuses it, storing nothing", async () => {
    const { back } = await startAndApprove("u1");
    const state = back.searchParams.get("state")!;
    const none = await callback("u1", `/byok/connect/openrouter/callback?state=${state}`);
    expect([none.status, none.body.error.details]).toEqual([400, { fields: ["code"] }]);
    // The state is still good (nothing was taken), but OpenRouter does not know this code.
    const refused = await callback("u1", `/byok/connect/openrouter/callback?state=${state}&code=not-a-code`);
    expect([refused.status, refused.body.error.details]).toEqual([400, { fields: ["code"] }]);
    expect(fx.fakes.openrouter.requests.filter(isExchange)).toHaveLength(1);
    expect(await fx.snapshot()).toEqual([]);
  });

  it("answers 401 UNAUTHENTICATED to both routes without a signed-in user", async () => {
    expect((await start(undefined)).status).toBe(401);
    const { back } = await startAndApprove("u1");
    const res = await callback(undefined, pathOf(back));
    expect([res.status, res.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
  });

  it.each(
    [
      "//evil.example",
      "//evil.example/settings",
      "https://evil.example",
      "http:evil.example",
      "javascript:alert(1)",
      "evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "%2F%2Fevil.example",
      "/..//evil.example",
      "/.//evil.example",
      "/a/../..//evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      " /settings",
      "",
      ["/".padEnd(2049, "a")],
    ].map((v) => (Array.isArray(v) ? [`${v[0]!.length} characters`, v[0]!] : [JSON.stringify(v), v])),
  )("refuses returnTo %s with 400 naming returnTo, and redirects nowhere", async (_label, returnTo) => {
    const res = await start("u1", `?returnTo=${encodeURIComponent(returnTo)}`);
    expect([res.status, res.body.error.code, res.body.error.details]).toEqual([
      400,
      "INVALID_REQUEST",
      { fields: ["returnTo"] },
    ]);
    expect(res.headers.location).toBeUndefined();
  });

  it.each([
    ["/settings?tab=keys#openrouter", "/settings?tab=keys#openrouter"],
    ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
    ["/caf\u00e9", "/caf%C3%A9"],
    ["/a/../settings", "/settings"],
  ])("accepts returnTo %j, a path on this site, and sends the user to %j", async (returnTo, location) => {
    const { back } = await startAndApprove("u1", `?returnTo=${encodeURIComponent(returnTo)}`);
    const done = await callback("u1", pathOf(back));
    expect([done.status, done.headers.location]).toEqual([303, location]);
  });
});

describe.each(EXPRESS_VERSIONS)("the connect callback URL on %s", (version) => {
  const kit = loadKit(version);
  const fixtures: AppFixture[] = [];
  afterEach(async () => {
    for (const fx of fixtures.splice(0)) await fx.close();
  });
  const callbackOf = (location: string) => new URL(new URL(location).searchParams.get("callback_url")!);

  it("includes the path the app mounts the router at", async () => {
    const fx = await appFixture(kit, { router: { connect: { openrouter: true } } });
    fixtures.push(fx);
    const app = kit.express() as Express;
    app.use("/api", fx.app);
    const res = await request(app).get("/api/byok/connect/openrouter").set("x-user", "u1");
    expect(callbackOf(res.headers.location!).pathname).toBe("/api/byok/connect/openrouter/callback");
  });

  it("is https behind a proxy Express trusts (trust proxy), from X-Forwarded-Proto", async () => {
    const fx = await appFixture(kit, { router: { connect: { openrouter: true } } });
    fixtures.push(fx);
    fx.app.set("trust proxy", "loopback");
    const res = await request(fx.app)
      .get("/byok/connect/openrouter")
      .set({ "x-user": "u1", "x-forwarded-proto": "https", host: "app.example" });
    expect(callbackOf(res.headers.location!).origin).toBe("https://app.example");
  });

  it("is the configured callbackUrl when there is one, with the state added", async () => {
    const callbackUrl = "https://app.example/byok/connect/openrouter/callback";
    const fx = await appFixture(kit, { router: { connect: { openrouter: { callbackUrl } } } });
    fixtures.push(fx);
    const res = await request(fx.app).get("/byok/connect/openrouter").set({ "x-user": "u1", host: "other.example" });
    const back = callbackOf(res.headers.location!);
    expect(back.origin + back.pathname).toBe(callbackUrl);
    expect(back.searchParams.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("counts both routes in the keys routes' per-user limit", async () => {
    const fx = await appFixture(kit, {
      router: { connect: { openrouter: true }, rateLimit: { keys: { limit: 2, windowMs: 60_000 } } },
    });
    fixtures.push(fx);
    const go = () => request(fx.app).get("/byok/connect/openrouter").set("x-user", "u1");
    expect([(await go()).status, (await go()).status, (await go()).status]).toEqual([302, 302, 429]);
  });
});

describe.each(EXPRESS_VERSIONS)("connect on two instances sharing a RedisStore, %s", (version) => {
  const kit: Kit = loadKit(version);

  it("finishes on one instance a flow started on the other", async () => {
    const prefix = `${uniqueName("connect")}:`;
    const store = () => new kit.lib.RedisStore({ url: REDIS_URL, prefix });
    const a = await appFixture(kit, { store: store(), router: { connect: { openrouter: true } } });
    // Both instances talk to one OpenRouter, as in production: b exchanges the code a's user came back with.
    const b = await appFixture(kit, {
      store: store(),
      router: { connect: { openrouter: true } },
      byok: { providers: a.fakes.providers },
    });
    try {
      const started = await request(a.app).get("/byok/connect/openrouter").set("x-user", "u1");
      const back = await approve(started.headers.location!);
      const done = await request(b.app).get(pathOf(back)).set("x-user", "u1");
      expect([done.status, done.headers.location]).toEqual([303, "/"]);
      expect((await a.byok.listKeys("u1")).map((k) => k.provider)).toEqual(["openrouter"]);
      const replay = await request(a.app).get(pathOf(back)).set("x-user", "u1");
      expect([replay.status, replay.body.error.details]).toEqual([400, { fields: ["state"] }]);
      await a.byok.deleteUser("u1");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("byokRouter connect options", () => {
  const kit = loadKit("express5");
  const fakesReady = startFakeProviders();
  afterAll(async () => (await fakesReady).close());
  const byokWith = async (options: Partial<ConstructorParameters<typeof kit.lib.BYOK>[0]> = {}) =>
    new kit.lib.BYOK({ masterKey: TEST_MASTER_KEY, providers: (await fakesReady).providers, ...options });

  it.each([
    ["returnTo off this site", { openrouter: { returnTo: "//evil.example" } }, "returnTo must be a path on this site"],
    ["returnTo a URL", { openrouter: { returnTo: "https://evil.example/" } }, "returnTo must be a path on this site"],
    [
      "a relative callbackUrl",
      { openrouter: { callbackUrl: "/byok/connect/openrouter/callback" } },
      "absolute http(s) URL",
    ],
    ["a misspelt setting", { openrouter: { returnto: "/" } }, "Did you mean `returnTo`?"],
    ["a non-boolean errorRedirect", { openrouter: { errorRedirect: "json" } }, "errorRedirect must be true"],
    ["an unknown flow", { github: true }, "connect"],
  ])("throws CONFIG_INVALID for %s, naming the fix", async (_name, connect, fix) => {
    const byok = await byokWith();
    expect(thrownBy(() => kit.lib.byokRouter({ byok, connect: connect as never }))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining(fix),
    });
  });

  it("throws CONFIG_INVALID when BYOK has no openrouter provider", async () => {
    const byok = await byokWith({ providers: { ...(await fakesReady).providers, openrouter: false } });
    expect(thrownBy(() => kit.lib.byokRouter({ byok, connect: { openrouter: true } }))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("needs BYOK's built-in openrouter provider"),
    });
  });

  it("throws CONFIG_INVALID naming store.once when the stores have no once capability", async () => {
    const memory = new kit.lib.MemoryStore();
    const byok = await byokWith({ store: { keys: memory, usage: memory.usage, budgets: memory.budgets } });
    expect(thrownBy(() => kit.lib.byokRouter({ byok, connect: { openrouter: true } }))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("store.once (the once capability)"),
    });
  });

  it("mounts no connect route without the option", async () => {
    const byok = await byokWith();
    const app = kit.express() as Express;
    app.use((req: Request, _res: Response, next: NextFunction) => {
      (req as unknown as { user: { id: string } }).user = { id: "u1" };
      next();
    });
    app.use(kit.lib.byokRouter({ byok, connect: { openrouter: false } }));
    expect((await request(app).get("/byok/connect/openrouter")).status).toBe(404);
    await byok.close();
  });
});

/** A GET as an HTTP client sends it, headers exactly as given (fetch would set its own Sec-Fetch-Mode). */
function get(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (part: string) => (body += part));
      res.on("end", () => resolve({ status: res.statusCode!, location: res.headers.location, body }));
    });
    req.on("error", reject);
  });
}

/** What a browser's page load sends (Chrome's Accept), and what a script's fetch sends. */
const PAGE_LOAD = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };
const NAVIGATE = { "sec-fetch-mode": "navigate" };
const SCRIPT = { accept: "*/*", "sec-fetch-mode": "cors" };

describe.each(SERVER_KINDS)("a failed connect route opened by a browser, on %s", (kind) => {
  let fakes: FakeProviders<"openrouter">;
  let byok: BYOK;
  const servers: { url: string; close(): Promise<void> }[] = [];
  beforeEach(async () => {
    fakes = await startFakeProviders({ only: ["openrouter"] });
    byok = new (loadKit(kind === "express4" ? "express4" : "express5").lib.BYOK)({
      masterKey: TEST_MASTER_KEY,
      providers: fakes.providers,
    });
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    await byok.close();
    await fakes.close();
  });
  const serve = async (openrouter: ConnectOpenRouterOptions = { returnTo: "/settings" }) => {
    const server = await serveRoutes(kind, byok, { connect: { openrouter } });
    servers.push(server);
    return server.url;
  };
  /** Starts as u1 and approves at the fake: the callback's URL the browser then opens. */
  const approved = async (url: string) => {
    const started = await get(`${url}/byok/connect/openrouter`, { "x-user": "u1" });
    return `${url}${pathOf(await approve(started.location!))}`;
  };

  it("sends a browser back to returnTo with the code of a replayed callback, and a script gets the JSON error", async () => {
    const url = await serve();
    const back = await approved(url);
    expect(await get(back, { ...PAGE_LOAD, "x-user": "u1" })).toMatchObject({ status: 303, location: "/settings" });
    const expected = {
      status: 303,
      location: "/settings?byok_error=INVALID_REQUEST&byok_error_fields=state",
      body: "",
    };
    expect(await get(back, { ...PAGE_LOAD, "x-user": "u1" })).toEqual(expected);
    expect(await get(back, { ...NAVIGATE, "x-user": "u1" })).toEqual(expected);
    const script = await get(back, { ...SCRIPT, "x-user": "u1" });
    expect([script.status, script.location, JSON.parse(script.body).error.details]).toEqual([
      400,
      undefined,
      { fields: ["state"] },
    ]);
  });

  it.each([
    ["lists text/html below JSON", "application/json, text/html;q=0.9"],
    ["ranks them the same", "text/html, application/json"],
    ["lists neither", "image/png, */*"],
  ])("answers JSON to a request whose Accept %s", async (_label, accept) => {
    const url = await serve();
    const res = await get(`${url}/byok/connect/openrouter/callback?state=abc&code=c`, { accept, "x-user": "u1" });
    expect([res.status, JSON.parse(res.body).error.code]).toEqual([400, "INVALID_REQUEST"]);
  });

  it("sends a browser whose start link has a returnTo off this site to the configured returnTo, never off-site", async () => {
    const url = await serve();
    const res = await get(`${url}/byok/connect/openrouter?returnTo=${encodeURIComponent("//evil.example")}`, {
      ...PAGE_LOAD,
      "x-user": "u1",
    });
    expect([res.status, res.location]).toEqual([
      303,
      "/settings?byok_error=INVALID_REQUEST&byok_error_fields=returnTo",
    ]);
  });

  it("sends a signed-out browser back to the start link's own returnTo, its query and fragment kept", async () => {
    const url = await serve();
    const returnTo = encodeURIComponent("/keys?tab=ai#openrouter");
    const started = await get(`${url}/byok/connect/openrouter?returnTo=${returnTo}`, PAGE_LOAD);
    expect([started.status, started.location]).toEqual([303, "/keys?tab=ai&byok_error=UNAUTHENTICATED#openrouter"]);
    const back = await get(`${url}/byok/connect/openrouter/callback?state=${"A".repeat(43)}&code=c`, NAVIGATE);
    expect([back.status, back.location]).toEqual([303, "/settings?byok_error=UNAUTHENTICATED"]);
  });

  it("answers a browser with the JSON error when errorRedirect is false", async () => {
    const url = await serve({ returnTo: "/settings", errorRedirect: false });
    const back = await approved(url);
    await get(back, { "x-user": "u1" });
    const replay = await get(back, { ...PAGE_LOAD, ...NAVIGATE, "x-user": "u1" });
    expect([replay.status, replay.location, JSON.parse(replay.body).error.code]).toEqual([
      400,
      undefined,
      "INVALID_REQUEST",
    ]);
  });
});
