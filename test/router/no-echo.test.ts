// Error answers name fields, never repeat the values a client sent; and a registration whose client left stores nothing.
import { request as httpRequest } from "node:http";
import request from "supertest";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, listen, loadKit } from "../helpers/router-harness";
import { waitFor } from "../helpers/wait-for";

/** Values no message could contain by chance. */
const MARKS = {
  provider: "zqmarkprovider",
  badProvider: "ZQ-MARK-PROVIDER!",
  apiKey: "zq mark key with spaces",
  prompt: "zq-mark-prompt",
  role: "zq-mark-role",
  model: "zq/mark..model",
  extra: "zq-mark-extra",
  number: 987654321.123,
};

type Send = (app: AppFixture["app"]) => request.Test;
const post =
  (path: string, body: unknown): Send =>
  (app) =>
    request(app)
      .post(path)
      .set("x-user", "u1")
      .send(body as object);

const CASES: [string, Send][] = [
  [
    "POST /keys with an unconfigured provider",
    post("/byok/keys", { provider: MARKS.provider, apiKey: "AIza-mark-0000" }),
  ],
  [
    "POST /keys with a malformed provider",
    post("/byok/keys", { provider: MARKS.badProvider, apiKey: "AIza-mark-0000" }),
  ],
  ["POST /keys with a malformed apiKey", post("/byok/keys", { provider: "gemini", apiKey: MARKS.apiKey })],
  ["POST /keys with an unknown field", post("/byok/keys", { provider: "gemini", apiKey: "AIza-0000", x: MARKS.extra })],
  [
    "DELETE /keys with an unconfigured provider",
    (app) => request(app).delete(`/byok/keys?provider=${MARKS.provider}`).set("x-user", "u1"),
  ],
  [
    "DELETE /keys with a malformed provider",
    (app) => request(app).delete("/byok/keys").query({ provider: MARKS.badProvider }).set("x-user", "u1"),
  ],
  ["POST /chat with an unconfigured provider", post("/byok/chat", { prompt: MARKS.prompt, provider: MARKS.provider })],
  ["POST /chat with a malformed provider", post("/byok/chat", { prompt: MARKS.prompt, provider: MARKS.badProvider })],
  ["POST /chat with a bad role", post("/byok/chat", { messages: [{ role: MARKS.role, content: MARKS.prompt }] })],
  ["POST /chat with a bad model", post("/byok/chat", { prompt: MARKS.prompt, model: MARKS.model })],
  ["POST /chat with a huge temperature", post("/byok/chat", { prompt: MARKS.prompt, temperature: MARKS.number })],
  ["POST /chat with a huge maxTokens", post("/byok/chat", { prompt: MARKS.prompt, maxTokens: MARKS.number })],
  ["POST /chat with an unknown field", post("/byok/chat", { prompt: MARKS.prompt, x: MARKS.extra })],
  ["POST /chat without a key", post("/byok/chat", { prompt: MARKS.prompt, provider: "openai" })],
];

describe.each(EXPRESS_VERSIONS)("byok routes' error messages on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  beforeAll(async () => void (f = await appFixture(kit, { router: { rateLimit: false } })));
  afterAll(() => f.close());

  it.each(CASES)("%s answer with an error that repeats no value sent", async (_name, send) => {
    const res = await send(f.app);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body.error.code).toEqual(expect.any(String));
    for (const value of Object.values(MARKS)) expect(res.text).not.toContain(String(value));
    expect(res.text.toLowerCase()).not.toContain("zq");
  });
});

describe.each(EXPRESS_VERSIONS)("POST /byok/keys on %s when the client disconnects", (version) => {
  const kit = loadKit(version);

  it("cancels the validation call and stores nothing", async () => {
    const f = await appFixture(kit);
    const server = await listen(f.app);
    try {
      f.fake.enqueue({ hang: true });
      const req = httpRequest(`${server.url}/byok/keys`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-user": "u1" },
      });
      req.on("error", () => undefined);
      req.end(JSON.stringify({ provider: "gemini", apiKey: "AIza-left-early-0000" }));
      await waitFor(() => f.fake.requests.some((r) => r.op === "validate"), "the validation call");
      req.destroy();
      await waitFor(() => f.fake.requests.find((r) => r.op === "validate")!.aborted, "the validation call's abort");
      // The call has settled: anything it was going to store would be there (or on its way) now.
      await new Promise((r) => setImmediate(r));
      expect(await f.snapshot()).toEqual([]);
      expect(await f.byok.listKeys("u1")).toEqual([]);
    } finally {
      await server.close();
      await f.close();
    }
  });
});
