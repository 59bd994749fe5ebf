// The bedrock provider through the public API, with the real AWS SDK against the SigV4-checking fake Bedrock.
import { execFileSync } from "node:child_process";
import { inspect } from "node:util";
import { BYOK, type ByokEvent, MemoryStore } from "../../lib";
import { startFakeBedrock, type FakeBedrock } from "../../lib/testing";
import { bedrockEndpoint, createBedrockProvider } from "../../lib/providers/bedrock";
import { captureConsole, renderings, TEST_MASTER_KEY } from "../helpers/canary";
import { ROOT } from "../helpers/node-process";
import { SERVER_KINDS, serveRoutes } from "../helpers/router-harness";
import { rejectionOf } from "../helpers/errors";

const REGION = "eu-west-1";

let fake: FakeBedrock;
let store: MemoryStore;
let byok: BYOK;
let events: ByokEvent[];

beforeEach(async () => {
  fake = await startFakeBedrock({ region: REGION });
  store = new MemoryStore();
  events = [];
  byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    store,
    providers: { bedrock: { baseUrl: fake.url } },
    defaultProvider: "bedrock",
    onEvent: (event) => void events.push(event),
  });
});
afterEach(async () => {
  await byok.close();
  await fake.close();
});

const error = rejectionOf;

/** Every secret of a credential: none may be seen anywhere but in the fake's view of the request. */
const secretsOf = (c: { secretAccessKey?: string; sessionToken?: string; apiKey?: string }) =>
  [c.secretAccessKey, c.sessionToken, c.apiKey].filter((s): s is string => s !== undefined);

function expectNoSecret(value: unknown, secrets: string[]): void {
  const text = renderings(value);
  for (const secret of secrets) {
    expect(text).not.toContain(secret);
    expect(text).not.toContain(secret.slice(0, 12));
  }
}

