import request from "supertest";
import { CANARY_KEY } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";

type Method = "post" | "delete";
interface Case {
  name: string;
  method?: Method;
  path: string;
  /** An object is sent as JSON; a string is sent raw with `type`. */
  body?: unknown;
  type?: string;
  query?: string;
  accept?: string;
  status: number;
  code: string;
  /** Expected `details.fields`, when the case names fields. */
  fields?: string[];
}

const KEY = "AIza-good-key-0000";
const msg = (role: unknown, content: unknown = "hi") => ({ role, content });
const keys = (body: unknown, extra: Partial<Case> = {}) => ({ path: "/byok/keys", body, ...extra });
const chat = (body: unknown, extra: Partial<Case> = {}) => ({ path: "/byok/chat", body, ...extra });
const bad = (fields?: string[]) => ({ status: 400, code: "INVALID_REQUEST", ...(fields ? { fields } : {}) });

const CASES: Case[] = [
  { name: "POST /keys with no body", ...keys(undefined), ...bad(["provider"]) },
  {
    name: "POST /keys as text/plain",
    ...keys(`{"provider":"gemini","apiKey":"${KEY}"}`, { type: "text/plain" }),
    ...bad(),
  },
  {
    name: "POST /keys as a form",
    ...keys(`provider=gemini&apiKey=${KEY}`, { type: "application/x-www-form-urlencoded" }),
    ...bad(),
  },
  { name: "POST /keys with malformed JSON", ...keys('{"provider": "gemini",', { type: "application/json" }), ...bad() },
  {
    name: "POST /keys with a JSON array",
    ...keys(`[{"provider":"gemini","apiKey":"${KEY}"}]`, { type: "application/json" }),
    ...bad(),
  },
  { name: "POST /keys with a JSON number", ...keys("42", { type: "application/json" }), ...bad() },
  { name: "POST /keys with a JSON string", ...keys('"gemini"', { type: "application/json" }), ...bad() },
  { name: "POST /keys with JSON null", ...keys("null", { type: "application/json" }), ...bad() },
  {
    name: "POST /keys with a __proto__ key",
    ...keys(`{"__proto__":{"admin":true},"provider":"gemini","apiKey":"${KEY}"}`, { type: "application/json" }),
    ...bad(["__proto__"]),
  },
  {
    name: "POST /keys with a constructor key",
    ...keys({ constructor: { prototype: {} }, provider: "gemini", apiKey: KEY }),
    ...bad(["constructor"]),
  },
  {
    name: "POST /keys with a nested prototype key",
    ...keys({ provider: "gemini", apiKey: KEY, x: { prototype: 1 } }),
    ...bad(["x"]),
  },
  {
    name: "POST /keys with an unknown field",
    ...keys({ provider: "gemini", apiKey: KEY, nickname: "work" }),
    ...bad(["nickname"]),
  },
  {
    name: "POST /keys with validate: false",
    ...keys({ provider: "gemini", apiKey: "bad-unchecked-key", validate: false }),
    ...bad(["validate"]),
  },
  {
    name: "POST /keys with a userId in the body",
    ...keys({ provider: "gemini", apiKey: KEY, userId: "victim" }),
    ...bad(["userId"]),
  },
  {
    name: "POST /keys with a baseUrl field",
    ...keys({ provider: "gemini", apiKey: KEY, baseUrl: "http://evil.test" }),
    ...bad(["baseUrl"]),
  },
  {
    name: "POST /keys with a url field",
    ...keys({ provider: "gemini", apiKey: KEY, url: "http://evil.test" }),
    ...bad(["url"]),
  },
  { name: "POST /keys without provider", ...keys({ apiKey: KEY }), ...bad(["provider"]) },
  { name: "POST /keys with an empty provider", ...keys({ provider: "", apiKey: KEY }), ...bad(["provider"]) },
  {
    name: "POST /keys with provider not a string",
    ...keys({ provider: ["gemini"], apiKey: KEY }),
    ...bad(["provider"]),
  },
  {
    name: "POST /keys with an unknown provider",
    ...keys({ provider: "mistral", apiKey: KEY }),
    status: 400,
    code: "UNKNOWN_PROVIDER",
    fields: ["provider"],
  },
  {
    name: "POST /keys with odd characters in provider",
    ...keys({ provider: "gem/../ini", apiKey: KEY }),
    ...bad(["provider"]),
  },
  {
    name: "POST /keys with an upper-case provider",
    ...keys({ provider: "Gemini", apiKey: KEY }),
    ...bad(["provider"]),
  },
  { name: "POST /keys without apiKey", ...keys({ provider: "gemini" }), ...bad(["apiKey", "credential"]) },
  { name: "POST /keys with apiKey a number", ...keys({ provider: "gemini", apiKey: 12345678901 }), ...bad(["apiKey"]) },
  {
    name: "POST /keys with apiKey an array of strings",
    ...keys({ provider: "gemini", apiKey: [KEY] }),
    ...bad(["apiKey"]),
  },
  { name: "POST /keys with an empty apiKey", ...keys({ provider: "gemini", apiKey: "" }), ...bad(["apiKey"]) },
  {
    name: "POST /keys with a whitespace apiKey",
    ...keys({ provider: "gemini", apiKey: "AIza good key 0000" }),
    ...bad(["apiKey"]),
  },
  {
    name: "POST /keys with control characters in apiKey",
    ...keys({ provider: "gemini", apiKey: "AIza-key\u0000\n0000" }),
    ...bad(["apiKey"]),
  },
  {
    name: "POST /keys with a 7-character apiKey",
    ...keys({ provider: "gemini", apiKey: "AIza-12" }),
    ...bad(["apiKey"]),
  },
  {
    name: "POST /keys with an apiKey over 512 characters",
    ...keys({ provider: "gemini", apiKey: "A".repeat(513) }),
    ...bad(["apiKey"]),
  },
  {
    name: "POST /keys with a body over the size limit",
    ...keys({ provider: "gemini", apiKey: KEY, pad: "x".repeat(17_000) }),
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
  },
  {
    name: "POST /keys with a gzip Content-Encoding",
    ...keys(`{"provider":"gemini"}`, { type: "application/json" }),
    ...bad(),
  },
  {
    name: "DELETE /keys with body and query disagreeing",
    method: "delete",
    path: "/byok/keys",
    query: "provider=openai",
    body: { provider: "gemini" },
    ...bad(["provider"]),
  },
  {
    name: "DELETE /keys with provider twice in the query",
    method: "delete",
    path: "/byok/keys",
    query: "provider=gemini&provider=gemini",
    ...bad(["provider"]),
  },
  {
    name: "DELETE /keys with a bad provider in the query",
    method: "delete",
    path: "/byok/keys",
    query: "provider=..%2Fetc",
    ...bad(["provider"]),
  },
  {
    name: "DELETE /keys with an unknown body field",
    method: "delete",
    path: "/byok/keys",
    body: { provider: "gemini", userId: "victim" },
    ...bad(["userId"]),
  },
  {
    name: "DELETE /keys as text/plain",
    method: "delete",
    path: "/byok/keys",
    body: "provider=gemini",
    type: "text/plain",
    ...bad(),
  },
  {
    name: "POST /chat with prompt and messages",
    ...chat({ prompt: "a", messages: [msg("user")] }),
    ...bad(["prompt", "messages"]),
  },
  {
    name: "POST /chat with neither prompt nor messages",
    ...chat({ model: "gemini-2.5-flash" }),
    ...bad(["prompt", "messages"]),
  },
  { name: "POST /chat with an empty prompt", ...chat({ prompt: "" }), ...bad(["prompt"]) },
  { name: "POST /chat with prompt an object", ...chat({ prompt: { text: "a" } }), ...bad(["prompt"]) },
  { name: "POST /chat with a bad role", ...chat({ messages: [msg("admin")] }), ...bad(["messages[0].role"]) },
  {
    name: "POST /chat with a message that is a string",
    ...chat({ messages: ["hi"] }),
    ...bad(["messages[0]"]),
  },
  {
    name: "POST /chat with an extra message field",
    ...chat({ messages: [{ role: "user", content: "hi", name: "x" }] }),
    ...bad(["messages[0].name"]),
  },
  {
    name: "POST /chat with content a number",
    ...chat({ messages: [msg("user", 5)] }),
    ...bad(["messages[0].content"]),
  },
  { name: "POST /chat with messages not an array", ...chat({ messages: "hi" }), ...bad(["messages"]) },
  { name: "POST /chat with an empty messages array", ...chat({ messages: [] }), ...bad(["messages"]) },
  {
    name: "POST /chat with 201 messages",
    ...chat({ messages: Array.from({ length: 201 }, () => msg("user", "x")) }),
    ...bad(["messages"]),
  },
  {
    name: "POST /chat with temperature as a string",
    ...chat({ prompt: "a", temperature: "0.5" }),
    ...bad(["temperature"]),
  },
  { name: "POST /chat with temperature above 2", ...chat({ prompt: "a", temperature: 2.5 }), ...bad(["temperature"]) },
  { name: "POST /chat with negative maxTokens", ...chat({ prompt: "a", maxTokens: -1 }), ...bad(["maxTokens"]) },
  { name: "POST /chat with fractional maxTokens", ...chat({ prompt: "a", maxTokens: 1.5 }), ...bad(["maxTokens"]) },
  {
    name: "POST /chat with a model containing ..",
    ...chat({ prompt: "a", model: "../../v1/files" }),
    ...bad(["model"]),
  },
  { name: "POST /chat with a bad provider id", ...chat({ prompt: "a", provider: "GEMINI!" }), ...bad(["provider"]) },
  {
    name: "POST /chat with a baseUrl field",
    ...chat({ prompt: "a", baseUrl: "http://evil.test" }),
    ...bad(["baseUrl"]),
  },
  { name: "POST /chat with a signal field", ...chat({ prompt: "a", signal: {} }), ...bad(["signal"]) },
  { name: "POST /chat with an apiKey field", ...chat({ prompt: "a", apiKey: CANARY_KEY }), ...bad(["apiKey"]) },
  { name: "POST /chat with a userId field", ...chat({ prompt: "a", userId: "victim" }), ...bad(["userId"]) },
  { name: "POST /chat with stream not a boolean", ...chat({ prompt: "a", stream: "yes" }), ...bad(["stream"]) },
  {
    name: "POST /chat with a __proto__ key in a message",
    ...chat(`{"messages":[{"role":"user","content":"a","__proto__":{"x":1}}]}`, { type: "application/json" }),
    ...bad(["messages"]),
  },
  { name: "POST /chat with a null message", ...chat({ messages: [null] }), ...bad(["messages[0]"]) },
  {
    name: "POST /chat with 7,000-level nested arrays in messages",
    ...chat(`{"messages":${"[".repeat(7000)}${"]".repeat(7000)}}`, { type: "application/json" }),
    ...bad(["messages"]),
  },
  {
    name: "POST /keys with 7,000-level nested arrays in apiKey",
    ...keys(`{"provider":"gemini","apiKey":${"[".repeat(7000)}${"]".repeat(7000)}}`, { type: "application/json" }),
    ...bad(["apiKey"]),
  },
  {
    name: "DELETE /keys with 2,500-level nested objects in an unknown field",
    method: "delete",
    path: "/byok/keys",
    body: `{"x":${'{"a":'.repeat(2500)}1${"}".repeat(2500)}}`,
    type: "application/json",
    ...bad(["x"]),
  },
  { name: "POST /chat with malformed JSON", ...chat("{prompt: 'a'}", { type: "application/json" }), ...bad() },
  {
    name: "POST /chat with a body over the size limit",
    ...chat({ prompt: "x".repeat(20_000) }),
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
  },
];

