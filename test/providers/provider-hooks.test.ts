// A custom provider teaches key health its vendor's refusals through its own hooks, for ai.connection() and its own calls.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { BYOK, type KeyInfo } from "../../lib";
import { type Provider, upstreamError } from "../../lib/extend";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { waitFor } from "../helpers/wait-for";

type Refusal = Parameters<NonNullable<Provider["readRefusal"]>>[0];

/** Acme's HTTP API: answers each request with the next queued reply (JSON, or SSE events), else 200 `{}`. */
async function startAcme() {
  const replies: { status: number; body: unknown; events?: unknown[] }[] = [];
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    req.resume();
    req.on("end", () => {
      const reply = replies.shift() ?? { status: 200, body: {} };
      if (reply.events) {
        res.writeHead(reply.status, { "content-type": "text/event-stream" });
        res.end(reply.events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join(""));
        return;
      }
      res.writeHead(reply.status, { "content-type": "application/json" });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, replies, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Acme's own way of saying the account is out of credit, with a status the core reads nothing from. */
const OUT_OF_CREDIT = { fault: { kind: "no_credit", detail: "Top up your Acme account." } };

/** A provider for Acme: its refusals read by its own hook, which records what it was given. */
function acmeProvider(baseURL: string, seen: Refusal[], auth = "bearer"): Provider {
  const readRefusal = (refusal: Refusal) => {
    seen.push(refusal);
    const kind = (refusal.body as { fault?: { kind?: unknown } } | undefined)?.fault?.kind;
    return kind === "no_credit" ? ({ status: "quota_exhausted" } as const) : undefined;
  };
  return {
    specificationVersion: "v1",
    defaultModel: "acme-1",
    connection: {
      baseURL,
      auth,
      keyParam: "token",
      // Acme states usage as { meter: { in, out } }, in a JSON answer or one SSE event each.
      readUsage(body, before) {
        const meter = (body as { meter?: { in?: number; out?: number } } | undefined)?.meter;
        if (!meter) return before;
        const inputTokens = meter.in ?? before?.inputTokens ?? 0;
        const outputTokens = meter.out ?? before?.outputTokens ?? 0;
        return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
      },
      readRequest(body) {
        const { engine, limit } = (body ?? {}) as { engine?: string; limit?: number };
        return { model: engine, maxOutputTokens: limit };
      },
    },
    readRefusal,
    validateKey: async () => undefined,
    async doChat(request, { apiKey, signal }) {
      const response = await fetch(`${baseURL}/chat`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: request.model }),
        signal,
      });
      if (!response.ok) {
        const body: unknown = await response.json().catch(() => undefined);
        const verdict = readRefusal({ status: response.status, body });
        throw upstreamError("acme", { status: response.status, ...(verdict ? { verdict } : {}) }, apiKey);
      }
      return {
        text: "hi",
        model: request.model,
        finishReason: "stop",
        usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
      };
    },
    doStream: async function* () {},
  };
}

let acme: Awaited<ReturnType<typeof startAcme>>;
beforeAll(async () => (acme = await startAcme()));
afterAll(() => acme.close());
beforeEach(() => void (acme.replies.length = acme.seen.length = 0));

async function setUp() {
  const seen: Refusal[] = [];
  const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: { acme: acmeProvider(`${acme.url}/v1`, seen) } });
  await byok.registerKey({ userId: "u1", provider: "acme", apiKey: "acme-user-key-0001", validate: false });
  const statusBecomes = (status: KeyInfo["status"]) =>
    waitFor(async () => (await byok.listKeys("u1"))[0]?.status === status, `status ${status}`);
  return { byok, ai: byok.use("u1"), seen, statusBecomes };
}

describe("a custom provider's readRefusal", () => {
  it.each([402, 400])(
    "marks the key quota_exhausted from its own %s body through ai.connection(), the app still reading it",
    async (status) => {
      const { ai, seen, statusBecomes } = await setUp();
      const conn = await ai.connection("acme");
      acme.replies.push({ status, body: OUT_OF_CREDIT });
      const response = await conn.fetch(`${conn.baseURL}/chat`, { method: "POST", body: "{}" });
      expect([response.status, await response.json()]).toEqual([status, OUT_OF_CREDIT]);
      await statusBecomes("quota_exhausted");
      expect(seen).toEqual([{ status, body: OUT_OF_CREDIT, retryAfter: null }]);
    },
  );

  it("marks the key quota_exhausted from its own calls, through upstreamError's verdict", async () => {
    const { ai, statusBecomes } = await setUp();
    acme.replies.push({ status: 400, body: OUT_OF_CREDIT });
    await expect(ai.chat({ prompt: "hi" })).rejects.toMatchObject({ code: "PROVIDER_BAD_REQUEST", provider: "acme" });
    await statusBecomes("quota_exhausted");
  });

  it("leaves any other refusal to its status, and a 401 is invalid whatever the hook says", async () => {
    const { ai, seen, statusBecomes } = await setUp();
    const conn = await ai.connection("acme");
    acme.replies.push({ status: 400, body: { fault: { kind: "bad_prompt" } } });
    await (await conn.fetch(`${conn.baseURL}/chat`, { method: "POST", body: "{}" })).text();
    await waitFor(() => seen.length === 1, "the hook's reading");
    acme.replies.push({ status: 401, body: OUT_OF_CREDIT });
    await (await conn.fetch(`${conn.baseURL}/chat`, { method: "POST", body: "{}" })).text();
    await statusBecomes("invalid");
    expect(seen).toHaveLength(1);
  });
});