describe("bedrock credentials", () => {
  it("registers AWS access keys (with a session token), proving them with one signed ListFoundationModels", async () => {
    const aws = fake.credentials({ sessionToken: true });
    const info = await byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: REGION } });
    expect(info).toMatchObject({
      provider: "bedrock",
      hint: `\u2026${aws.accessKeyId.slice(-4)}`,
      endpoint: REGION,
      status: "ok",
      replaced: false,
    });
    expect(fake.requests.map((r) => [r.op, r.apiKey])).toEqual([["validate", aws.accessKeyId]]);
    expect(fake.requests[0]!.headers["x-amz-security-token"]).toBe(aws.sessionToken);
    expect(String(fake.requests[0]!.headers.authorization)).toContain(`/${REGION}/bedrock/aws4_request`);
    expect(await byok.listKeys("u1")).toEqual([expect.objectContaining({ endpoint: REGION, hint: info.hint })]);
    expectNoSecret([info, await byok.listKeys("u1"), events], secretsOf(aws));
  });

  it("registers a Bedrock API key, sent as a bearer token", async () => {
    const apiKey = fake.apiKey();
    const info = await byok.registerKey({ userId: "u1", provider: "bedrock", credential: { apiKey, region: REGION } });
    expect(info).toMatchObject({ hint: `\u2026${apiKey.slice(-4)}`, endpoint: REGION });
    expect(fake.requests.map((r) => [r.op, r.headers.authorization])).toEqual([["validate", `Bearer ${apiKey}`]]);
    const { text } = await byok.use("u1").chat({ prompt: "hi there" });
    expect(text).toBe("Echo: hi there");
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${apiKey}`);
  });

  it("refuses a revoked or unknown credential with KEY_REJECTED and stores nothing", async () => {
    const aws = fake.credentials();
    fake.revoke(aws.accessKeyId);
    const e = await error(
      byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: REGION } }),
    );
    expect(e.code).toBe("KEY_REJECTED");
    expect(events.map((ev) => ev.type)).toEqual(["key.rejected"]);
    expect(await byok.listKeys("u1")).toEqual([]);
    expectNoSecret([e, events], secretsOf(aws));
    // A signature for another region than the endpoint's is refused as AWS does (InvalidSignatureException).
    const other = fake.credentials();
    const wrong = await error(
      byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...other, region: "us-east-1" } }),
    );
    expect([wrong.code, wrong.cause]).toEqual(["KEY_REJECTED", { status: 403, type: "InvalidSignatureException" }]);
  });

  it.each([
    ["an unknown field", { endpoint: "https://evil.test" }, ["credential.endpoint"]],
    ["no region", { region: undefined }, ["credential.region"]],
    ["a region that is not AWS's syntax", { region: "evil.test/x" }, ["credential.region"]],
    ["a secret that is not a string", { secretAccessKey: 12 }, ["credential.secretAccessKey"]],
    ["an access key id of the wrong syntax", { accessKeyId: "not-an-id" }, ["credential.accessKeyId"]],
    ["no secret", { secretAccessKey: undefined }, ["credential.secretAccessKey"]],
    ["both an API key and access keys", { apiKey: "ABSKxxxxxxxxxxxx" }, expect.arrayContaining(["credential.apiKey"])],
  ])(
    "refuses a credential with %s as INVALID_REQUEST naming the field, never its value",
    async (_name, change, fields) => {
      const aws = fake.credentials({ sessionToken: true });
      const credential = { ...aws, region: REGION, ...change } as Record<string, unknown>;
      for (const [k, v] of Object.entries(credential)) if (v === undefined) delete credential[k];
      const e = await error(
        byok.registerKey({ userId: "u1", provider: "bedrock", credential: credential as Record<string, string> }),
      );
      expect(e.code).toBe("INVALID_REQUEST");
      expect(e.details?.fields).toEqual(fields);
      expectNoSecret(e, [...secretsOf(aws), "evil.test"]);
      expect(fake.requests).toEqual([]);
    },
  );

  it("refuses an apiKey alone, and a credential for a provider that takes none", async () => {
    const plain = await error(byok.registerKey({ userId: "u1", provider: "bedrock", apiKey: "ABSK-12345678" }));
    expect([plain.code, plain.details?.fields]).toEqual(["INVALID_REQUEST", ["apiKey"]]);
    const both = await error(
      byok.registerKey({ userId: "u1", provider: "bedrock", apiKey: "ABSK-12345678", credential: { region: REGION } }),
    );
    expect([both.code, both.details?.fields]).toEqual(["INVALID_REQUEST", ["apiKey", "credential"]]);
    const other = new BYOK({ masterKey: TEST_MASTER_KEY, providers: { openai: { baseUrl: fake.url } } });
    const e = await error(other.registerKey({ userId: "u1", provider: "openai", credential: { region: REGION } }));
    expect([e.code, e.details?.fields]).toEqual(["INVALID_REQUEST", ["credential"]]);
  });
});

describe("bedrock calls", () => {
  let aws: ReturnType<FakeBedrock["credentials"]>;
  beforeEach(async () => {
    aws = fake.credentials({ sessionToken: true });
    await byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: REGION } });
    fake.reset();
    events.length = 0;
  });

  it("chats through Converse, mapping system, messages, temperature, maxTokens and usage", async () => {
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
      model: "anthropic.claude-3-5-haiku-20241022-v1:0",
    });
    expect(response).toEqual({
      text: "hello",
      provider: "bedrock",
      model: "anthropic.claude-3-5-haiku-20241022-v1:0",
      finishReason: "length",
      usage: { inputTokens: 7, outputTokens: 2, totalTokens: 9 },
      key: { owner: "user", label: "default", hint: `\u2026${aws.accessKeyId.slice(-4)}` },
    });
    const call = fake.requests.at(-1)!;
    expect([call.op, call.path, call.apiKey]).toEqual([
      "chat",
      "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
      aws.accessKeyId,
    ]);
    expect(call.body).toEqual({
      messages: [
        { role: "user", content: [{ text: "hi" }] },
        { role: "assistant", content: [{ text: "hey" }] },
        { role: "user", content: [{ text: "again" }] },
      ],
      system: [{ text: "be brief" }],
      inferenceConfig: { maxTokens: 33, temperature: 0.5 },
    });
    expect(events.map((e) => e.type)).toEqual(["chat.completed"]);
  });

  it("uses the default model when the request names none", async () => {
    expect((await byok.use("u1").chat({ prompt: "x" })).model).toBe("amazon.nova-lite-v1:0");
  });

  it("streams through ConverseStream, with usage from its metadata event", async () => {
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
    expect(fake.requests.at(-1)!.op).toBe("stream");
  });

  it("aborts a stream's upstream request when the caller gives up", async () => {
    fake.enqueue({ chunks: ["a ", "b ", "c ", "d"], chunkDelayMs: 200 });
    const controller = new AbortController();
    const stream = byok.use("u1").stream({ prompt: "slow", signal: controller.signal });
    const seen: string[] = [];
    const read = (async () => {
      for await (const part of stream) {
        seen.push(part.text);
        controller.abort(new Error("caller left"));
      }
    })();
    await expect(read).rejects.toThrow("caller left");
    await expect(stream.response).rejects.toThrow("caller left");
    expect(seen).toEqual(["a "]);
    await new Promise<void>((resolve) => {
      const poll = () => (fake.requests.at(-1)?.aborted ? resolve() : setImmediate(poll));
      poll();
    });
  });

  it("aborts a chat when the caller gives up", async () => {
    fake.enqueue({ hang: true });
    const controller = new AbortController();
    const chat = byok.use("u1").chat({ prompt: "x", signal: controller.signal });
    const reason = new Error("stop now");
    setImmediate(() => controller.abort(reason));
    await expect(chat).rejects.toBe(reason);
  });

  it("lists the models of ListFoundationModels", async () => {
    const models = await byok.use("u1").models("bedrock");
    expect(models).toContainEqual({
      id: "anthropic.claude-3-5-haiku-20241022-v1:0",
      displayName: "Claude 3.5 Haiku",
      provider: "bedrock",
    });
    expect(fake.requests.at(-1)!.path).toBe("/foundation-models?byOutputModality=TEXT");
  });

  it.each([
    ["invalid", "KEY_REJECTED", "invalid"],
    ["rate_limit", "PROVIDER_RATE_LIMITED", "rate_limited"],
    ["quota", "PROVIDER_BAD_REQUEST", "quota_exhausted"],
  ] as const)("reads the fake's %s refusal as %s and marks the key %s", async (refuse, code, status) => {
    fake.enqueue({ refuse });
    const e = await error(byok.use("u1").chat({ prompt: "x" }));
    expect(e.code).toBe(code);
    await new Promise((resolve) => setImmediate(resolve));
    expect((await byok.listKeys("u1"))[0]!.status).toBe(status);
    expect(events.map((ev) => ev.type)).toEqual(expect.arrayContaining(["key.status_changed", "chat.failed"]));
    expectNoSecret([e, events], secretsOf(aws));
  });

  it("reads an AccessDeniedException as an invalid key, and an in-stream throttling as a rate limit", async () => {
    fake.enqueue({ status: 403, errorType: "AccessDeniedException", message: `denied ${aws.secretAccessKey}` });
    const denied = await error(byok.use("u1").chat({ prompt: "x" }));
    expect([denied.code, denied.cause]).toEqual(["KEY_REJECTED", { status: 403, type: "AccessDeniedException" }]);
    fake.enqueue({ chunks: ["a ", "b"], errorAfterChunks: 1, errorType: "ThrottlingException" });
    const stream = byok.use("u1").stream({ prompt: "x" });
    const e = await error(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    );
    await stream.response.catch(() => undefined);
    expect(e.code).toBe("PROVIDER_RATE_LIMITED");
    expectNoSecret([denied, e], secretsOf(aws));
  });

  it("scrubs every secret of the credential from an upstream message", async () => {
    fake.enqueue({
      status: 400,
      errorType: "ValidationException",
      message: `bad ${aws.sessionToken} x ${aws.secretAccessKey}`,
    });
    const e = await error(byok.use("u1").chat({ prompt: "x" }));
    expect(e.code).toBe("PROVIDER_BAD_REQUEST");
    expectNoSecret(e, secretsOf(aws));
  });

  it("learns key health from a model listing too", async () => {
    fake.enqueue({ refuse: "invalid" });
    expect((await error(byok.use("u1").models("bedrock"))).code).toBe("KEY_REJECTED");
    await new Promise((resolve) => setImmediate(resolve));
    expect((await byok.listKeys("u1"))[0]!.status).toBe("invalid");
  });

  it("serves a team's credential to its members, and keeps several credentials apart", async () => {
    const team = fake.credentials();
    await byok.registerKey({ teamId: "t1", provider: "bedrock", credential: { ...team, region: REGION } });
    fake.reset();
    await byok.use("member", { teamId: "t1" }).chat({ prompt: "x" });
    await byok.use("u1", { teamId: "t1" }).chat({ prompt: "y" });
    expect(fake.requests.map((r) => r.apiKey)).toEqual([team.accessKeyId, aws.accessKeyId]);
    expect(await byok.listKeys({ teamId: "t1" })).toEqual([
      expect.objectContaining({ owner: "team", endpoint: REGION, hint: `\u2026${team.accessKeyId.slice(-4)}` }),
    ]);
  });

  it("checkKey re-validates the stored credential", async () => {
    expect((await byok.use("u1").checkKey("bedrock")).status).toBe("ok");
    fake.revoke(aws.accessKeyId);
    expect((await byok.use("u1").checkKey("bedrock")).status).toBe("invalid");
  });
});

describe("bedrock security", () => {
  it("never sends a credential anywhere but the configured endpoint, whatever region it names", async () => {
    const aws = fake.credentials();
    // A region the fake's endpoint refuses the signature of, but the request still goes to the configured URL alone.
    const trap = await startFakeBedrock();
    try {
      await error(byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: "us-west-2" } }));
      expect(fake.requests).toHaveLength(1);
      expect(trap.requests).toHaveLength(0);
      const e = await error(
        byok.registerKey({
          userId: "u1",
          provider: "bedrock",
          credential: { ...aws, region: `x.${new URL(trap.url).host}` },
        }),
      );
      expect([e.code, e.details?.fields]).toEqual(["INVALID_REQUEST", ["credential.region"]]);
      expect(trap.requests).toHaveLength(0);
    } finally {
      await trap.close();
    }
  });

  it("picks the region's AWS endpoint when no baseUrl is configured", async () => {
    expect(bedrockEndpoint("eu-west-1", "runtime")).toBe("https://bedrock-runtime.eu-west-1.amazonaws.com");
    expect(bedrockEndpoint("us-gov-west-1", "control")).toBe("https://bedrock.us-gov-west-1.amazonaws.com");
    expect(bedrockEndpoint("cn-north-1", "runtime")).toBe("https://bedrock-runtime.cn-north-1.amazonaws.com.cn");
    expect(() => bedrockEndpoint("x.evil.test", "runtime")).toThrow(TypeError);
    const provider = createBedrockProvider();
    expect(provider.credential?.region?.({ region: "ap-southeast-2" })).toBe("ap-southeast-2");
    expect(() => provider.credential?.check?.({ region: "ap-southeast-2.evil.test", apiKey: "ABSK12345678" })).toThrow(
      expect.objectContaining({ code: "INVALID_REQUEST", details: { fields: ["credential.region"] } }),
    );
  });

  it("binds the ciphertext to the region: a record whose region was changed in the store is unreadable", async () => {
    const aws = fake.credentials();
    await byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: REGION } });
    const record = (await store.get("u1", "bedrock"))!;
    expect(record.region).toBe(REGION);
    await store.put({ ...record, region: "us-east-1" });
    expect((await byok.listKeys("u1"))[0]).toMatchObject({ status: "unreadable", endpoint: "us-east-1" });
    expect((await error(byok.use("u1").chat({ prompt: "x" }))).code).toBe("KEY_UNREADABLE");
    const { region: _dropped, ...without } = record;
    await store.put(without);
    expect((await byok.listKeys("u1"))[0]!.status).toBe("unreadable");
    await store.put(record);
    expect((await byok.listKeys("u1"))[0]!.status).toBe("ok");
  });

  it("re-seals a credential under a new master key, still bound to its region", async () => {
    const aws = fake.credentials();
    await byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: REGION } });
    const next = new BYOK({
      masterKey: Buffer.alloc(32, 9).toString("base64"),
      previousMasterKeys: [TEST_MASTER_KEY],
      store,
      providers: { bedrock: { baseUrl: fake.url } },
    });
    try {
      expect(await next.rotate()).toMatchObject({ scanned: 1, rotated: 1, failed: 0 });
      expect((await next.use("u1").chat({ prompt: "after" })).text).toBe("Echo: after");
      const record = (await store.get("u1", "bedrock"))!;
      await store.put({ ...record, region: "eu-west-2" });
      expect((await next.listKeys("u1"))[0]!.status).toBe("unreadable");
    } finally {
      await next.close();
    }
  });

  it("shows no secret of a credential in KeyInfo, events, errors, responses, logs or the BYOK itself", async () => {
    const aws = fake.credentials({ sessionToken: true });
    const apiKey = fake.apiKey();
    const secrets = [...secretsOf(aws), apiKey];
    const { output, result } = await captureConsole(async () => {
      const seen: unknown[] = [];
      seen.push(await byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: REGION } }));
      seen.push(await byok.registerKey({ userId: "u2", provider: "bedrock", credential: { apiKey, region: REGION } }));
      seen.push(await byok.use("u1").chat({ prompt: "x" }));
      const stream = byok.use("u2").stream({ prompt: "y" });
      for await (const part of stream) seen.push(part);
      seen.push(await stream.response);
      fake.enqueue({ refuse: "invalid" });
      seen.push(
        await byok
          .use("u1")
          .chat({ prompt: "z" })
          .catch((e: unknown) => e),
      );
      seen.push(await byok.listKeys("u1"), await byok.listKeys("u2"), await byok.use("u1").models());
      seen.push(await store.list("u1"), await store.list("u2"));
      seen.push(byok, inspect(byok), JSON.stringify(byok));
      return seen;
    });
    expectNoSecret([result, events, output], secrets);
    expect(renderings(await store.list("u1"))).not.toContain(aws.accessKeyId);
  });
});

/**
 * Runs `body` (CommonJS, with `BYOK` and `generateMasterKey` in scope) from the built package in a child Node whose
 * resolver cannot find `hidden`, as in an app that never installed them, and returns what it printed as JSON.
 */
function runWithout(hidden: string[], body: string): Record<string, string | string[]> {
  const script = `
const Module = require("node:module");
const hidden = new Set(${JSON.stringify(hidden)});
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (hidden.has(request)) throw Object.assign(new Error("Cannot find module " + request), { code: "MODULE_NOT_FOUND" });
  return resolve.call(this, request, ...rest);
};
const { BYOK, generateMasterKey } = require("./dist/index.cjs");
const failure = (run) => { try { run(); return "constructed"; } catch (e) { return e.code + " " + e.message; } };
const rejection = (p) => p.then(() => "resolved", (e) => e.code + " " + e.message);
(async () => { ${body} })();
`;
  return JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" })) as Record<
    string,
    string | string[]
  >;
}

describe("bedrock's optional peers", () => {
  it("without @aws-sdk/client-bedrock-runtime: not offered by default, CONFIG_INVALID naming the install when configured", () => {
    const out = runWithout(
      ["@aws-sdk/client-bedrock-runtime"],
      `const byok = new BYOK({ masterKey: generateMasterKey() });
      process.stdout.write(JSON.stringify({
        offered: byok.providers,
        configured: failure(() => new BYOK({ masterKey: generateMasterKey(), providers: { bedrock: {} } })),
        register: await rejection(byok.registerKey({ userId: "u", provider: "bedrock", credential: { apiKey: "ABSK12345678", region: "us-east-1" } })),
      }));`,
    );
    expect(out.offered).not.toContain("bedrock");
    expect(out.configured).toMatch(/^CONFIG_INVALID .*npm install @aws-sdk\/client-bedrock-runtime/);
    expect(out.register).toMatch(/^UNKNOWN_PROVIDER .*npm install @aws-sdk\/client-bedrock-runtime/);
  });

  it("without @aws-sdk/client-bedrock: a key check is CONFIG_INVALID naming the install", () => {
    const out = runWithout(
      ["@aws-sdk/client-bedrock"],
      `const byok = new BYOK({ masterKey: generateMasterKey(), providers: { bedrock: { baseUrl: "http://127.0.0.1:9" } } });
      process.stdout.write(JSON.stringify({
        register: await rejection(byok.registerKey({ userId: "u", provider: "bedrock", credential: { apiKey: "ABSK12345678", region: "us-east-1" } })),
      }));`,
    );
    expect(out.register).toMatch(/^CONFIG_INVALID .*npm install @aws-sdk\/client-bedrock`/);
  });
});

