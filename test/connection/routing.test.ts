// ai.connection()'s fetch sends the key only where the provider lives: no caller option can route it elsewhere
// (an undici dispatcher, Agent, ProxyAgent or EnvHttpProxyAgent, proxy variables, odd fields of a Request).
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import OpenAI, { type ClientOptions } from "openai";
import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from "undici";
import { BYOK, ByokError, type ProviderConnection } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";

const KEY = "sk-user-openai-routing-0024";
/** The OpenAI client's `fetchOptions`, which its types narrow to the fetch it was built against. */
type FetchOptions = NonNullable<ClientOptions["fetchOptions"]>;

/**
 * A raw TCP listener that plays both an HTTP server and an HTTP proxy: it accepts a CONNECT tunnel
 * and answers any request 200, so a key routed to it would arrive. It records every byte it gets.
 */
async function startThief() {
  const received: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => {
      const text = chunk.toString("latin1");
      received.push(text);
      if (text.startsWith("CONNECT ")) socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
      else if (text.includes("\r\n\r\n"))
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** What reached the thief: how many connections, and whether any byte of the key did. */
    loot: () => ({ connections, gotKey: received.join("").includes(KEY) }),
    reset: () => void ((received.length = 0), (connections = 0)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let fakes: FakeProviders;
let thief: Awaited<ReturnType<typeof startThief>>;
let conn: ProviderConnection;
const dispatchers: Dispatcher[] = [];
beforeAll(async () => {
  [fakes, thief] = await Promise.all([startFakeProviders(), startThief()]);
  const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: { openai: { baseUrl: `${fakes.openai.url}/v1` } } });
  await byok.registerKey({ userId: "u1", provider: "openai", apiKey: KEY, validate: false });
  conn = await byok.use("u1").connection("openai");
});
afterAll(async () => {
  await Promise.all(dispatchers.map((d) => d.close()));
  await Promise.all([fakes.close(), thief.close()]);
});
beforeEach(() => {
  fakes.openai.reset();
  thief.reset();
});

/** A dispatcher, closed after the suite. */
function owned<D extends Dispatcher>(dispatcher: D): D {
  dispatchers.push(dispatcher);
  return dispatcher;
}

/** An undici Agent whose connector dials the thief whatever origin the request is for. */
const agentToThief = () =>
  owned(
    new Agent({
      connect: (_options, callback) => {
        const socket = connect(thief.port, "127.0.0.1");
        socket.once("connect", () => callback(null, socket));
        socket.once("error", (error) => callback(error, null));
        return socket;
      },
    }),
  );

/**
 * A dispatcher written by hand: undici's fetch hands it the request, headers and all. It keeps them
 * and fails the request.
 */
function handWrittenDispatcher() {
  const seen: string[] = [];
  const dispatcher = {
    dispatch(options: { headers?: unknown }, handler: { onError(error: Error): void }) {
      seen.push(JSON.stringify(options.headers));
      queueMicrotask(() => handler.onError(new Error("kept the headers")));
      return true;
    },
    close: async () => undefined,
    destroy: async () => undefined,
    on() {
      return this;
    },
  };
  return { dispatcher: dispatcher as unknown as Dispatcher, gotKey: () => seen.join("").includes(KEY) };
}

/** Sends GET {baseURL}/models through the connection with these extra init fields. */
const listModels = (extra: Record<string, unknown>) =>
  conn.fetch(`${conn.baseURL}/models`, { method: "GET", ...extra } as RequestInit);

/** The request reached the real fake with the key, and the thief saw nothing. */
function expectSentToProvider(status: number) {
  expect(status).toBe(200);
  expect(fakes.openai.requests.map((r) => [r.path, r.apiKey])).toEqual([["/v1/models", KEY]]);
  expect(thief.loot()).toEqual({ connections: 0, gotKey: false });
}

describe("ProviderConnection.fetch ignores every routing option a caller passes", () => {
  it.each([
    ["an undici Agent whose connect dials another port", () => agentToThief()],
    ["a ProxyAgent to another listener", () => owned(new ProxyAgent(thief.url))],
    [
      "an EnvHttpProxyAgent whose proxies are another listener",
      () => owned(new EnvHttpProxyAgent({ httpProxy: thief.url, httpsProxy: thief.url, noProxy: "" })),
    ],
  ])("drops `dispatcher`: %s", async (_what, make) => {
    const response = await listModels({ dispatcher: make() });
    expectSentToProvider(response.status);
  });

  it("drops a hand-written dispatcher object, which never sees the request", async () => {
    const thiefDispatcher = handWrittenDispatcher();
    const response = await listModels({ dispatcher: thiefDispatcher.dispatcher });
    expect(thiefDispatcher.gotKey()).toBe(false);
    expectSentToProvider(response.status);
  });

  it("ignores HTTP_PROXY / HTTPS_PROXY (and an EnvHttpProxyAgent reading them)", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      HTTP_PROXY: thief.url,
      HTTPS_PROXY: thief.url,
      http_proxy: thief.url,
      https_proxy: thief.url,
      NO_PROXY: "",
      no_proxy: "",
    });
    try {
      expect((await listModels({})).status).toBe(200);
      const response = await listModels({ dispatcher: owned(new EnvHttpProxyAgent()) });
      expect(response.status).toBe(200);
      expect(fakes.openai.requests.map((r) => r.apiKey)).toEqual([KEY, KEY]);
      expect(thief.loot()).toEqual({ connections: 0, gotKey: false });
    } finally {
      for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"])
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
    }
  });

  it("drops the OpenAI SDK's fetchOptions.dispatcher (client-wide and per request)", async () => {
    const openai = new OpenAI({
      apiKey: conn.apiKey,
      baseURL: conn.baseURL,
      fetch: conn.fetch,
      fetchOptions: { dispatcher: agentToThief() } as FetchOptions,
      organization: null,
      project: null,
      maxRetries: 0,
    });
    fakes.openai.enqueue({ text: "Hi back." }, { text: "Again." });
    const first = await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hi" }],
    });
    const second = await openai.chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] },
      { fetchOptions: { dispatcher: owned(new ProxyAgent(thief.url)) } as FetchOptions },
    );
    expect([first.choices[0]!.message.content, second.choices[0]!.message.content]).toEqual(["Hi back.", "Again."]);
    expect(fakes.openai.requests.map((r) => r.apiKey)).toEqual([KEY, KEY]);
    expect(thief.loot()).toEqual({ connections: 0, gotKey: false });
  });

  it("reads only method, headers, body and signal from a Request, whatever else it or the init carries", async () => {
    const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] };
    const odd = {
      keepalive: true,
      cache: "no-store",
      credentials: "include",
      mode: "cors",
      redirect: "follow",
      referrer: `${thief.url}/referrer`,
      referrerPolicy: "unsafe-url",
      integrity: "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      priority: "high",
    } as RequestInit;
    const input = new Request(`${conn.baseURL}/chat/completions`, {
      ...odd,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      dispatcher: agentToThief(),
    } as RequestInit);
    const response = await conn.fetch(input, { dispatcher: owned(new ProxyAgent(thief.url)) } as RequestInit);
    expect(response.status).toBe(200);
    expect(fakes.openai.requests.map((r) => [r.method, r.path, r.apiKey, r.body])).toEqual([
      ["POST", "/v1/chat/completions", KEY, body],
    ]);
    expect(fakes.openai.requests[0]!.headers.referer).toBeUndefined();
    expect(thief.loot()).toEqual({ connections: 0, gotKey: false });
  });

  it("passes the caller's signal: an aborted signal rejects with its reason, unsent", async () => {
    const controller = new AbortController();
    controller.abort(new Error("caller gave up"));
    const error = await listModels({ signal: controller.signal, dispatcher: agentToThief() }).catch((e: unknown) => e);
    expect(ByokError.is(error)).toBe(false);
    expect(error).toMatchObject({ message: "caller gave up" });
    expect(fakes.openai.requests).toEqual([]);
    expect(thief.loot()).toEqual({ connections: 0, gotKey: false });
  });

  it("sends a streamed body (duplex: half)", async () => {
    const text = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Streamed" }] });
    const stream = new Blob([text]).stream();
    const response = await conn.fetch(`${conn.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(200);
    expect(fakes.openai.requests.map((r) => r.body)).toEqual([JSON.parse(text)]);
  });
});
