// End-user error messages: one plain text per code in every byok answer (JSON and SSE), reworded by byokRouter({ messages }).
import request from "supertest";
import { ERROR_STATUS, type ByokErrorCode } from "../../lib";
import { DEFAULT_MESSAGES, defaultMessage } from "../../lib/router/error-messages";
import { CANARY_KEY, TEST_MASTER_KEY as TEST_KEY } from "../helpers/canary";
import { thrownBy } from "../helpers/errors";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";

describe("the default error messages", () => {
  const codes = Object.keys(ERROR_STATUS) as ByokErrorCode[];

  it("has one plain sentence per code, with no route, no API name and no instructions for developers", () => {
    expect(Object.keys(DEFAULT_MESSAGES).sort()).toEqual([...codes].sort());
    for (const code of codes) {
      const text = defaultMessage(code, {});
      expect([code, text]).toEqual([code, expect.stringMatching(/^[A-Z].*\.$/)]);
      expect(text).not.toMatch(/\/|byok|\(|`|ask the user|getUserId|registerKey/i);
    }
  });

  it("names the fields to fix for INVALID_REQUEST, and only their names", () => {
    expect(defaultMessage("INVALID_REQUEST", { fields: ["prompt", "temperature"] })).toBe(
      "Check these fields: prompt, temperature.",
    );
    expect(defaultMessage("INVALID_REQUEST", { fields: ["prompt"] })).toBe("Check this field: prompt.");
    expect(defaultMessage("INVALID_REQUEST", {})).toBe("This request is not valid. Check what was sent and try again.");
  });
});

describe.each(EXPRESS_VERSIONS)("byokRouter error messages on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  afterEach(() => f.close());

  it("answers each code with its default message and machine-readable details", async () => {
    f = await appFixture(kit, { router: { rateLimit: false } });
    const noUser = await request(f.app).get("/byok/keys");
    expect(noUser.body.error).toEqual({ code: "UNAUTHENTICATED", message: "Please sign in to continue." });
    const noKey = await request(f.app)
      .post("/byok/chat")
      .set("x-user", "u1")
      .send({ prompt: "Hi", provider: "gemini" });
    expect([noKey.status, noKey.body.error]).toEqual([
      404,
      {
        code: "KEY_NOT_FOUND",
        message: "No API key is saved for this provider yet. Add one in your settings.",
        details: { provider: "gemini", fields: ["provider"] },
      },
    ]);
    const bad = await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: 5, temperature: "hot" });
    expect(bad.body.error).toEqual({
      code: "INVALID_REQUEST",
      message: "Check these fields: prompt, temperature.",
      details: { fields: ["prompt", "temperature"] },
    });
  });

  it("keeps the developer's detailed message on the thrown error while the answer is the plain one", async () => {
    f = await appFixture(kit, { router: { rateLimit: false } });
    const thrown = await f.byok
      .use("u1")
      .chat({ prompt: "Hi", provider: "gemini" })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(thrown?.message).toMatch(/no key for the requested provider; register one first \(byok\.registerKey/);
    const answered = await request(f.app)
      .post("/byok/chat")
      .set("x-user", "u1")
      .send({ prompt: "Hi", provider: "gemini" });
    expect(answered.body.error.message).toBe("No API key is saved for this provider yet. Add one in your settings.");
  });

  it("uses the same UNAUTHENTICATED text for the byok routes and for req.ai in the app's routes", async () => {
    f = await appFixture(kit);
    const route = await request(f.app).get("/byok/keys");
    expect(route.body.error.message).toBe("Please sign in to continue.");
    const byok = new kit.lib.BYOK({ masterKey: TEST_KEY }); // the fixture has its own error handler: a fresh app
    const app = kit.express();
    app.use(kit.lib.byokRouter({ byok }));
    app.get("/mine", (req, res, next) => void req.ai.keys().then((k) => res.json(k), next));
    app.use(kit.lib.byokErrorHandler());
    expect((await request(app).get("/mine")).body.error).toEqual(route.body.error);
  });

  it("rewords answers with messages as a map, keeping codes, statuses and details", async () => {
    f = await appFixture(kit, {
      router: { rateLimit: false, messages: { KEY_NOT_FOUND: "Aucune clé enregistrée.", INVALID_REQUEST: "Non." } },
    });
    const noKey = await request(f.app)
      .post("/byok/chat")
      .set("x-user", "u1")
      .send({ prompt: "Hi", provider: "gemini" });
    expect([noKey.status, noKey.body.error]).toEqual([
      404,
      {
        code: "KEY_NOT_FOUND",
        message: "Aucune clé enregistrée.",
        details: { provider: "gemini", fields: ["provider"] },
      },
    ]);
    const bad = await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: 5 });
    expect(bad.body.error).toEqual({ code: "INVALID_REQUEST", message: "Non.", details: { fields: ["prompt"] } });
    expect((await request(f.app).get("/byok/keys")).body.error.message).toBe("Please sign in to continue.");
  });

  it("rewords answers with messages as a function; undefined or a throw keeps the default", async () => {
    f = await appFixture(kit, {
      router: {
        rateLimit: false,
        messages: (code, details) => {
          if (code === "KEY_NOT_FOUND") return `Ajoute une clé ${details.provider ?? ""}.`.replace(" .", ".");
          if (code === "UNAUTHENTICATED") throw new Error("translation table missing");
          return undefined;
        },
      },
    });
    const noKey = await request(f.app)
      .post("/byok/chat")
      .set("x-user", "u1")
      .send({ prompt: "Hi", provider: "gemini" });
    expect(noKey.body.error.message).toBe("Ajoute une clé gemini.");
    expect((await request(f.app).get("/byok/keys")).body.error.message).toBe("Please sign in to continue.");
    const bad = await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: 5 });
    expect(bad.body.error.message).toBe("Check this field: prompt.");
  });

  it("words an SSE error event with the same table", async () => {
    f = await appFixture(kit, { router: { rateLimit: false, messages: { PROVIDER_ERROR: "Réessaie plus tard." } } });
    await request(f.app).post("/byok/keys").set("x-user", "u1").send({ provider: "gemini", apiKey: CANARY_KEY });
    f.fake.enqueue({ errorAfterChunks: 1, message: "stream broke" });
    const res = await request(f.app)
      .post("/byok/chat")
      .set("x-user", "u1")
      .send({ prompt: "one two three", stream: true })
      .buffer(true)
      .parse((r, done) => {
        let text = "";
        r.on("data", (c: Buffer) => (text += c.toString("utf8")));
        r.on("end", () => done(null, text));
      });
    expect(res.body).toContain('event: error\ndata: {"code":"PROVIDER_ERROR","message":"Réessaie plus tard."}');
  });
});

describe("byokRouter messages option", () => {
  const kit = loadKit("express5");
  it.each([
    ["a number", 5, "messages must be an object"],
    ["an unknown code", { KEY_REJECT: "x" }, "Did you mean `KEY_REJECTED`?"],
    ["a text that is not a string", { INTERNAL: 42 }, "messages.INTERNAL must be a non-empty string"],
  ])("throws CONFIG_INVALID for %s, naming the fix", (_name, messages, fix) => {
    const byok = new kit.lib.BYOK({ masterKey: TEST_KEY });
    const error = thrownBy(() => kit.lib.byokRouter({ byok, messages: messages as never }));
    expect([error.code, error.message]).toEqual(["CONFIG_INVALID", expect.stringContaining(fix)]);
  });
});
