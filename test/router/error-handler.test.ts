// byokErrorHandler(): the app's own routes answer ByokErrors as JSON on Express 4 and 5, and pass other errors on.
import type { Express, NextFunction, Request, Response } from "express";
import request from "supertest";
import { ByokError, byokErrorHandler, type ErrorHandlerOptions } from "../../lib";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { thrownBy } from "../helpers/errors";
import { EXPRESS_VERSIONS, type Kit, loadKit } from "../helpers/router-harness";

/** An app the README's way: login, byokRouter, own routes, byokErrorHandler(), then the app's last-resort handler. */
function appWith(kit: Kit, options?: ErrorHandlerOptions): { app: Express; passedOn: unknown[] } {
  const byok = new kit.lib.BYOK({ masterKey: TEST_MASTER_KEY });
  const app = kit.express() as Express;
  const passedOn: unknown[] = [];
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const user = req.headers["x-user"];
    if (typeof user === "string") (req as unknown as { user: { id: string } }).user = { id: user };
    next();
  });
  app.use(kit.lib.byokRouter({ byok, rateLimit: false }));
  app.post("/summarize", kit.express.json(), (req: Request, res: Response, next: NextFunction) => {
    req.ai.chat({ prompt: "Summarize" }).then((r) => res.json({ summary: r.text }), next);
  });
  app.get("/busy", (_req: Request, _res: Response, next: NextFunction) => {
    next(new kit.lib.ByokError("RATE_LIMITED", "The app's own limit for /busy.", { retryAfter: 2.5 }));
  });
  app.get("/thrown", () => {
    throw new kit.lib.ByokError("INVALID_REQUEST", "q is missing.", { details: { fields: ["q"] } });
  });
  app.get("/boom", () => {
    throw new Error("database exploded");
  });
  app.get("/half", (_req: Request, res: Response, next: NextFunction) => {
    res.write("partial");
    next(new kit.lib.ByokError("PROVIDER_ERROR", "too late"));
  });
  app.use(kit.lib.byokErrorHandler(options));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    passedOn.push(error);
    if (res.headersSent) return void res.end();
    res.status(599).json({ appHandled: true });
  });
  return { app, passedOn };
}

describe.each(EXPRESS_VERSIONS)("byokErrorHandler on %s", (version) => {
  const kit = loadKit(version);

  it("answers 401 UNAUTHENTICATED as JSON when an app route uses req.ai without a user", async () => {
    const { app, passedOn } = appWith(kit);
    const res = await request(app).post("/summarize").send({ text: "x" });
    expect([res.status, res.body]).toEqual([
      401,
      { error: { code: "UNAUTHENTICATED", message: "Please sign in to continue." } },
    ]);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.text).not.toMatch(/<html|<pre|at /i);
    expect(passedOn).toEqual([]);
  });

  it("answers 404 KEY_NOT_FOUND with the plain message when the user has no key", async () => {
    const { app } = appWith(kit);
    const res = await request(app).post("/summarize").set("x-user", "u1").send({ text: "x" });
    expect([res.status, res.body.error.code]).toEqual([404, "KEY_NOT_FOUND"]);
    expect(res.body.error.message).toBe("No API key is saved for this provider yet. Add one in your settings.");
  });

  it("answers 429 with Retry-After rounded up and retryAfter in details for an error passed to next()", async () => {
    const { app } = appWith(kit);
    const res = await request(app).get("/busy");
    expect([res.status, res.headers["retry-after"], res.headers["cache-control"]]).toEqual([429, "3", "no-store"]);
    expect(res.body).toEqual({
      error: {
        code: "RATE_LIMITED",
        message: "Too many requests. Please wait a moment and try again.",
        details: { retryAfter: 3 },
      },
    });
  });

  it("answers a ByokError thrown synchronously, naming its fields", async () => {
    const { app } = appWith(kit);
    const res = await request(app).get("/thrown");
    expect([res.status, res.body]).toEqual([
      400,
      { error: { code: "INVALID_REQUEST", message: "Check this field: q.", details: { fields: ["q"] } } },
    ]);
  });

  it("passes any other error on to the app's own handler, untouched", async () => {
    const { app, passedOn } = appWith(kit);
    const res = await request(app).get("/boom");
    expect([res.status, res.body]).toEqual([599, { appHandled: true }]);
    expect(passedOn).toHaveLength(1);
    expect((passedOn[0] as Error).message).toBe("database exploded");
    expect(ByokError.is(passedOn[0])).toBe(false);
  });

  it("passes a ByokError on when the response has already started", async () => {
    const { app, passedOn } = appWith(kit);
    const res = await request(app).get("/half");
    expect(res.text).toBe("partial");
    expect(ByokError.is(passedOn[0]) && (passedOn[0] as ByokError).code).toBe("PROVIDER_ERROR");
  });

  it("words answers with the messages option, as a map or a function of (code, details)", async () => {
    const mapped = appWith(kit, { messages: { UNAUTHENTICATED: "Bitte melde dich an." } }).app;
    expect((await request(mapped).post("/summarize").send({})).body.error.message).toBe("Bitte melde dich an.");
    expect((await request(mapped).get("/busy")).body.error.message).toMatch(/^Too many requests/);

    const seen: unknown[] = [];
    const fn = appWith(kit, {
      messages: (code, details) => {
        seen.push([code, details]);
        return code === "RATE_LIMITED" ? `Attends ${details.retryAfter} s.` : undefined;
      },
    }).app;
    expect((await request(fn).get("/busy")).body.error.message).toBe("Attends 3 s.");
    expect((await request(fn).get("/thrown")).body.error.message).toBe("Check this field: q.");
    expect(seen).toEqual([
      ["RATE_LIMITED", { retryAfter: 3 }],
      ["INVALID_REQUEST", { fields: ["q"] }],
    ]);
  });
});

describe("byokErrorHandler options", () => {
  it.each([
    ["an unknown option", { message: {} }, "Did you mean `messages`?"],
    ["messages that is a string", { messages: "hi" }, "messages must be an object"],
    ["a messages key that is not a code", { messages: { KEY_NOT_FOUD: "x" } }, "Did you mean `KEY_NOT_FOUND`?"],
    ["an empty message", { messages: { INTERNAL: "" } }, "messages.INTERNAL must be a non-empty string"],
  ])("throws CONFIG_INVALID for %s, naming the fix", (_name, options, fix) => {
    const error = thrownBy(() => byokErrorHandler(options as never));
    expect([error.code, error.message]).toEqual(["CONFIG_INVALID", expect.stringContaining(fix)]);
  });

  it("is an Express error handler: four parameters", () => {
    expect(byokErrorHandler()).toHaveLength(4);
  });
});
