// Keys that carry their own endpoint: the SSRF guard (registration and connect time, DNS rebinding), the allow-list, redirects, options.
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { type AddressInfo, createServer, type LookupFunction, type Server } from "node:net";
import { BYOK, ByokError, createAzureOpenAIProvider, createOpenAIProvider, MemoryStore } from "../../lib";
import { startFakeOpenAI } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { thrownBy } from "../helpers/errors";

const API_KEY = "sk-user-selfhosted-key-0001";
const PUBLIC = "93.184.216.34";

/** A TCP listener on 127.0.0.1 that counts the connections it gets: the guard must leave it at 0. */
let listener: Server;
let connections = 0;
let port: number;

beforeAll(async () => {
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  port = (listener.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));
beforeEach(() => {
  connections = 0;
});

/** A resolver hook: each name maps to the addresses of successive lookups (the last one repeats). */
function resolver(answers: Record<string, string[][]>): { lookup: LookupFunction; calls: string[] } {
  const calls: string[] = [];
  const lookup: LookupFunction = (hostname, options, callback) => {
    calls.push(hostname);
    const list = answers[hostname];
    if (!list) return callback(Object.assign(new Error("ENOTFOUND"), { code: "ENOTFOUND" }), "", 0);
    const addresses = (list[Math.min(calls.filter((h) => h === hostname).length, list.length) - 1] ?? []).map(
      (address) => ({ address, family: address.includes(":") ? 6 : 4 }),
    );
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  return { lookup, calls };
}

/** A BYOK with one openai-compatible provider whose keys carry their own endpoint (any host unless `hosts`). */
function selfHosted(lookup: LookupFunction, hosts?: string[]) {
  const provider = createOpenAIProvider({
    id: "selfhost",
    compatible: true,
    defaultModel: "llama3.2",
    userEndpoints: { lookup, ...(hosts ? { hosts } : {}) },
  });
  return new BYOK({ masterKey: TEST_MASTER_KEY, store: new MemoryStore(), providers: { selfhost: provider } });
}

async function refusal(promise: Promise<unknown>): Promise<ByokError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!ByokError.is(error)) throw new Error(`expected a ByokError, got ${String(error)}`);
  return error;
}

/** Asserts an INVALID_REQUEST that names the endpoint field and repeats nothing of what was sent. */
function expectEndpointRefused(error: ByokError, endpoint?: string): void {
  expect({ code: error.code, details: error.details }).toEqual({
    code: "INVALID_REQUEST",
    details: { fields: ["endpoint"], reason: expect.any(String) },
  });
  if (endpoint) expect(error.message).not.toContain(new URL(endpoint).hostname);
  expect(error.message).not.toContain(API_KEY);
}

