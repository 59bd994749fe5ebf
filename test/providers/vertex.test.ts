// The vertex provider through the public API, with the real @google/genai against the fake Vertex AI and its token endpoint.
import { BYOK, type ByokEvent, MemoryStore } from "../../lib";
import { type FakeServiceAccount, startFakeVertex, type FakeVertex } from "../../lib/testing";
import { serviceAccountAssertion, vertexEndpoint } from "../../lib/providers/vertex";
import { captureConsole, renderings, TEST_MASTER_KEY } from "../helpers/canary";
import { rejectionOf } from "../helpers/errors";

const LOCATION = "europe-west4";

let fake: FakeVertex;
let store: MemoryStore;
let byok: BYOK;
let events: ByokEvent[];

beforeEach(async () => {
  fake = await startFakeVertex();
  store = new MemoryStore();
  events = [];
  byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    store,
    providers: { vertex: { baseUrl: fake.url, authUrl: `${fake.url}/token` } },
    defaultProvider: "vertex",
    onEvent: (event) => void events.push(event),
  });
});
afterEach(async () => {
  await byok.close();
  await fake.close();
});

const error = rejectionOf;

/** The access tokens the fake saw (the Bearer of its Vertex requests). */
const tokensSeen = () => fake.requests.flatMap((r) => (r.path === "/token" || !r.apiKey ? [] : [r.apiKey]));

/** The private key (its body, whole and in pieces) and every access token minted: none may be seen. */
function expectNoSecret(value: unknown, account: FakeServiceAccount): void {
  const text = renderings(value);
  const body = account.private_key.replace(/-----[A-Z ]+-----|\s/g, "");
  for (const secret of [body, body.slice(100, 140), ...tokensSeen()])
    if (secret.length >= 16) expect(text).not.toContain(secret);
}

const register = (account: FakeServiceAccount | string, location: string | null = LOCATION) =>
  byok.registerKey({
    userId: "u1",
    provider: "vertex",
    credential: { serviceAccount: account, ...(location === null ? {} : { location }) },
  });