describe.each(SERVER_KINDS)("bedrock credentials through POST /byok/keys on %s", (kind) => {
  let routes: { url: string; close(): Promise<void> };
  beforeEach(async () => {
    routes = await serveRoutes(kind, byok);
  });
  afterEach(() => routes.close());

  const post = (body: unknown) =>
    fetch(`${routes.url}/byok/keys`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-user": "u1" },
      body: JSON.stringify(body),
    });

  it("takes a credential object in place of apiKey and answers its KeyInfo, with the region and no secret", async () => {
    const aws = fake.credentials({ sessionToken: true });
    const res = await post({ provider: "bedrock", credential: { ...aws, region: REGION } });
    const text = await res.text();
    expect(res.status).toBe(201);
    expect(JSON.parse(text)).toMatchObject({
      provider: "bedrock",
      endpoint: REGION,
      hint: `\u2026${aws.accessKeyId.slice(-4)}`,
    });
    const list = await (await fetch(`${routes.url}/byok/keys`, { headers: { "x-user": "u1" } })).text();
    expectNoSecret([text, list], secretsOf(aws));
  });

  it("lets a 3 kB credential through the body limit, and names a bad credential field without its value", async () => {
    const aws = fake.credentials();
    const big = await post({
      provider: "bedrock",
      credential: { ...aws, sessionToken: "T".repeat(3000), region: REGION },
    });
    expect([big.status, ((await big.json()) as { error: { code: string } }).error.code]).toEqual([422, "KEY_REJECTED"]);
    const bad = await post({ provider: "bedrock", credential: { ...aws, region: REGION, color: "blue" } });
    const text = await bad.text();
    expect(bad.status).toBe(400);
    expect(JSON.parse(text).error.details).toEqual({ fields: ["credential.color"] });
    expectNoSecret(text, secretsOf(aws));
    const neither = await post({ provider: "bedrock" });
    expect(((await neither.json()) as { error: { details: unknown } }).error.details).toEqual({
      fields: ["apiKey", "credential"],
    });
  });
});