describe("registerKey({ endpoint }) with userEndpoints and no allowPrivateNetwork", () => {
  it.each([
    ["a hex and short-form IPv4 literal", () => `https://0x7f.1:${port}/v1`],
    ["a decimal IPv4 literal", () => `https://2130706433:${port}/v1`],
    ["an octal IPv4 literal", () => `https://0177.0.0.1:${port}/v1`],
    ["an IPv4-mapped IPv6 loopback", () => `https://[::ffff:127.0.0.1]:${port}/v1`],
    ["the IPv6 loopback", () => `https://[::1]:${port}/v1`],
    ["a user name before a loopback host", () => `https://evil@127.0.0.1:${port}/v1`],
    ["a public-looking user name before a loopback host", () => `https://llm.example.com@127.0.0.1:${port}/v1`],
    ["a trailing dot", () => `https://llm.example.com.:${port}/v1`],
    ["a trailing dot after an IPv4 literal", () => `https://127.0.0.1.:${port}/v1`],
    ["plain http", () => `http://llm.example.com:${port}/v1`],
    ["the cloud metadata address", () => "https://169.254.169.254/latest"],
    ["the IPv6 cloud metadata address", () => "https://[fd00:ec2::254]/"],
    ["a private address", () => "https://10.1.2.3/v1"],
    ["a CGNAT address", () => "https://100.64.0.1/v1"],
    ["a link-local IPv6 address", () => "https://[fe80::1]/v1"],
    ["the unspecified address", () => "https://0.0.0.0/v1"],
    ["a benchmarking address (198.18.0.0/15)", () => "https://198.19.1.1/v1"],
    ["an IETF protocol address (192.0.0.0/24)", () => "https://192.0.0.8/v1"],
    ["a reserved address (240.0.0.0/4)", () => "https://240.0.0.1/v1"],
    ["the broadcast address", () => "https://255.255.255.255/v1"],
    ["a documentation IPv6 address", () => "https://[2001:db8::1]/v1"],
    ["a NAT64 form of loopback (64:ff9b::/96)", () => `https://[64:ff9b::127.0.0.1]:${port}/v1`],
    ["a NAT64 form of the metadata address", () => "https://[64:ff9b::a9fe:a9fe]/latest"],
    ["a local-use NAT64 address (64:ff9b:1::/48)", () => "https://[64:ff9b:1::5db8:d822]/v1"],
    ["an IPv4-translated loopback (::ffff:0:0:0/96)", () => `https://[::ffff:0:7f00:1]:${port}/v1`],
    ["an IPv4-compatible loopback (::a.b.c.d)", () => `https://[::127.0.0.1]:${port}/v1`],
    ["a 6to4 form of a private address (2002::/16)", () => "https://[2002:a00:1::1]/v1"],
    ["a Teredo address whose client is loopback", () => "https://[2001:0:5db8:d822::80ff:fffe]/v1"],
    ["a Teredo address whose server is private", () => "https://[2001:0:a00:1::a2c7:2add]/v1"],
    ["a name that resolves to loopback", () => `https://internal.example.com:${port}/v1`],
    ["a name with one public and one loopback address", () => `https://mixed.example.com:${port}/v1`],
    ["a query string", () => "https://llm.example.com/v1?x=1"],
    ["something that is not a URL", () => "llm.example.com/v1"],
  ])("refuses %s with INVALID_REQUEST naming endpoint, connecting to nothing", async (_name, endpoint) => {
    const { lookup } = resolver({
      "llm.example.com": [[PUBLIC]],
      "internal.example.com": [["127.0.0.1"]],
      "mixed.example.com": [[PUBLIC, "127.0.0.1"]],
    });
    const byok = selfHosted(lookup);
    const error = await refusal(
      byok.registerKey({ userId: "u1", provider: "selfhost", apiKey: API_KEY, endpoint: endpoint() }),
    );
    expectEndpointRefused(error);
    expect(connections).toBe(0);
    expect(await byok.listKeys("u1")).toEqual([]);
  });

  it.each([
    ["a NAT64 form", "https://[64:ff9b::5db8:d822]/v1"],
    ["a 6to4 form", "https://[2002:5db8:d822::1]/v1"],
    ["an IPv4-mapped form", "https://[::ffff:93.184.216.34]/v1"],
    ["a Teredo form", "https://[2001:0:5db8:d822::a2c7:2add]/v1"],
    ["a global IPv6 address", "https://[2606:4700::1111]/v1"],
  ])("accepts %s of a public address", async (_name, endpoint) => {
    const byok = selfHosted(resolver({}).lookup);
    const info = await byok.registerKey({
      userId: "u1",
      provider: "selfhost",
      apiKey: API_KEY,
      endpoint,
      validate: false,
    });
    expect(info.endpoint).toBe(new URL(endpoint).host);
  });

  it("refuses a host outside userEndpoints.hosts (one-label wildcards only)", async () => {
    const { lookup } = resolver({ "a.b.example.com": [[PUBLIC]], "evil.test": [[PUBLIC]] });
    const byok = selfHosted(lookup, ["*.example.com"]);
    for (const endpoint of ["https://a.b.example.com/v1", "https://evil.test/v1", "https://example.com/v1"]) {
      const error = await refusal(
        byok.registerKey({ userId: "u1", provider: "selfhost", apiKey: API_KEY, endpoint, validate: false }),
      );
      expectEndpointRefused(error, endpoint);
      expect(error.message).toContain("userEndpoints.hosts");
    }
  });

  it("stores an allowed public endpoint bound to the key and shows its host in KeyInfo.endpoint", async () => {
    const { lookup } = resolver({ "llm.example.com": [[PUBLIC]] });
    const byok = selfHosted(lookup, ["*.example.com", "llm.example.com"]);
    const info = await byok.registerKey({
      userId: "u1",
      provider: "selfhost",
      apiKey: API_KEY,
      endpoint: "https://LLM.example.com:8443/v1/",
      validate: false,
    });
    expect(info).toMatchObject({ provider: "selfhost", endpoint: "llm.example.com:8443", status: "ok" });
    expect(await byok.listKeys("u1")).toEqual([expect.objectContaining({ endpoint: "llm.example.com:8443" })]);
  });
});