describe("a custom provider's connection readers", () => {
  it("meter ai.connection() requests: the model and limit its request names, the usage its JSON and SSE answers state", async () => {
    const { byok, ai } = await setUp();
    const conn = await ai.connection("acme");
    acme.replies.push(
      { status: 200, body: { text: "hi", meter: { in: 12, out: 5 } } },
      { status: 200, body: undefined, events: [{ meter: { in: 3 } }, { delta: "hi" }, { meter: { out: 4 } }] },
    );
    const ask = JSON.stringify({ engine: "acme-large", limit: 64, prompt: "Hi" });
    await (await conn.fetch(`${conn.baseURL}/chat`, { method: "POST", body: ask })).json();
    await (await conn.fetch(`${conn.baseURL}/chat`, { method: "POST", body: ask })).text();
    await waitFor(async () => (await ai.usage()).some((r) => r.requests === 2), "two metered requests");
    expect(
      (await byok.usage({ userId: "u1" })).map(({ model, requests, inputTokens, outputTokens }) => ({
        model,
        requests,
        inputTokens,
        outputTokens,
      })),
    ).toEqual([{ model: "acme-large", requests: 2, inputTokens: 15, outputTokens: 9 }]);
  });

  it("reserve the limit readRequest names: under the budget it is sent, over it refused before anything is sent", async () => {
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { acme: acmeProvider(`${acme.url}/v1`, []) },
      budgets: { user: { tokensPerDay: 500 } }, // less than the 4096 output tokens reserved when a request names none
    });
    await byok.registerKey({ userId: "u1", provider: "acme", apiKey: "acme-user-key-0001", validate: false });
    const conn = await byok.use("u1").connection("acme");
    const ask = (limit: number) => JSON.stringify({ engine: "acme-large", limit, prompt: "Hi" });
    acme.replies.push({ status: 200, body: { meter: { in: 3, out: 4 } } }, { status: 200, body: {} });
    const sent = await conn.fetch(`${conn.baseURL}/chat`, { method: "POST", body: ask(64) });
    expect([sent.status, await sent.json()]).toEqual([200, { meter: { in: 3, out: 4 } }]);
    await expect(conn.fetch(`${conn.baseURL}/chat`, { method: "POST", body: ask(5000) })).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
    });
    expect(acme.replies).toHaveLength(1);
  });
});

describe("a custom provider's connection auth", () => {
  it("puts the key in the header it names, removing every configured provider's key header and its key parameter", async () => {
    // The built-ins stay configured beside acme: their headers (x-api-key…) are removed too.
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { acme: acmeProvider(`${acme.url}/v1`, [], "X-Acme-Key") },
    });
    await byok.registerKey({ userId: "u1", provider: "acme", apiKey: "acme-user-key-0001", validate: false });
    const conn = await byok.use("u1").connection("acme");
    await (
      await conn.fetch(`${conn.baseURL}/chat?token=app-token&stream=1`, {
        method: "POST",
        headers: { authorization: "Bearer app-key", "x-api-key": "app-other-key", "x-acme-key": conn.apiKey },
        body: "{}",
      })
    ).text();
    const [request] = acme.seen;
    expect([
      request!.url,
      request!.headers["x-acme-key"],
      request!.headers.authorization,
      request!.headers["x-api-key"],
    ]).toEqual(["/v1/chat?stream=1", "acme-user-key-0001", undefined, undefined]);
  });

  it.each([
    ["a header name with a space", "x acme"],
    ["an empty name", ""],
  ])("refuses %s with CONFIG_INVALID", async (_what, auth) => {
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { acme: acmeProvider(`${acme.url}/v1`, [], auth) },
    });
    await byok.registerKey({ userId: "u1", provider: "acme", apiKey: "acme-user-key-0001", validate: false });
    await expect(byok.use("u1").connection("acme")).rejects.toMatchObject({ code: "CONFIG_INVALID" });
  });
});
