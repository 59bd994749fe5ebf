// Runs example-server/server.mjs as `npm run example` does, and walks the README's curl flow with fetch.
import { startFakeProviders, type FakeProviders } from "../../lib/testing";
import { type NodeProcess, startNode } from "../helpers/node-process";
import { REDIS_URL } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

const SERVER = "example-server/server.mjs";
type ErrorBody = { error: { code: string; message: string; details?: unknown } };
const LISTENING = /byok-ai example on (http:\/\/localhost:\d+)/;

/** A tiny cookie-carrying client for one demo user. */
function client(base: string) {
  let cookie = "";
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${base}${path}`, {
      redirect: "manual",
      ...init,
      headers: { cookie, ...(init.headers as Record<string, string>) },
    });
    const set = response.headers.getSetCookie();
    if (set.length > 0) cookie = set.map((c) => c.split(";")[0]).join("; ");
    return response;
  };
  const json = (path: string, body: unknown, method = "POST") =>
    call(path, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const login = (name: string) =>
    call("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `name=${encodeURIComponent(name)}`,
    });
  return { call, json, login, cookie: () => cookie, setCookie: (value: string) => void (cookie = value) };
}

describe("example-server (npm run example)", () => {
  const running: NodeProcess[] = [];
  const start = (env: Record<string, string | undefined> = {}) => {
    const child = startNode(SERVER, [], {
      PORT: "0",
      NODE_ENV: "development",
      BYOK_MASTER_KEY: "",
      SESSION_SECRET: "",
      REDIS_URL: "",
      GEMINI_BASE_URL: "",
      OPENAI_BASE_URL: "",
      ANTHROPIC_BASE_URL: "",
      OPENROUTER_BASE_URL: "",
      ...env,
    });
    running.push(child);
    return child;
  };
  afterAll(async () => void (await Promise.all(running.map((c) => c.stop()))));

  it("starts offline with fakes and a generated master key, and says both", async () => {
    const server = start();
    await server.waitFor(LISTENING);
    expect(server.output()).toMatch(/Offline mode: fake gemini, openai, anthropic/);
    expect(server.output()).toMatch(/No BYOK_MASTER_KEY set: .*will NOT survive a restart/);
    expect(server.output()).toMatch(/MemoryStore/);
  });

  it("signs in with a signed cookie, saves a key, summarizes, signs out, and ignores a forged cookie", async () => {
    const server = start();
    const http = client((await server.waitFor(LISTENING))[1]!);
    expect((await http.call("/keys")).headers.get("location")).toBe("/");
    expect((await http.call("/usage")).headers.get("location")).toBe("/");
    const login = await http.login("carol");
    expect([login.status, login.headers.get("location")]).toEqual([303, "/keys"]);
    expect(await (await http.call("/api/me")).json()).toEqual({ user: { id: "carol" }, demoAuth: true });
    const page = await http.call("/keys");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");

    const saved = await http.json("/byok/keys", { provider: "anthropic", apiKey: "sk-ant-example-key-Zz42" });
    expect([saved.status, ((await saved.json()) as { hint: string }).hint]).toEqual([201, "…Zz42"]);
    const checked = await http.json("/byok/keys/check", { provider: "anthropic" });
    expect([checked.status, ((await checked.json()) as { status: string }).status]).toEqual([200, "ok"]);
    const summary = await http.json("/summarize", { text: "Three short facts." });
    expect(await summary.json()).toEqual({
      summary: expect.stringContaining("Three short facts."),
      provider: "anthropic",
      model: expect.any(String),
    });

    const forged = http
      .cookie()
      .replace(/byok_demo=[^;]+/, `byok_demo=${Buffer.from('{"userId":"mallory"}').toString("base64")}`);
    const logout = await http.call("/logout", { method: "POST" });
    expect([logout.status, logout.headers.get("location")]).toEqual([303, "/"]);
    expect((await http.call("/api/me")).status).toBe(401);
    http.setCookie(forged); // a cookie edited to name another user fails its signature check
    expect((await http.call("/api/me")).status).toBe(401);
  });

  it("connects OpenRouter through the fake's authorization page and lands back on /keys", async () => {
    const server = start();
    const base = (await server.waitFor(LISTENING))[1]!;
    const http = client(base);
    await http.login("dave");
    const started = await http.call("/byok/connect/openrouter?returnTo=%2Fkeys%3Fconnected%3Dopenrouter");
    expect(started.status).toBe(302);
    const page = new URL(started.headers.get("location")!);
    expect(new URL(page.searchParams.get("callback_url")!).origin).toBe(base);
    // The offline fake plays the user approving at once: a 302 back to the callback with a code.
    const approved = await fetch(page, { redirect: "manual" });
    const back = new URL(approved.headers.get("location")!);
    expect(back.origin).toBe(base);
    const done = await http.call(back.pathname + back.search);
    expect([done.status, done.headers.get("location")]).toEqual([303, "/keys?connected=openrouter"]);
    const { keys } = (await (await http.call("/byok/keys")).json()) as { keys: { provider: string; hint: string }[] };
    expect(keys).toEqual([expect.objectContaining({ provider: "openrouter", hint: expect.stringMatching(/^…/) })]);
    // The same callback again: its state is spent. A script gets the JSON error; a browser goes back to the key
    // page, which explains the code.
    expect((await http.call(back.pathname + back.search)).status).toBe(400);
    const replayed = await http.call(back.pathname + back.search, { headers: { accept: "text/html" } });
    expect([replayed.status, replayed.headers.get("location")]).toEqual([
      303,
      "/keys?byok_error=INVALID_REQUEST&byok_error_fields=state",
    ]);
  });

  it("lets alice, the demo team's admin, add a team key that bob's chats use, and refuses bob's change", async () => {
    const server = start();
    const base = (await server.waitFor(LISTENING))[1]!;
    const alice = client(base);
    const bob = client(base);
    await alice.login("alice");
    await bob.login("bob");
    expect(await (await bob.call("/api/me")).json()).toEqual({
      user: { id: "bob", teamId: "demo-team", role: "member" },
      demoAuth: true,
    });
    const added = await alice.json("/byok/team/keys", { provider: "openai", apiKey: "sk-team-example-key-Tm01" });
    expect([added.status, ((await added.json()) as { owner: string }).owner]).toEqual([201, "team"]);
    const refused = await bob.json("/byok/team/keys", { provider: "openai", apiKey: "sk-bob-example-key-Bb01" });
    expect([refused.status, ((await refused.json()) as ErrorBody).error.code]).toEqual([403, "FORBIDDEN"]);
    // What bob's key page shows on his own OpenAI card (the team's key covers him) and his chat page names.
    type Listed = { keys: unknown[]; teamKeys: { hint: string; owner: string }[] };
    const keys = (await (await bob.call("/byok/keys")).json()) as Listed;
    expect([keys.keys, keys.teamKeys.map((k) => [k.owner, k.hint])]).toEqual([[], [["team", "…Tm01"]]]);
    const summary = await bob.json("/summarize", { text: "Team facts." });
    expect([summary.status, ((await summary.json()) as { provider: string }).provider]).toEqual([200, "openai"]);
    // The usage page's data: bob's chat with the team's key, in the team's rows for alice only.
    expect((await bob.json("/byok/chat", { prompt: "Count me." })).status).toBe(200);
    type Rows = { usage: { userId: string; teamId?: string; provider: string; requests: number }[] };
    let rows: Rows["usage"] = [];
    await waitFor(async () => {
      rows = ((await (await alice.call("/byok/usage?team=1")).json()) as Rows).usage;
      return rows.some((r) => r.userId === "bob");
    }, "bob's chat in the team's usage");
    expect(rows.find((r) => r.userId === "bob")).toMatchObject({ teamId: "demo-team", provider: "openai" });
    const forbidden = await bob.call("/byok/usage?team=1");
    expect([forbidden.status, ((await forbidden.json()) as ErrorBody).error.code]).toEqual([403, "FORBIDDEN"]);
    expect((await alice.call("/usage")).status).toBe(200);
  });

  it("answers /favicon.ico with 204 and no body, so browsers log no 404", async () => {
    const server = start();
    const http = client((await server.waitFor(LISTENING))[1]!);
    const icon = await http.call("/favicon.ico");
    expect([icon.status, await icon.text()]).toEqual([204, ""]);
  });

  it("answers /summarize errors as { error: { code, message } } with the byok status", async () => {
    const server = start();
    const http = client((await server.waitFor(LISTENING))[1]!);
    const noUser = await http.json("/summarize", { text: "x" });
    expect([noUser.status, ((await noUser.json()) as ErrorBody).error]).toEqual([
      401,
      { code: "UNAUTHENTICATED", message: "Please sign in to continue." },
    ]);
    await http.login("dave");
    const noKey = await http.json("/summarize", { text: "x" });
    expect([noKey.status, ((await noKey.json()) as ErrorBody).error.code]).toEqual([404, "KEY_NOT_FOUND"]);
    const empty = await http.json("/summarize", { text: "" });
    expect([empty.status, ((await empty.json()) as ErrorBody).error]).toEqual([
      400,
      { code: "INVALID_REQUEST", message: "Check this field: text.", details: { fields: ["text"] } },
    ]);
    expect((await http.login("not a valid name!")).headers.get("location")).toBe("/?error=name");
  });

  it("refuses to start in production without BYOK_MASTER_KEY, naming the fix", async () => {
    const server = start({ NODE_ENV: "production" });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(
      /BYOK_MASTER_KEY is required when NODE_ENV=production: generate one with `npx byok-ai keygen`/,
    );
  });

  describe("with every provider base URL set", () => {
    let fakes: FakeProviders;
    beforeAll(async () => void (fakes = await startFakeProviders()));
    afterAll(async () => fakes.close());

    it("starts no fakes of its own and sends keys to the configured URLs", async () => {
      const server = start({
        GEMINI_BASE_URL: fakes.gemini.url,
        OPENAI_BASE_URL: fakes.openai.url,
        ANTHROPIC_BASE_URL: fakes.anthropic.url,
        OPENROUTER_BASE_URL: `${fakes.openrouter.url}/api/v1`,
        BYOK_MASTER_KEY: "A".repeat(43) + "=",
      });
      const http = client((await server.waitFor(LISTENING))[1]!);
      expect(server.output()).not.toMatch(/Offline mode|BYOK_MASTER_KEY/);
      await http.login("erin");
      expect((await http.json("/byok/keys", { provider: "openai", apiKey: "sk-configured-url-0001" })).status).toBe(
        201,
      );
      expect(fakes.openai.requests.map((r) => r.apiKey)).toEqual(["sk-configured-url-0001"]);
      // /summarize: the AI SDK's generateObject through req.ai.connection(), with the user's key
      fakes.openai.enqueue({ text: JSON.stringify({ summary: "Short." }) });
      const summary = await http.json("/summarize", { text: "A long text." });
      expect(await summary.json()).toEqual({ summary: "Short.", provider: "openai", model: "gpt-4o-mini" });
      const sent = fakes.openai.requests[1]!;
      expect([
        sent.path,
        sent.apiKey,
        (sent.body as { text?: { format?: { type?: string } } }).text?.format?.type,
      ]).toEqual(["/responses", "sk-configured-url-0001", "json_schema"]);
    });
  });

  it("stores keys in Redis when REDIS_URL is set", async () => {
    const server = start({ REDIS_URL });
    const http = client((await server.waitFor(LISTENING))[1]!);
    expect(server.output()).toMatch(/stored encrypted in Redis/);
    await http.login(`redis-user-${process.pid}`);
    expect((await http.json("/byok/keys", { provider: "gemini", apiKey: "AIza-redis-example-0001" })).status).toBe(201);
    expect((await http.json("/byok/keys", { provider: "gemini" }, "DELETE")).status).toBe(204); // leaves the shared Redis clean
  });
});