describe("vertex credentials", () => {
  it("registers a service account key file, proving it with one token and one countTokens on its project", async () => {
    const account = fake.serviceAccount();
    const info = await register(account);
    expect(info).toMatchObject({
      provider: "vertex",
      hint: `\u2026${account.private_key_id.slice(-4)}`,
      endpoint: LOCATION,
      status: "ok",
      replaced: false,
    });
    expect(fake.tokensMinted).toBe(1);
    expect(fake.requests.map((r) => [r.method, r.path.replace(/\?.*/, "")])).toEqual([
      ["POST", "/token"],
      [
        "POST",
        `/v1beta1/projects/${account.project_id}/locations/${LOCATION}/publishers/google/models/gemini-2.5-flash:countTokens`,
      ],
    ]);
    expectNoSecret([info, await byok.listKeys("u1"), events], account);
  });

  it("takes the key file as its JSON text, and defaults the location to us-central1", async () => {
    const account = fake.serviceAccount();
    const info = await register(JSON.stringify(account), null);
    expect(info.endpoint).toBe("us-central1");
    expect(fake.requests.at(-1)!.path).toContain("/locations/us-central1/");
  });

  it.each([
    ["an unknown field", { endpoint: "https://evil.test" }, ["credential.endpoint"]],
    ["no service account", { serviceAccount: undefined }, ["credential.serviceAccount"]],
    ["a location that is not GCP's syntax", { location: "evil.test/x" }, ["credential.location"]],
    [
      "a service account that is not an object",
      { serviceAccount: "evil.test not json" },
      ["credential.serviceAccount"],
    ],
  ])(
    "refuses a credential with %s as INVALID_REQUEST naming the field, never its value",
    async (_n, change, fields) => {
      const account = fake.serviceAccount();
      const credential = { serviceAccount: account, location: LOCATION, ...change } as Record<string, unknown>;
      for (const [k, v] of Object.entries(credential)) if (v === undefined) delete credential[k];
      const e = await error(
        byok.registerKey({ userId: "u1", provider: "vertex", credential: credential as Record<string, string> }),
      );
      expect([e.code, e.details?.fields]).toEqual(["INVALID_REQUEST", fields]);
      expectNoSecret(e, account);
      expect(renderings(e)).not.toContain("evil.test");
      expect(fake.requests).toEqual([]);
    },
  );

  it.each([
    ["type", { type: "authorized_user" }],
    ["project_id", { project_id: "Not A Project!" }],
    ["client_email", { client_email: "not an email" }],
    ["private_key_id", { private_key_id: "" }],
    ["private_key", { private_key: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n" }],
  ])("refuses a key file whose %s is wrong, naming it without its value", async (field, change) => {
    const account = { ...fake.serviceAccount(), ...change } as FakeServiceAccount;
    const e = await error(register(account));
    expect([e.code, e.details?.fields]).toEqual(["INVALID_REQUEST", [`credential.serviceAccount.${field}`]]);
    expectNoSecret(e, account);
    expect(fake.requests).toEqual([]);
  });

  it("never posts to the key file's token_uri (nor any other URL in it): only to the configured token endpoint", async () => {
    const elsewhere = await startFakeVertex();
    try {
      const account = {
        ...fake.serviceAccount(),
        token_uri: `${elsewhere.url}/token`,
        auth_uri: `${elsewhere.url}/auth`,
        auth_provider_x509_cert_url: `${elsewhere.url}/certs`,
        client_x509_cert_url: `${elsewhere.url}/x509`,
      };
      await register(account);
      await byok.use("u1").chat({ prompt: "hi" });
      expect(elsewhere.requests).toEqual([]);
      expect(fake.requests.filter((r) => r.path === "/token")).toHaveLength(1);
      // What is stored is the account's identity and key alone: no URL of the file survives.
      expect(renderings(await store.list("u1"))).not.toContain(elsewhere.url);
    } finally {
      await elsewhere.close();
    }
  });

  it("refuses a service account the token endpoint does not know as KEY_REJECTED (invalid_grant)", async () => {
    const account = fake.serviceAccount();
    fake.revoke(account.private_key_id);
    const e = await error(register(account));
    expect([e.code, e.cause]).toEqual(["KEY_REJECTED", { status: 400, type: "invalid_grant" }]);
    expect(await byok.listKeys("u1")).toEqual([]);
    expectNoSecret(e, account);
  });

  it("refuses an account of another project than the one it names (403 PERMISSION_DENIED)", async () => {
    const account = { ...fake.serviceAccount({ projectId: "other-project" }), project_id: "byok-test-project" };
    const e = await error(register(account));
    expect([e.code, e.cause]).toEqual(["KEY_REJECTED", { status: 403, type: "IAM_PERMISSION_DENIED" }]);
  });
});

describe("vertex calls", () => {
  let account: FakeServiceAccount;
  beforeEach(async () => {
    account = fake.serviceAccount();
    await register(account);
    fake.reset();
    events.length = 0;
  });

  it("chats with a warm token (none minted), mapping system, messages, temperature, maxTokens and usage", async () => {
    const minted = fake.tokensMinted;
    fake.enqueue({ text: "hello", usage: { inputTokens: 7, outputTokens: 2 }, finishReason: "length" });
    const response = await byok.use("u1").chat({
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hey" },
        { role: "user", content: "again" },
      ],
      system: "be brief",
      temperature: 0.5,
      maxTokens: 33,
      model: "gemini-2.5-pro",
    });
    expect(response).toMatchObject({
      text: "hello",
      provider: "vertex",
      finishReason: "length",
      usage: { inputTokens: 7, outputTokens: 2, totalTokens: 9 },
    });
    expect(fake.tokensMinted).toBe(minted);
    const call = fake.requests.at(-1)!;
    expect([call.op, call.path]).toEqual([
      "chat",
      `/v1beta1/projects/${account.project_id}/locations/${LOCATION}/publishers/google/models/gemini-2.5-pro:generateContent`,
    ]);
    expect(call.body).toMatchObject({
      contents: [
        { role: "user", parts: [{ text: "hi" }] },
        { role: "model", parts: [{ text: "hey" }] },
        { role: "user", parts: [{ text: "again" }] },
      ],
      systemInstruction: { parts: [{ text: "be brief" }] },
      generationConfig: { temperature: 0.5, maxOutputTokens: 33 },
    });
    expect(events.map((e) => e.type)).toEqual(["chat.completed"]);
  });

  it("streams, with usage from usageMetadata", async () => {
    fake.enqueue({ chunks: ["one ", "two ", "three"], usage: { inputTokens: 3, outputTokens: 3 } });
    const stream = byok.use("u1").stream({ prompt: "count" });
    const parts: string[] = [];
    for await (const part of stream) parts.push(part.text);
    expect(parts).toEqual(["one ", "two ", "three"]);
    expect(await stream.response).toMatchObject({
      text: "one two three",
      finishReason: "stop",
      usage: { inputTokens: 3, outputTokens: 3, totalTokens: 6 },
    });
    expect(fake.requests.at(-1)!.path).toMatch(/:streamGenerateContent\?alt=sse$/);
    expect(fake.tokensMinted).toBe(1);
  });

  it("lists the publisher models", async () => {
    const models = await byok.use("u1").models("vertex");
    expect(models.map((m) => m.id)).toEqual(expect.arrayContaining(["gemini-2.5-flash", "gemini-2.5-pro"]));
    expect(fake.requests.at(-1)!.path).toMatch(/^\/v1beta1\/publishers\/google\/models/);
  });

  it("mints a new token when the cached one has expired, and the call goes through", async () => {
    fake.expireTokens();
    expect((await byok.use("u1").chat({ prompt: "x" })).text).toBeTruthy();
    expect(fake.tokensMinted).toBe(2);
    await byok.use("u1").chat({ prompt: "y" });
    expect(fake.tokensMinted).toBe(2);
    expect((await byok.listKeys("u1"))[0]!.status).toBe("ok");
  });

  it("does not keep a token that expires within minutes", async () => {
    fake.tokenLifetimeSeconds = 60;
    fake.expireTokens();
    await byok.use("u1").chat({ prompt: "x" });
    await byok.use("u1").chat({ prompt: "y" });
    expect(fake.tokensMinted).toBe(3);
  });

  it("reads a key deleted in Google Cloud (its token expired, the new grant refused) as invalid", async () => {
    fake.revoke(account.private_key_id);
    fake.expireTokens();
    const e = await error(byok.use("u1").chat({ prompt: "x" }));
    expect(e.code).toBe("KEY_REJECTED");
    await new Promise((resolve) => setImmediate(resolve));
    expect((await byok.listKeys("u1"))[0]!.status).toBe("invalid");
    expectNoSecret([e, events], account);
  });

  it.each([
    ["rate_limit", "PROVIDER_RATE_LIMITED", "rate_limited"],
    ["quota", "PROVIDER_BAD_REQUEST", "quota_exhausted"],
  ] as const)("reads the fake's %s refusal as %s and marks the key %s", async (refuse, code, status) => {
    fake.enqueue({ refuse });
    const e = await error(byok.use("u1").chat({ prompt: "x" }));
    expect(e.code).toBe(code);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await byok.listKeys("u1"))[0]!.status).toBe(status);
    expect(events.map((ev) => ev.type)).toEqual(expect.arrayContaining(["key.status_changed", "chat.failed"]));
    expectNoSecret([e, events], account);
  });

  it("reads a 401 for a token not expired as an invalid key (not retried), and mints anew on the next call", async () => {
    fake.enqueue({ refuse: "invalid" });
    const e = await error(byok.use("u1").chat({ prompt: "x" }));
    expect([e.code, e.cause]).toEqual(["KEY_REJECTED", { status: 401, type: "ACCESS_TOKEN_TYPE_UNSUPPORTED" }]);
    expect(fake.tokensMinted).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await byok.listKeys("u1"))[0]!.status).toBe("invalid");
    expect((await byok.use("u1").checkKey("vertex")).status).toBe("ok");
    expect(fake.tokensMinted).toBe(2);
  });

  it("scrubs the access token and the private key from an upstream message", async () => {
    await byok.use("u1").chat({ prompt: "warm" });
    const token = tokensSeen()[0]!;
    const keyBody = account.private_key.replace(/-----[A-Z ]+-----|\s/g, "");
    fake.enqueue({ status: 400, message: `bad request with ${token} and ${keyBody.slice(64, 400)}` });
    const e = await error(byok.use("u1").chat({ prompt: "x" }));
    expect(e.code).toBe("PROVIDER_BAD_REQUEST");
    expectNoSecret(e, account);
  });

  it("keeps the private key and every token out of KeyInfo, events, errors and the console", async () => {
    const { output } = await captureConsole(async () => {
      await byok.use("u1").chat({ prompt: "x" });
      fake.enqueue({ refuse: "rate_limit" });
      const e = await error(byok.use("u1").chat({ prompt: "y" }));
      expectNoSecret([e, events, await byok.listKeys("u1"), await byok.use("u1").models()], account);
    });
    expect(tokensSeen().length).toBeGreaterThan(0);
    expectNoSecret(output, account);
  });

  it("keeps two users' credentials and tokens apart", async () => {
    const other = fake.serviceAccount({ projectId: "second-project" });
    await byok.registerKey({ userId: "u2", provider: "vertex", credential: { serviceAccount: other } });
    fake.reset();
    await byok.use("u1").chat({ prompt: "x" });
    await byok.use("u2").chat({ prompt: "y" });
    expect(fake.requests.map((r) => /projects\/([^/]+)\/locations\/([^/]+)/.exec(r.path)?.slice(1))).toEqual([
      [account.project_id, LOCATION],
      ["second-project", "us-central1"],
    ]);
    expect(new Set(tokensSeen()).size).toBe(2);
  });
});