describe.each(EXPRESS_VERSIONS)("byok routes with bad input on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  beforeAll(async () => {
    f = await appFixture(kit, { router: { rateLimit: false } });
    // One existing key, so "unchanged" means more than "still empty".
    expect(
      (await request(f.app).post("/byok/keys").set("x-user", "u1").send({ provider: "gemini", apiKey: KEY })).status,
    ).toBe(201);
  });
  afterAll(() => f.close());

  it.each(CASES)("$name answers $status $code and changes nothing", async (c) => {
    const before = await f.snapshot();
    f.fake.reset();
    const agent = request(f.app);
    let req = agent[c.method ?? "post"](`${c.path}${c.query ? `?${c.query}` : ""}`).set("x-user", "u1");
    if (c.name.includes("gzip")) req = req.set("content-encoding", "gzip");
    if (typeof c.body === "string") req = req.type(c.type ?? "application/json").send(c.body);
    else if (c.body !== undefined) req = req.send(c.body as object);
    const res = await req;
    expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status: c.status, code: c.code });
    if (c.fields) expect(res.body.error.details).toEqual({ fields: c.fields });
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.text).not.toContain(CANARY_KEY);
    expect(res.text).not.toContain("evil.test");
    expect(f.fake.requests).toHaveLength(0);
    expect(await f.snapshot()).toEqual(before);
  });

  it("ignores a userId in the query: the key goes to the signed-in user only", async () => {
    const res = await request(f.app)
      .post("/byok/keys?userId=victim")
      .set("x-user", "u2")
      .send({ provider: "gemini", apiKey: KEY });
    expect(res.status).toBe(201);
    expect((await f.snapshot()).map((r) => r.userId)).toEqual(["u1", "u2"]);
  });
});