describe("the connect-time guard (DNS rebinding)", () => {
  it("refuses the validation call when the name resolved to a public address at the check and to 127.0.0.1 at connect", async () => {
    const { lookup, calls } = resolver({ "rebind.example.com": [[PUBLIC], ["127.0.0.1"]] });
    const byok = selfHosted(lookup);
    const endpoint = `https://rebind.example.com:${port}/v1`;
    const error = await refusal(byok.registerKey({ userId: "u1", provider: "selfhost", apiKey: API_KEY, endpoint }));
    expectEndpointRefused(error, endpoint);
    expect(error.details?.reason).toBe("private_address");
    expect(error.message).toContain("loopback");
    expect(calls.length).toBeGreaterThanOrEqual(2); // the check, then the connection
    expect(connections).toBe(0);
    expect(await byok.listKeys("u1")).toEqual([]);
  });

  it("refuses chat, stream, models and connection() for a stored key whose endpoint now resolves to loopback", async () => {
    const { lookup } = resolver({ "rebind.example.com": [[PUBLIC], ["::ffff:127.0.0.1", "127.0.0.1"]] });
    const byok = selfHosted(lookup);
    const endpoint = `https://rebind.example.com:${port}/v1`;
    await byok.registerKey({ userId: "u1", provider: "selfhost", apiKey: API_KEY, endpoint, validate: false });
    const ai = byok.use("u1");
    expectEndpointRefused(await refusal(ai.chat({ prompt: "hi" })));
    const stream = ai.stream({ prompt: "hi" });
    expectEndpointRefused(await refusal((async () => void (await stream[Symbol.asyncIterator]().next()))()));
    expectEndpointRefused(await refusal(ai.models("selfhost")));
    const connection = await ai.connection("selfhost");
    expect(connection.baseURL).toBe(endpoint);
    expectEndpointRefused(await refusal(connection.fetch(`${endpoint}/models`)));
    expect(connections).toBe(0);
  });
});

describe("user endpoints with allowPrivateNetwork", () => {
  let redirector: HttpServer;
  let redirectorUrl: string;
  beforeAll(async () => {
    // Answers every request with a redirect to the counting listener.
    redirector = createHttpServer((_req, res) =>
      res.writeHead(307, { location: `http://127.0.0.1:${port}/v1/chat/completions` }).end(),
    );
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => redirector.close(() => resolve())));

  const ollama = () =>
    new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: {
        ollama: {
          kind: "openai-compatible",
          defaultModel: "llama3.2",
          userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true },
        },
      },
      defaultProvider: "ollama",
    });

  it("chats with a loopback http endpoint on the allow-list, and sends the key nowhere else", async () => {
    const fake = await startFakeOpenAI();
    try {
      const byok = ollama();
      const info = await byok.registerKey({
        userId: "u1",
        provider: "ollama",
        apiKey: API_KEY,
        endpoint: `${fake.url}/v1`,
      });
      expect(info.endpoint).toBe(new URL(fake.url).host);
      expect((await byok.use("u1").chat({ prompt: "hi" })).text).toBe("Echo: hi");
      expect(fake.requests.map((r) => [r.path, r.apiKey])).toEqual([
        ["/v1/models", API_KEY],
        ["/v1/chat/completions", API_KEY],
      ]);
    } finally {
      await fake.close();
    }
  });

  it("never follows a redirect: a 307 fails the call and the redirect target gets no connection", async () => {
    const byok = ollama();
    const error = await refusal(
      byok.registerKey({ userId: "u1", provider: "ollama", apiKey: API_KEY, endpoint: redirectorUrl }),
    );
    expect(error.code).toBe("PROVIDER_ERROR");
    await byok.registerKey({
      userId: "u1",
      provider: "ollama",
      apiKey: API_KEY,
      endpoint: redirectorUrl,
      validate: false,
    });
    expect((await refusal(byok.use("u1").chat({ prompt: "hi" }))).code).toBe("PROVIDER_ERROR");
    const response = await (await byok.use("u1").connection()).fetch(`${redirectorUrl}/models`);
    expect(response.status).toBe(307);
    expect(connections).toBe(0);
  });

  it("still refuses hosts off the allow-list", async () => {
    const error = await refusal(
      ollama().registerKey({ userId: "u1", provider: "ollama", apiKey: API_KEY, endpoint: "http://localhost/v1" }),
    );
    expectEndpointRefused(error);
  });
});

