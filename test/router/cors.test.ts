// Cross-origin use: the `cors` package before byokRouter lets a front end on another origin call the byok routes with cookies.
import cors from "cors";
import type { Express, NextFunction, Request, Response } from "express";
import request from "supertest";
import { type FakeUpstream, startFakeGemini } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "../helpers/canary";
import { EXPRESS_VERSIONS, type Kit, loadKit } from "../helpers/router-harness";

const FRONT = "https://app.example.com";
const ELSEWHERE = "https://evil.example.net";

/** The README's set-up: a cookie login, cors with an explicit origin list and credentials, then byokRouter. */
function crossOriginApp(kit: Kit, fake: FakeUpstream, corsOptions?: cors.CorsOptions): Express {
  const byok = new kit.lib.BYOK({ masterKey: TEST_MASTER_KEY, providers: { gemini: { baseUrl: fake.url } } });
  const app = kit.express() as Express;
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const user = /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
    if (user) (req as unknown as { user: { id: string } }).user = { id: user };
    next();
  });
  if (corsOptions) app.use(cors(corsOptions));
  app.use(kit.lib.byokRouter({ byok, rateLimit: false }));
  return app;
}

const preflight = (app: Express, origin: string, path = "/byok/keys") =>
  request(app)
    .options(path)
    .set("Origin", origin)
    .set("Access-Control-Request-Method", "POST")
    .set("Access-Control-Request-Headers", "content-type");

describe.each(EXPRESS_VERSIONS)("byokRouter behind cors on %s", (version) => {
  const kit = loadKit(version);
  let fake: FakeUpstream;
  beforeAll(async () => void (fake = await startFakeGemini()));
  afterAll(() => fake.close());
  const withCors = () => crossOriginApp(kit, fake, { origin: [FRONT], credentials: true });

  it("answers a preflight from an allowed origin with credentials, POST and Content-Type allowed", async () => {
    const res = await preflight(withCors(), FRONT);
    expect(res.status).toBe(204);
    expect(res.headers).toMatchObject({
      "access-control-allow-origin": FRONT,
      "access-control-allow-credentials": "true",
      "access-control-allow-headers": "content-type",
    });
    expect(res.headers["access-control-allow-methods"]).toContain("POST");
  });

  it("gives a preflight from any other origin no Access-Control-Allow-Origin, so the browser stops there", async () => {
    const res = await preflight(withCors(), ELSEWHERE);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("serves a credentialed JSON request from the allowed origin with the session cookie", async () => {
    const app = withCors();
    const saved = await request(app)
      .post("/byok/keys")
      .set("Origin", FRONT)
      .set("Cookie", "session=u1")
      .send({ provider: "gemini", apiKey: CANARY_KEY });
    expect(saved.status).toBe(201);
    expect(saved.headers).toMatchObject({
      "access-control-allow-origin": FRONT,
      "access-control-allow-credentials": "true",
      "cache-control": "no-store",
    });
    expect(saved.headers.vary).toMatch(/Origin/);
    const listed = await request(app).get("/byok/keys").set("Origin", FRONT).set("Cookie", "session=u1");
    expect([listed.status, listed.body.keys.map((k: { provider: string }) => k.provider)]).toEqual([200, ["gemini"]]);
  });

  it("refuses what a cross-site form can send without a preflight: a non-JSON body is 400 and stores nothing", async () => {
    const app = withCors();
    for (const type of ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]) {
      const res = await request(app)
        .post("/byok/keys")
        .set("Origin", ELSEWHERE)
        .set("Cookie", "session=u1")
        .set("Content-Type", type)
        .send(`provider=gemini&apiKey=${CANARY_KEY}`);
      expect([type, res.status, res.body.error.code]).toEqual([type, 400, "INVALID_REQUEST"]);
    }
    const listed = await request(app).get("/byok/keys").set("Cookie", "session=u1");
    expect(listed.body.keys).toEqual([]);
  });

  it("answers OPTIONS that reaches the router with no-store and helmet's headers, without asking for a user", async () => {
    const res = await preflight(crossOriginApp(kit, fake), FRONT);
    expect(res.status).toBeLessThan(300);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["content-security-policy"]).toBeDefined();
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    for (const path of ["/byok/chat", "/byok/models", "/byok/usage"]) {
      const res = await request(crossOriginApp(kit, fake)).options(path);
      expect([path, res.status < 300, res.headers["cache-control"]]).toEqual([path, true, "no-store"]);
    }
  });

  it("adds those headers to cors's own preflight answer with preflightContinue", async () => {
    const res = await preflight(
      crossOriginApp(kit, fake, { origin: [FRONT], credentials: true, preflightContinue: true }),
      FRONT,
    );
    expect(res.status).toBeLessThan(300);
    expect(res.headers).toMatchObject({
      "access-control-allow-origin": FRONT,
      "access-control-allow-credentials": "true",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
  });
});
