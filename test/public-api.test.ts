// What the router and CLI need from BYOK, as public API: brand across module copies, use() options, verify(), providers
// off; and each entry point's export list, pinned.
import { join } from "node:path";
import ts from "typescript";
import { BYOK, ByokError, type ByokEvent, byokRouter, MemoryStore } from "../lib";
import type * as Lib from "../lib";
import { type FakeUpstream, startFakeGemini } from "../lib/testing";
import { TEST_MASTER_KEY } from "./helpers/canary";
import { waitFor } from "./helpers/wait-for";

/** A second copy of byok-ai, as an app that loads it through both `import` and `require` has. */
function secondCopy(): typeof Lib {
  let copy: typeof Lib | undefined;
  jest.isolateModules(() => (copy = jest.requireActual<typeof Lib>("../lib")));
  expect(copy!.BYOK).not.toBe(BYOK);
  return copy!;
}

describe("BYOK across module copies", () => {
  it("is recognised by BYOK.is and accepted by another copy's byokRouter", () => {
    const other = secondCopy();
    const byok = new other.BYOK({ masterKey: TEST_MASTER_KEY });
    expect(BYOK.is(byok)).toBe(true);
    expect(byok instanceof BYOK).toBe(false);
    expect(() => byokRouter({ byok: byok as unknown as BYOK })).not.toThrow();
    expect(BYOK.is({ use: () => undefined })).toBe(false);
    expect(() => byokRouter({ byok: {} as BYOK })).toThrow(/byok must be a BYOK instance/);
  });
});