describe("registerKey({ endpoint }) where the provider takes none, or needs one", () => {
  it("refuses an endpoint for a provider without userEndpoints, and a missing one for azure-openai", async () => {
    const fake = await startFakeOpenAI();
    try {
      const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: { openai: { baseUrl: fake.url } } });
      const endpoint = "https://evil.example.com/v1";
      expectEndpointRefused(
        await refusal(byok.registerKey({ userId: "u1", provider: "openai", apiKey: API_KEY, endpoint })),
        endpoint,
      );
      expectEndpointRefused(
        await refusal(byok.registerKey({ userId: "u1", provider: "azure-openai", apiKey: API_KEY })),
      );
      expect(fake.requests).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it("azure-openai takes only https resource endpoints of Azure by default", async () => {
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { azure: createAzureOpenAIProvider({ id: "azure", userEndpoints: { lookup: resolver({}).lookup } }) },
    });
    for (const endpoint of [
      "https://evil.example.com",
      "https://my-resource.openai.azure.com.evil.example.com",
      "http://my-resource.openai.azure.com",
      "https://my-resource.openai.azure.com/openai/deployments/x",
      "https://a.b.openai.azure.com",
    ]) {
      const error = await refusal(
        byok.registerKey({ userId: "u1", provider: "azure", apiKey: API_KEY, endpoint, validate: false }),
      );
      expectEndpointRefused(error);
    }
  });
});

describe("new BYOK() with userEndpoints and the new kinds", () => {
  it.each([
    ["userEndpoints on a provider kind without them", { openai: { userEndpoints: {} } }, "only for kinds"],
    [
      "allowPrivateNetwork without hosts",
      { x: { kind: "openai-compatible", defaultModel: "m", userEndpoints: { allowPrivateNetwork: true } } },
      "needs hosts",
    ],
    [
      "a host pattern with a scheme",
      { x: { kind: "openai-compatible", defaultModel: "m", userEndpoints: { hosts: ["https://a.com"] } } },
      "host name",
    ],
    [
      "a host pattern with a trailing dot",
      { x: { kind: "openai-compatible", defaultModel: "m", userEndpoints: { hosts: ["a.com."] } } },
      "trailing dot",
    ],
    ["a wildcard alone", { "azure-openai": { userEndpoints: { hosts: ["*"] } } }, "host name"],
    ["baseUrl on azure-openai", { "azure-openai": { baseUrl: "https://a.openai.azure.com" } }, "its own endpoint"],
    [
      "authUrl on openai",
      { openai: { authUrl: "https://openrouter.ai/auth" } },
      'only for kinds "vertex" and "openrouter"',
    ],
    [
      "a misspelt userEndpoints option",
      { x: { kind: "openai-compatible", defaultModel: "m", userEndpoints: { host: [] } } },
      "Did you mean `hosts`?",
    ],
    [
      "openai-compatible with neither baseUrl nor userEndpoints",
      { x: { kind: "openai-compatible", defaultModel: "m" } },
      "userEndpoints",
    ],
  ])("throws CONFIG_INVALID for %s", (_name, providers, fix) => {
    expect(thrownBy(() => new BYOK({ masterKey: TEST_MASTER_KEY, providers: providers as never }))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining(fix),
    });
  });
});
