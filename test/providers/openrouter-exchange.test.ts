// OpenRouterProvider.exchangeCode against a scripted loopback server: where it posts, what it sends, and how each answer maps to a ByokError.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { inspect } from "node:util";
import { ByokError, createOpenRouterProvider, isOpenRouterProvider } from "../../lib";
import { listenOnLoopback } from "../../lib/testing/loopback-server";

const KEY = "sk-or-v1-exchanged-key-0000000000000042";
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let handler: Handler;
const seen: { method?: string; url?: string; body: string }[] = [];
let server: { url: string; close(): Promise<void> };
beforeAll(async () => {
  server = await listenOnLoopback(
    createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        seen.push({ method: req.method, url: req.url, body });
        handler(req, body, res);
      });
    }),
  );
});
afterAll(() => server.close());
beforeEach(() => {
  seen.length = 0;
});

const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  ((_req, _body, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  }) satisfies Handler;
const provider = (timeoutMs?: number) =>
  createOpenRouterProvider({ baseUrl: `${server.url}/api/v1/`, ...(timeoutMs ? { timeoutMs } : {}) });
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

describe("OpenRouterProvider.exchangeCode", () => {
  it("posts the code and verifier with S256 to {baseUrl}/auth/keys and resolves to the key", async () => {
    handler = answer(200, { key: KEY, user_id: "user_1" });
    expect(await provider().exchangeCode("the-code", "the-verifier")).toBe(KEY);
    expect(seen).toEqual([
      {
        method: "POST",
        url: "/api/v1/auth/keys",
        body: JSON.stringify({ code: "the-code", code_verifier: "the-verifier", code_challenge_method: "S256" }),
      },
    ]);
    expect(isOpenRouterProvider(provider())).toBe(true);
    expect(isOpenRouterProvider({ authUrl: "x", exchangeCode: () => "" })).toBe(false);
  });

  it.each([
    [400, "INVALID_REQUEST"],
    [401, "INVALID_REQUEST"],
    [403, "INVALID_REQUEST"],
    [429, "PROVIDER_RATE_LIMITED"],
    [500, "PROVIDER_ERROR"],
    [503, "PROVIDER_ERROR"],
  ])("maps an HTTP %i to %s, with nothing of the answer in the error", async (status, code) => {
    handler = answer(status, { error: { message: `echo ${KEY}` }, key: KEY });
    const error = await failure(provider().exchangeCode("c", "v"));
    expect(ByokError.is(error) && error.code).toBe(code);
    for (const shown of [String(error), JSON.stringify(error), inspect(error)]) expect(shown).not.toContain(KEY);
  });

  it.each([
    ["no key", { user_id: "u" }],
    ["a key that is not one", { key: "short" }],
    ["not JSON", "<html>"],
  ])("answers PROVIDER_ERROR for a 200 with %s", async (_name, body) => {
    handler = answer(200, body);
    expect(await failure(provider().exchangeCode("c", "v"))).toMatchObject({ code: "PROVIDER_ERROR" });
  });

  it("follows no redirect", async () => {
    handler = (_req, _body, res) => res.writeHead(307, { location: `${server.url}/elsewhere` }).end();
    expect(await failure(provider().exchangeCode("c", "v"))).toMatchObject({ code: "PROVIDER_ERROR" });
    expect(seen.map((r) => r.url)).toEqual(["/api/v1/auth/keys"]);
  });

  it("answers PROVIDER_TIMEOUT past the provider's timeoutMs, and rejects with the reason when the signal fires", async () => {
    handler = () => undefined; // never answers
    expect(await failure(provider(100).exchangeCode("c", "v"))).toMatchObject({ code: "PROVIDER_TIMEOUT" });
    const controller = new AbortController();
    const pending = failure(provider().exchangeCode("c", "v", { signal: controller.signal }));
    controller.abort(new Error("user left"));
    expect(await pending).toMatchObject({ message: "user left" });
  });
});