describe("bedrock in a hostile environment", () => {
  let trap: FakeBedrock;
  let saved: Record<string, string | undefined>;
  beforeEach(async () => {
    trap = await startFakeBedrock();
    const server = trap.credentials();
    const env: Record<string, string> = {
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      AWS_BEARER_TOKEN_BEDROCK: trap.apiKey(),
      AWS_REGION: "us-west-2",
      AWS_DEFAULT_REGION: "us-west-2",
      AWS_ENDPOINT_URL: trap.url,
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: trap.url,
      AWS_ENDPOINT_URL_BEDROCK: trap.url,
      AWS_AUTH_SCHEME_PREFERENCE: "httpBearerAuth",
      AWS_MAX_ATTEMPTS: "5",
      AWS_RETRY_MODE: "adaptive",
      AWS_USE_FIPS_ENDPOINT: "true",
      AWS_USE_DUALSTACK_ENDPOINT: "true",
      AWS_PROFILE: "server-profile",
    };
    saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
  });
  afterEach(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await trap.close();
  });

  it("sends every call to the configured endpoint with the user's credential alone, once, whatever AWS_* says", async () => {
    const aws = fake.credentials();
    const { output } = await captureConsole(async () => {
      await byok.registerKey({ userId: "u1", provider: "bedrock", credential: { ...aws, region: REGION } });
      expect((await byok.use("u1").chat({ prompt: "hi" })).text).toBe("Echo: hi");
      let streamed = "";
      for await (const part of byok.use("u1").stream({ prompt: "a b" })) streamed += part.text;
      expect(streamed).toBe("Echo: a b");
      fake.enqueue({ refuse: "rate_limit" });
      expect((await error(byok.use("u1").chat({ prompt: "x" }))).code).toBe("PROVIDER_RATE_LIMITED");
    });
    expect(fake.requests.map((r) => [r.op, r.apiKey])).toEqual([
      ["validate", aws.accessKeyId],
      ["chat", aws.accessKeyId],
      ["stream", aws.accessKeyId],
      ["chat", aws.accessKeyId],
    ]);
    for (const r of fake.requests) expect(String(r.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 /);
    expect(trap.requests).toEqual([]);
    // The AWS SDK's own one-time notice about Node versions (an app may set AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).
    expect(output.replace(/^\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?was created\)\n?/, "")).toBe("");
  });
});