describe("vertex in a hostile environment", () => {
  const HOSTILE = {
    GOOGLE_API_KEY: "AIzaServerKey0000000000000000000000",
    GOOGLE_CLOUD_PROJECT: "server-project",
    GOOGLE_CLOUD_LOCATION: "asia-east1",
    GOOGLE_VERTEX_BASE_URL: "http://127.0.0.1:1",
    GOOGLE_GENAI_USE_VERTEXAI: "false",
    GOOGLE_GENAI_USE_ENTERPRISE: "false",
    GOOGLE_APPLICATION_CREDENTIALS: "/nonexistent/adc.json",
  };
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const [name, value] of Object.entries(HOSTILE)) [saved[name], process.env[name]] = [process.env[name], value];
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved))
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });

  it("sends every call to the configured endpoint, for the key file's project and location, with its token", async () => {
    const account = fake.serviceAccount();
    await register(account);
    await byok.use("u1").chat({ prompt: "x" });
    const calls = fake.requests.filter((r) => r.path !== "/token");
    expect(calls.map((r) => r.path.replace(/:.*/, ""))).toEqual([
      `/v1beta1/projects/${account.project_id}/locations/${LOCATION}/publishers/google/models/gemini-2.5-flash`,
      `/v1beta1/projects/${account.project_id}/locations/${LOCATION}/publishers/google/models/gemini-2.5-flash`,
    ]);
    for (const call of calls) {
      expect(fake.accountOf(call.apiKey!)).toBe(account.client_email);
      expect(call.headers["x-goog-api-key"]).toBeUndefined();
    }
  });
});

describe("vertex helpers", () => {
  it("names each location's regional endpoint, and the global one", () => {
    expect(vertexEndpoint("europe-west4")).toBe("https://europe-west4-aiplatform.googleapis.com");
    expect(vertexEndpoint("global")).toBe("https://aiplatform.googleapis.com");
    expect(() => vertexEndpoint("evil.test")).toThrow(TypeError);
  });

  it("signs an assertion the fake's token endpoint accepts, for the audience given", async () => {
    const account = fake.serviceAccount();
    const assertion = serviceAccountAssertion(account, `${fake.url}/token`);
    const claims = JSON.parse(Buffer.from(assertion.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({
      iss: account.client_email,
      aud: `${fake.url}/token`,
      scope: "https://www.googleapis.com/auth/cloud-platform",
    });
    const res = await fetch(`${fake.url}/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
    });
    expect(res.status).toBe(200);
  });
});
