// Structured credentials in the core, with a custom provider that declares one: field checks, the provider's own
// check, the region, the hint, sealing as one unit, and what each call gets.
import { BYOK, ByokError, type ByokEvent, MemoryStore } from "../../lib";
import type { Provider, ProviderCredentialSpec } from "../../lib/extend";
import { renderings, TEST_MASTER_KEY } from "../helpers/canary";

const SECRET = "s3cret-CANARY-credential-9f8e7d";

/** A provider whose key is `{ keyId, secret, file?, location? }`; its calls answer what they were given. */
function cloudProvider(spec: Partial<ProviderCredentialSpec> = {}): Provider & { given: string[] } {
  const given: string[] = [];
  return {
    given,
    specificationVersion: "v1",
    defaultModel: "m1",
    credential: {
      fields: {
        keyId: { required: true, hint: true },
        secret: { required: true, secret: true },
        file: { type: "object" },
        location: {},
      },
      check(credential) {
        if (credential.location === "bad")
          throw new ByokError("INVALID_REQUEST", "location is not one we know.", {
            details: { fields: ["credential.location"] },
          });
        if (credential.location === "boom") throw new Error(`cannot parse ${String(credential.secret)}`);
        return { ...credential, location: (credential.location as string | undefined) ?? "here-1" };
      },
      region: (credential) => credential.location as string,
      ...spec,
    },
    async validateKey(context) {
      given.push(context.apiKey);
    },
    async doChat(request, context) {
      given.push(context.apiKey);
      const credential = JSON.parse(context.apiKey) as { keyId: string };
      return {
        text: credential.keyId,
        model: request.model,
        finishReason: "stop",
        usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
      };
    },
    async *doStream() {
      yield {
        type: "finish",
        model: "m1",
        finishReason: "stop",
        usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      };
    },
  };
}

let provider: ReturnType<typeof cloudProvider>;
let byok: BYOK;
let store: MemoryStore;
let events: ByokEvent[];
beforeEach(() => {
  provider = cloudProvider();
  store = new MemoryStore();
  events = [];
  byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    store,
    providers: { cloud: provider, plain: cloudProvider({ acceptsApiKey: true }) },
    defaultProvider: "cloud",
    onEvent: (e) => void events.push(e),
  });
});

const refusal = async (p: Promise<unknown>): Promise<ByokError> => {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!ByokError.is(e)) throw new Error(`expected a ByokError, got ${String(e)}`);
  return e;
};
const register = (credential: Record<string, unknown>, provider = "cloud") =>
  byok.registerKey({ userId: "u1", provider, credential: credential as Record<string, string> });

describe("registerKey({ credential })", () => {
  it("checks, normalises and seals the credential as one unit; every call gets its JSON as apiKey", async () => {
    const file = { type: "service_account", project: "p1" };
    const info = await register({ keyId: "KEYID-0001-ABCD", secret: SECRET, file: JSON.stringify(file) });
    expect(info).toMatchObject({ provider: "cloud", hint: "\u2026ABCD", endpoint: "here-1", status: "ok" });
    const json = JSON.stringify({ keyId: "KEYID-0001-ABCD", secret: SECRET, file, location: "here-1" });
    expect(provider.given).toEqual([json]);
    expect((await byok.use("u1").chat({ prompt: "x" })).text).toBe("KEYID-0001-ABCD");
    expect(provider.given).toEqual([json, json]);
    const record = (await store.get("u1", "cloud"))!;
    expect(record).toMatchObject({ region: "here-1", hint: "\u2026ABCD" });
    expect(renderings([info, record, events, await byok.listKeys("u1")])).not.toContain(SECRET);
  });

  it.each([
    ["an unknown field", { color: "blue" }, ["credential.color"]],
    ["a required field missing", { secret: undefined }, ["credential.secret"]],
    ["a string field that is not a string", { keyId: 42 }, ["credential.keyId"]],
    ["an empty string", { keyId: "" }, ["credential.keyId"]],
    ["control characters", { keyId: "a\nb" }, ["credential.keyId"]],
    ["an object field that is no JSON object", { file: "[1,2]" }, ["credential.file"]],
    ["a refusal of the provider's check", { location: "bad" }, ["credential.location"]],
    ["a provider's check that throws", { location: "boom" }, ["credential"]],
    ["a region the core cannot bind", { location: "a/b" }, ["credential"]],
    ["more than 12 288 bytes", { file: { blob: "x".repeat(13_000) } }, ["credential"]],
  ])("refuses %s as INVALID_REQUEST naming the field, never a value", async (_name, change, fields) => {
    const credential: Record<string, unknown> = { keyId: "KEYID-0001-ABCD", secret: SECRET, ...change };
    for (const [k, v] of Object.entries(credential)) if (v === undefined) delete credential[k];
    const e = await refusal(register(credential));
    expect([e.code, e.details?.fields]).toEqual(["INVALID_REQUEST", fields]);
    expect(renderings(e)).not.toContain(SECRET);
    expect(provider.given).toEqual([]);
    expect(await byok.listKeys("u1")).toEqual([]);
  });

  it("repeats no field name a client chose that is not a plain identifier", async () => {
    const e = await refusal(register({ keyId: "KEYID-0001-ABCD", secret: SECRET, "<script>": "x" }));
    expect([e.code, e.details?.fields]).toEqual(["INVALID_REQUEST", []]);
    expect(e.message).not.toContain("<script>");
  });

  it("takes exactly one of apiKey and credential; an apiKey only where the provider accepts one", async () => {
    const none = await refusal(byok.registerKey({ userId: "u1", provider: "cloud" }));
    expect(none.details?.fields).toEqual(["apiKey", "credential"]);
    const plain = await refusal(byok.registerKey({ userId: "u1", provider: "cloud", apiKey: "plain-key-1234" }));
    expect([plain.code, plain.details?.fields]).toEqual(["INVALID_REQUEST", ["apiKey"]]);
    const info = await byok.registerKey({ userId: "u1", provider: "plain", apiKey: "plain-key-1234" });
    expect(info).toMatchObject({ hint: "\u20261234" });
    expect(info.endpoint).toBeUndefined();
    const array = await refusal(register([] as unknown as Record<string, unknown>));
    expect(array.details?.fields).toEqual(["credential"]);
  });

  it("refuses a credential for a provider that declares none", async () => {
    const other = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { simple: { ...cloudProvider(), credential: undefined } },
    });
    const e = await refusal(other.registerKey({ userId: "u1", provider: "simple", credential: { keyId: "x" } }));
    expect([e.code, e.details?.fields]).toEqual(["INVALID_REQUEST", ["credential"]]);
  });

  it("hints a credential without a hint field as …", async () => {
    const bare = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { bare: cloudProvider({ fields: { secret: { required: true, secret: true } }, region: undefined }) },
    });
    expect(await bare.registerKey({ userId: "u1", provider: "bare", credential: { secret: SECRET } })).toMatchObject({
      hint: "\u2026",
    });
  });
});
