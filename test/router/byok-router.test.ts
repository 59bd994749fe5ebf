import express from "express";
import request from "supertest";
import { BYOK, ByokError, byokRouter } from "../../lib";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";

describe("byokRouter options", () => {
  const byok = new BYOK({ masterKey: TEST_MASTER_KEY });
  it.each([
    ["no options", undefined, "byokRouter({ byok })"],
    ["an unknown option", { byok, basepath: "/x" }, "Did you mean `basePath`?"],
    ["byok that is not a BYOK instance", { byok: {} }, "BYOK instance"],
    ["a basePath without a leading slash", { byok, basePath: "byok" }, 'start with "/"'],
    ["a basePath with a trailing slash", { byok, basePath: "/byok/" }, 'not end with "/"'],
    ["a basePath with route syntax", { byok, basePath: "/:user" }, "basePath"],
    ["getUserId that is not a function", { byok, getUserId: "user.id" }, "getUserId must be a function"],
    ["rateLimit that is a number", { byok, rateLimit: 5 }, "rateLimit must be false"],
    ["an unknown rateLimit key", { byok, rateLimit: { key: {} } }, "Did you mean `keys`?"],
    ["a zero limit", { byok, rateLimit: { chat: { limit: 0 } } }, "rateLimit.chat.limit"],
    ["a bad windowMs", { byok, rateLimit: { keys: { windowMs: -1 } } }, "rateLimit.keys.windowMs"],
    ["a bodyLimit that is not a size", { byok, bodyLimit: "lots" }, "bodyLimit"],
    ["helmet that is a string", { byok, helmet: "on" }, "helmet must be true, false"],
    ["helmet options helmet refuses", { byok, helmet: { strictTransportSecurity: { maxage: 5 } } }, "helmet"],
  ])("throws CONFIG_INVALID for %s, naming the fix", (_name, options, fix) => {
    let caught: unknown;
    try {
      byokRouter(options as never);
    } catch (e) {
      caught = e;
    }
    expect(ByokError.is(caught) && caught.code).toBe("CONFIG_INVALID");
    expect((caught as Error).message).toContain(fix);
  });

  it("accepts a custom basePath, bodyLimit, getUserId and helmet: false", async () => {
    const app = express();
    app.use(
      byokRouter({
        byok,
        basePath: "/api/byok",
        bodyLimit: 1024,
        helmet: false,
        rateLimit: false,
        getUserId: () => "u1",
      }),
    );
    const res = await request(app).get("/api/byok/keys");
    expect([res.status, res.body]).toEqual([200, { keys: [] }]);
    expect(res.headers["x-content-type-options"]).toBeUndefined();
    expect(res.headers["cache-control"]).toBe("no-store");
  });
});

describe.each(EXPRESS_VERSIONS)("byokRouter in an app on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  afterEach(() => f.close());

  it("attaches req.ai, so the app's own route chats with the user's key", async () => {
    f = await appFixture(kit);
    await request(f.app)
      .post("/byok/keys")
      .set("x-user", "u1")
      .send({ provider: "gemini", apiKey: "AIza-app-key-0001" });
    const res = await request(f.app).post("/app/ask").set("x-user", "u1").send({ q: "hi" });
    expect([res.status, res.body]).toEqual([200, { text: "Echo: hi" }]);
  });

  it("gives req.ai calls UNAUTHENTICATED without a user, through the app's error handler", async () => {
    f = await appFixture(kit);
    const res = await request(f.app).post("/app/ask").send({ q: "hi" });
    expect(res.status).toBe(599);
    expect(f.appErrors.map((e) => ByokError.is(e) && e.code)).toEqual(["UNAUTHENTICATED"]);
  });

  it("leaves errors of the app's own routes to the app's error handler", async () => {
    f = await appFixture(kit);
    const res = await request(f.app).get("/app/boom");
    expect([res.status, res.body]).toEqual([599, { appHandled: true }]);
    expect(f.appErrors).toHaveLength(1);
  });

  it("leaves the app's own routes without byok headers and its own body parsing untouched", async () => {
    f = await appFixture(kit);
    const plain = await request(f.app).get("/app/plain");
    expect(plain.headers["x-content-type-options"]).toBeUndefined();
    expect(plain.headers["cache-control"]).toBeUndefined();
    const form = await request(f.app).post("/app/echo").type("form").send("a=1&b=2");
    expect(form.body).toEqual({ body: { a: "1", b: "2" } });
    const big = await request(f.app)
      .post("/app/ask")
      .set("x-user", "u1")
      .send({ q: "x".repeat(30_000) });
    expect(big.status).toBe(599); // KEY_NOT_FOUND from the app's handler, not a 413 from byok's parser
    expect(ByokError.is(f.appErrors[0]) && (f.appErrors[0] as ByokError).code).toBe("KEY_NOT_FOUND");
  });

  it("uses a body the app parsed itself, and takes a JSON null from a non-strict parser as no body", async () => {
    f = await appFixture(kit);
    const app = kit.express() as express.Express;
    app.use(kit.express.json({ strict: false }), (req, _res, next) => {
      (req as unknown as { user: { id: string } }).user = { id: "u1" };
      next();
    });
    app.use(kit.lib.byokRouter({ byok: f.byok }));
    const json = (path: string, method: "post" | "delete", body: string) =>
      request(app)[method](path).type("application/json").send(body);
    expect((await json("/byok/keys", "post", '{"provider":"gemini","apiKey":"AIza-good-key-0000"}')).status).toBe(201);
    const chat = await json("/byok/chat", "post", "null");
    expect([chat.status, chat.body.error.details]).toEqual([400, { fields: ["prompt", "messages"] }]);
    expect((await json("/byok/keys?provider=gemini", "delete", "null")).status).toBe(204);
  });

  it("answers 500 INTERNAL without internals when getUserId throws", async () => {
    f = await appFixture(kit, {
      router: {
        getUserId: () => {
          throw new Error("session store exploded at db-7");
        },
      },
    });
    const res = await request(f.app).get("/byok/keys");
    expect([res.status, res.body]).toEqual([
      500,
      { error: { code: "INTERNAL", message: "Something went wrong. Please try again later." } },
    ]);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(f.appErrors).toHaveLength(0);
  });

  it("stringifies numeric user ids and treats an empty id as no user", async () => {
    f = await appFixture(kit, {
      router: { getUserId: (req) => (req.headers["x-user"] === "" ? "" : (42 as unknown as string)) },
    });
    await request(f.app)
      .post("/byok/keys")
      .set("x-user", "n")
      .send({ provider: "gemini", apiKey: "AIza-numeric-0042" });
    expect((await f.snapshot()).map((r) => r.userId)).toEqual(["42"]);
    const res = await request(f.app).get("/byok/keys").set("x-user", "");
    expect([res.status, res.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
  });

  it("takes the user from getUserId only: a userId in the query is ignored", async () => {
    f = await appFixture(kit);
    await request(f.app)
      .post("/byok/keys?userId=victim")
      .set("x-user", "u1")
      .send({ provider: "gemini", apiKey: "AIza-query-key-01" });
    expect((await f.snapshot()).map((r) => r.userId)).toEqual(["u1"]);
    const res = await request(f.app).get("/byok/keys?userId=u1");
    expect(res.status).toBe(401);
  });
});
