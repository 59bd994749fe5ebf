// GET /byok/usage and budgets over HTTP on Express 4 and 5: own rows, a team's rows for its manager only, checked dates, 429 BUDGET_EXCEEDED with details.
import request from "supertest";
import { CANARY_KEY } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";
import { waitFor } from "../helpers/wait-for";

const TEAM_KEY = "AIza-team-usage-key-0001";
const today = () => new Date().toISOString().slice(0, 10);

describe.each(EXPRESS_VERSIONS)("GET /byok/usage on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  afterEach(() => f.close());

  /** alice manages the team acme, bob is a member, dave has no team. */
  const teams: Record<string, string> = { alice: "acme", bob: "acme" };
  const userOf = (req: unknown) => (req as { user?: { id: string } }).user?.id ?? "";
  const teamApp = async (byok: Partial<import("../../lib").ByokOptions> = {}) =>
    (f = await appFixture(kit, {
      byok,
      router: { getTeamId: (req) => teams[userOf(req)], canManageTeamKeys: (req) => userOf(req) === "alice" },
    }));
  const as = (user: string) => ({ "x-user": user });
  const usage = (user: string, query = "") => request(f.app).get(`/byok/usage${query}`).set(as(user));
  /** The user's rows once the chat's row (written in the background) is there. */
  const rowsOnce = async (user: string, query = "") => {
    let rows: unknown[] = [];
    await waitFor(async () => (rows = (await usage(user, query)).body.usage ?? []).length > 0, `usage of ${user}`);
    return rows;
  };

  it("answers 200 { usage } with the user's own rows after a chat, with no-store", async () => {
    await teamApp();
    await request(f.app).post("/byok/keys").set(as("u1")).send({ provider: "gemini", apiKey: CANARY_KEY }).expect(201);
    expect((await usage("u1")).body).toEqual({ usage: [] });
    await request(f.app).post("/byok/chat").set(as("u1")).send({ prompt: "Hello there" }).expect(200);
    expect(await rowsOnce("u1")).toEqual([
      {
        day: today(),
        provider: "gemini",
        model: "gemini-2.5-flash",
        userId: "u1",
        requests: 1,
        inputTokens: 2,
        outputTokens: 3,
        cachedInputTokens: 0,
        reasoningTokens: 0,
        costUsd: 0.000008, // at the price table's gemini-2.5-flash rates
        unpriced: 0,
        estimated: false,
      },
    ]);
    const res = await usage("u1", `?from=${today()}&to=${today()}`);
    expect([res.status, res.headers["cache-control"], res.body.usage.length]).toEqual([200, "no-store", 1]);
    expect((await usage("u1", "?from=2000-01-01&to=2000-01-31")).body).toEqual({ usage: [] });
    expect((await usage("u2")).body).toEqual({ usage: [] });
    expect(JSON.stringify(res.body)).not.toContain(CANARY_KEY);
  });

  it("answers the team's rows to its manager with ?team=1, 403 to a member, 404 NO_TEAM without a team", async () => {
    await teamApp();
    await request(f.app).post("/byok/team/keys").set(as("alice")).send({ provider: "gemini", apiKey: TEAM_KEY });
    await request(f.app).post("/byok/chat").set(as("bob")).send({ prompt: "team chat" }).expect(200);
    const teamRows = await rowsOnce("alice", "?team=1");
    expect(teamRows).toEqual([expect.objectContaining({ userId: "bob", teamId: "acme", requests: 1 })]);
    // bob sees his own use of the team's key in his own rows, and nobody else's.
    expect(await rowsOnce("bob")).toEqual(teamRows);
    expect((await usage("alice")).body).toEqual({ usage: [] });
    const member = await usage("bob", "?team=1");
    expect([member.status, member.body.error.code]).toEqual([403, "FORBIDDEN"]);
    const loner = await usage("dave", "?team=1");
    expect([loner.status, loner.body.error.code]).toEqual([404, "NO_TEAM"]);
    expect((await usage("alice", "?team=0")).body).toEqual({ usage: [] });
    expect(JSON.stringify(teamRows)).not.toContain(TEAM_KEY);
  });

  it("answers 401 UNAUTHENTICATED without a user", async () => {
    await teamApp();
    const res = await request(f.app).get("/byok/usage?team=1");
    expect([res.status, res.body.error.code, res.headers["cache-control"]]).toEqual([
      401,
      "UNAUTHENTICATED",
      "no-store",
    ]);
  });

  it("answers 400 INVALID_REQUEST naming the field for a bad day, range, repeat or team flag", async () => {
    await teamApp();
    const cases: [string, string[]][] = [
      ["?from=2026-02-30", ["from"]],
      ["?to=yesterday", ["to"]],
      ["?from=2026-05-02&to=2026-05-01", ["from", "to"]],
      ["?from=2020-01-01&to=2026-01-01", ["from", "to"]],
      ["?from=2026-01-01&from=2026-01-02", ["from"]],
      ["?team=yes", ["team"]],
    ];
    for (const [query, fields] of cases) {
      const res = await usage("u1", query);
      expect([query, res.status, res.body.error.code, res.body.error.details.fields]).toEqual([
        query,
        400,
        "INVALID_REQUEST",
        fields,
      ]);
    }
    // Empty values are the defaults, and other parameters are ignored, as on every byok route.
    expect((await usage("u1", "?from=&to=&provider=x")).status).toBe(200);
  });

  it("counts against the chat limit, not the key settings' one", async () => {
    f = await appFixture(kit, { router: { rateLimit: { chat: { limit: 2 }, keys: { limit: 1 } } } });
    expect((await usage("u1")).status).toBe(200);
    expect((await usage("u1")).status).toBe(200);
    const limited = await usage("u1");
    expect([limited.status, limited.body.error.code]).toEqual([429, "RATE_LIMITED"]);
    expect((await request(f.app).get("/byok/keys").set(as("u1"))).status).toBe(200);
  });

  it("answers 500 CONFIG_INVALID when the BYOK counts no usage (usage: false)", async () => {
    await teamApp({ usage: false });
    const res = await usage("u1");
    expect([res.status, res.body.error.code]).toEqual([500, "CONFIG_INVALID"]);
  });
});