describe("BYOK's public API", () => {
  let fake: FakeUpstream;
  let events: ByokEvent[];
  let byok: BYOK;

  beforeEach(async () => {
    fake = await startFakeGemini();
    events = [];
    byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { gemini: { baseUrl: fake.url }, openai: false, anthropic: false },
      onEvent: (e) => events.push(e),
    });
  });
  afterEach(async () => {
    await byok.close();
    await fake.close();
  });

  it("aborts every call of a client made with use(userId, { signal }), and tags its events with requestId", async () => {
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-signal-0000", validate: false });
    const controller = new AbortController();
    const ai = byok.use("u1", { signal: controller.signal, requestId: "req-42" });
    fake.enqueue({ hang: true });
    const pending = ai.chat({ prompt: "wait" });
    await waitFor(() => fake.requests.length === 1, "the upstream request");
    controller.abort(new DOMException("gone", "AbortError"));
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await waitFor(() => fake.requests[0]!.aborted === true, "the upstream abort");
    expect(events.at(-1)).toMatchObject({ type: "chat.failed", code: "ABORTED", requestId: "req-42" });
    await expect(ai.chat({ prompt: "again" })).rejects.toMatchObject({ name: "AbortError" });
    expect(fake.requests).toHaveLength(1);
  });

  it("aborts a connection() request of a client made with use(userId, { signal }) too", async () => {
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-signal-0001", validate: false });
    const controller = new AbortController();
    const connection = await byok.use("u1", { signal: controller.signal }).connection("gemini");
    fake.enqueue({ hang: true });
    const pending = connection.fetch(`${connection.baseURL}/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "wait" }] }] }),
    });
    await waitFor(() => fake.requests.length === 1, "the upstream request");
    controller.abort(new DOMException("gone", "AbortError"));
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await waitFor(() => fake.requests[0]!.aborted === true, "the upstream abort");
  });

  it("refuses use() options it does not know, naming them", () => {
    expect(() => byok.use("u1", { teamid: "t" } as never)).toThrow(/unknown field\(s\) teamid/);
    expect(() => byok.use("u1", { signal: "no" } as never)).toThrow(/signal must be an AbortSignal/);
  });

  it("says whether registerKey replaced a key, and stores nothing once its signal fired", async () => {
    const first = await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-first-0000" });
    const second = await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-second-000" });
    expect([first.replaced, second.replaced]).toEqual([false, true]);
    const aborted = AbortSignal.abort(new DOMException("gone", "AbortError"));
    await expect(
      byok.registerKey({ userId: "u2", provider: "gemini", apiKey: "AIza-third-0000", signal: aborted }),
    ).rejects.toMatchObject({ name: "AbortError" });
    expect(await byok.listKeys("u2")).toEqual([]);
  });

  it("reports a chat without a key as chat.failed KEY_NOT_FOUND, with the same details as DELETE's 404", async () => {
    const error = await byok
      .use("u1", { requestId: "req-7" })
      .chat({ prompt: "hi", provider: "gemini" })
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && [error.code, error.provider, error.details]).toEqual([
      "KEY_NOT_FOUND",
      "gemini",
      { fields: ["provider"] },
    ]);
    expect(events).toEqual([
      expect.objectContaining({
        type: "chat.failed",
        code: "KEY_NOT_FOUND",
        userId: "u1",
        provider: "gemini",
        requestId: "req-7",
      }),
    ]);
  });

  it("accepts a store without the recommended touch(): chats work, keys show no lastUsedAt", async () => {
    const memory = new MemoryStore();
    const store = {
      get: memory.get.bind(memory),
      list: memory.list.bind(memory),
      put: memory.put.bind(memory),
      delete: memory.delete.bind(memory),
      deleteUser: memory.deleteUser.bind(memory),
      scan: memory.scan.bind(memory),
      compareAndSwap: memory.compareAndSwap.bind(memory),
    };
    const plain = new BYOK({ masterKey: TEST_MASTER_KEY, store, providers: { gemini: { baseUrl: fake.url } } });
    await plain.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-notouch-00", validate: false });
    expect((await plain.use("u1").chat({ prompt: "hi" })).text).toBe("Echo: hi");
    expect((await plain.listKeys("u1"))[0]!.lastUsedAt).toBeUndefined();
  });

  it("verify() counts records per master-key id, as the CLI prints", async () => {
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-verify-000", validate: false });
    const report = await byok.verify();
    expect(report).toEqual({
      scanned: 1,
      byKeyId: { [report.keyIds[0]!]: 1 },
      keyIds: [expect.any(String)],
      unreadable: [],
    });
  });
});

describe("built-in providers turned off", () => {
  it("offers no provider set to false, though its SDK is installed", async () => {
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: { anthropic: false } });
    expect(byok.providers).toEqual(["gemini", "openai", "bedrock", "vertex", "openrouter", "azure-openai"]);
    const error = await byok
      .registerKey({ userId: "u1", provider: "anthropic", apiKey: "sk-ant-off-0000" })
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("UNKNOWN_PROVIDER");
  });

  it("defaults to the first provider left when gemini is off, and refuses false for a custom id", () => {
    expect(new BYOK({ masterKey: TEST_MASTER_KEY, providers: { gemini: false } }).providers).toEqual([
      "openai",
      "anthropic",
      "bedrock",
      "vertex",
      "openrouter",
      "azure-openai",
    ]);
    expect(() => new BYOK({ masterKey: TEST_MASTER_KEY, providers: { mine: false } })).toThrow(
      /providers.mine: false turns a built-in provider off/,
    );
  });
});

describe("MemoryStore under NODE_ENV=production", () => {
  it("warns once when the app passes one explicitly, as when BYOK defaults to it", () => {
    const env = process.env.NODE_ENV;
    const spy = jest.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    process.env.NODE_ENV = "production";
    try {
      const copy = secondCopy(); // a fresh module: nothing warned yet
      new copy.BYOK({ masterKey: TEST_MASTER_KEY, store: new copy.MemoryStore() });
      new copy.MemoryStore();
      const warned = spy.mock.calls.filter(
        ([, o]) => (o as { code?: string } | undefined)?.code === "BYOK_MEMORY_STORE",
      );
      expect(warned).toHaveLength(1);
    } finally {
      process.env.NODE_ENV = env;
      spy.mockRestore();
    }
    expect(new MemoryStore()).toBeInstanceOf(MemoryStore);
  });
});

/**
 * Each entry point's exports, as the built package has them (globalSetup built dist/): values from the CommonJS
 * module, types (names that are no value) from the ES and CommonJS declarations. A change here is a decision: make
 * it with docs/api.md's "Entry points and names" (test/extend-types.test.ts checks the same split in the sources).
 */
describe("the export list of each entry point", () => {
  const dist = join(__dirname, "..", "dist");

  /** The names a declaration file exports that are types only. */
  function typeExports(file: string): string[] {
    const program = ts.createProgram([file], {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      types: ["node"],
    });
    const checker = program.getTypeChecker();
    const module = checker.getSymbolAtLocation(program.getSourceFile(file)!);
    if (!module) throw new Error(`${file} is not a module: is dist/ built?`);
    return checker
      .getExportsOfModule(module)
      .filter((s) => !((s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s).flags & ts.SymbolFlags.Value))
      .map((s) => s.name)
      .sort();
  }

  const ENTRIES: { entry: string; file: string; values: string[]; types: string[] }[] = [
    {
      entry: "byok-ai",
      file: "index",
      values: [
        "BYOK",
        "ByokError",
        "ERROR_STATUS",
        "MemoryStore",
        "PostgresStore",
        "RedisStore",
        "awsKms",
        "byokErrorHandler",
        "byokErrorResponse",
        "byokHandler",
        "byokRouter",
        "createAnthropicProvider",
        "createAzureOpenAIProvider",
        "createBedrockProvider",
        "createGeminiProvider",
        "createOpenAIProvider",
        "createOpenRouterProvider",
        "createVertexProvider",
        "generateMasterKey",
        "isOpenRouterProvider",
        "localKey",
        "vaultTransit",
      ],
      types: [
        "AiClient",
        "AnthropicProviderSettings",
        "AwsKmsOptions",
        "AzureOpenAIProviderSettings",
        "BedrockCredential",
        "BedrockProviderSettings",
        "Budget",
        "Budgets",
        "ByokErrorCode",
        "ByokErrorOptions",
        "ByokEvent",
        "ByokEventBase",
        "ByokOptions",
        "ChatCompletedEvent",
        "ChatFailedEvent",
        "ChatMessage",
        "ChatRequest",
        "ChatResponse",
        "ChatStream",
        "ConnectOpenRouterOptions",
        "Credential",
        "DataKeyCacheOptions",
        "DeleteKeyInput",
        "EndpointRefusalReason",
        "ErrorDetails",
        "ErrorHandlerOptions",
        "ErrorMessages",
        "ErrorResponseOptions",
        "FinishReason",
        "GeminiProviderSettings",
        "HandlerOptions",
        "KeyCheckedEvent",
        "KeyDeletedEvent",
        "KeyEncryptionKey",
        "KeyInfo",
        "KeyOwner",
        "KeyRegisteredEvent",
        "KeyRejectedEvent",
        "KeyStatus",
        "KeyStatusChangedEvent",
        "KeyUsedEvent",
        "KmsClientLike",
        "ModelInfo",
        "ModelPrice",
        "OpenAIProviderSettings",
        "OpenRouterProvider",
        "OpenRouterProviderSettings",
        "PostgresStoreOptions",
        "Pricing",
        "ProviderConnection",
        "ProviderOptions",
        "RateLimitStoreFactory",
        "RateLimitWindow",
        "RedisStoreOptions",
        "RegisterKeyFields",
        "RegisterKeyInput",
        "RotateOptions",
        "RotateResult",
        "RouterOptions",
        "Usage",
        "UsageOptions",
        "UsageQuery",
        "UsageRow",
        "UseOptions",
        "UserEndpointOptions",
        "UserEndpointSettings",
        "VaultTransitOptions",
        "VerifyOptions",
        "VerifyResult",
        "VertexCredential",
        "VertexProviderSettings",
      ],
    },
    {
      entry: "byok-ai/testing",
      file: "testing",
      values: [
        "chatReaders",
        "connectionChats",
        "runBudgetStoreConformance",
        "runKeyStoreConformance",
        "runOnceStoreConformance",
        "runProviderConformance",
        "runUsageStoreConformance",
        "startFakeAnthropic",
        "startFakeAwsKms",
        "startFakeAzureOpenAI",
        "startFakeBedrock",
        "startFakeGemini",
        "startFakeOpenAI",
        "startFakeOpenRouter",
        "startFakeProviders",
        "startFakeUpstream",
        "startFakeVaultTransit",
        "startFakeVertex",
      ],
      types: [
        "CapabilityConformanceOptions",
        "ConformanceRunner",
        "ConnectionChat",
        "FakeAnswer",
        "FakeAwsCredentials",
        "FakeAwsKms",
        "FakeAwsKmsOptions",
        "FakeBedrock",
        "FakeBedrockOptions",
        "FakeKeyService",
        "FakeOpenRouter",
        "FakeProtocol",
        "FakeProviderServers",
        "FakeProviders",
        "FakeProvidersOptions",
        "FakeRefusal",
        "FakeReply",
        "FakeRequest",
        "FakeServiceAccount",
        "FakeStreamFrame",
        "FakeToolCall",
        "FakeUpstream",
        "FakeUpstreamOptions",
        "FakeVaultTransit",
        "FakeVaultTransitOptions",
        "FakeVertex",
        "FakeVertexOptions",
        "IssuedCredential",
        "KeyServiceCall",
        "KeyServiceFaults",
        "KeyStoreConformanceOptions",
        "ProviderConformanceOptions",
        "SeenChat",
      ],
    },
    {
      entry: "byok-ai/extend",
      file: "extend",
      values: ["cleanUpstreamMessage", "upstreamError"],
      types: [
        "BudgetCounter",
        "BudgetRefusal",
        "BudgetStore",
        "ByokStores",
        "CompareAndSwap",
        "KeyRecord",
        "KeyStore",
        "KeyVerdict",
        "OnceStore",
        "Provider",
        "ProviderCallContext",
        "ProviderChatRequest",
        "ProviderChatResult",
        "ProviderConnectionSpec",
        "ProviderCredentialField",
        "ProviderCredentialSpec",
        "ProviderModel",
        "ProviderPricing",
        "ProviderRefusal",
        "ProviderStreamPart",
        "ProviderUserEndpoints",
        "PutResult",
        "StoredKeyStatus",
        "UpstreamFailure",
        "UsageRow",
        "UsageStore",
      ],
    },
  ];

  it.each(ENTRIES)("$entry exports exactly its values and types", ({ file, values, types }) => {
    expect(Object.keys(jest.requireActual<object>(join(dist, `${file}.cjs`))).sort()).toEqual(values);
    expect(typeExports(join(dist, `${file}.d.mts`))).toEqual(types);
    expect(typeExports(join(dist, `${file}.d.cts`))).toEqual(types);
  });

  it("keeps what provider and store authors need out of byok-ai", () => {
    const root = [...ENTRIES[0]!.values, ...ENTRIES[0]!.types];
    const shared = ENTRIES[2]!.types.filter((name) => root.includes(name));
    expect(shared).toEqual(["UsageRow"]); // apps read usage rows (byok.usage()); stores write them
  });
});