describe.each(EXPRESS_VERSIONS)("POST /byok/chat over a budget on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  beforeEach(async () => {
    f = await appFixture(kit, { byok: { budgets: { user: { tokensPerDay: 100 } } } });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY, validate: false });
  });
  afterEach(() => f.close());
  const chat = (body: object, accept = "application/json") =>
    request(f.app).post("/byok/chat").set("x-user", "u1").set("accept", accept).send(body);
  const served = () => f.fake.requests.filter((r) => r.op !== "validate");

  /** Seconds until the next UTC midnight, as Retry-After counts them. */
  const untilMidnight = () => {
    const now = new Date();
    return (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
  };

  it("serves a chat that fits, and refuses one whose worst case does not with 429 BUDGET_EXCEEDED and Retry-After", async () => {
    f.fake.enqueue({ usage: { inputTokens: 30, outputTokens: 30 } });
    expect((await chat({ prompt: "fits", maxTokens: 40 })).status).toBe(200); // reserves 50, spends 60
    // 71 tokens would fit an empty day's 100, but not beside the first call's 50 or 60: it fits after the reset.
    const res = await chat({ prompt: "too big", maxTokens: 60 });
    expect([res.status, res.body.error.code, res.headers["cache-control"]]).toEqual([
      429,
      "BUDGET_EXCEEDED",
      "no-store",
    ]);
    const retryAfter = Number(res.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(untilMidnight()) + 1);
    expect(res.body.error).toEqual({
      code: "BUDGET_EXCEEDED",
      message: expect.any(String),
      details: {
        provider: "gemini",
        retryAfter,
        scope: "user",
        period: "day",
        unit: "tokens",
        limit: 100,
        used: expect.any(Number),
        requested: 71,
      },
    });
    expect([50, 60]).toContain(res.body.error.details.used); // the first call's reservation, or what it spent
    expect(served()).toHaveLength(1);
  });

  it("refuses a request larger than the whole budget with 429, no Retry-After, and its own message", async () => {
    const res = await chat({ prompt: "no maxTokens: 4,096 reserved" });
    expect([res.status, res.headers["retry-after"], res.headers["cache-control"]]).toEqual([
      429,
      undefined,
      "no-store",
    ]);
    expect(res.body.error).toEqual({
      code: "BUDGET_EXCEEDED",
      message: expect.stringContaining("Lower maxTokens"),
      details: {
        provider: "gemini",
        scope: "user",
        period: "day",
        unit: "tokens",
        limit: 100,
        requested: expect.any(Number),
        reason: "request_exceeds_budget",
      },
    });
    expect(res.body.error.details.requested).toBeGreaterThan(4096);
    expect(res.body.error.message).not.toMatch(/resets soon|try again later/);
    expect(served()).toEqual([]);
  });

  it("refuses a streamed chat before the stream starts: a plain 429 JSON answer, not an SSE error", async () => {
    for (const [body, accept] of [
      [{ prompt: "x", stream: true, maxTokens: 500 }, "application/json"],
      [{ prompt: "x", maxTokens: 500 }, "text/event-stream"],
    ] as const) {
      const res = await chat(body, accept);
      expect([res.status, res.headers["content-type"], res.body.error.code]).toEqual([
        429,
        "application/json; charset=utf-8",
        "BUDGET_EXCEEDED",
      ]);
      expect([res.headers["retry-after"], res.body.error.details.reason]).toEqual([
        undefined,
        "request_exceeds_budget",
      ]);
    }
    expect(served()).toEqual([]);
  });
});
