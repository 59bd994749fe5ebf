// Shared pieces of the provider conformance suite: options, a BYOK wired to a fake, chat readers, leak checks.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { inspect } from "node:util";
import { BYOK } from "../byok.js";
import type { ByokEvent, Credential, FinishReason, Provider, ProviderOptions } from "../core/types.js";
import { ByokError } from "../errors.js";
import type { FakeRequest, FakeUpstream } from "./fake-upstream.js";

/** The two functions jest, vitest and `node:test` share; pass your runner's globals or imports. */
export interface ConformanceRunner {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void>): unknown;
}

/** A chat request as the fake upstream saw it, in the contract's terms. */
export interface SeenChat {
  model: string;
  system?: string;
  messages: { role: "user" | "assistant"; content: string }[];
  temperature?: number;
  maxTokens?: number;
}

/** What {@link runProviderConformance} needs to know about one provider. */
export interface ProviderConformanceOptions {
  /** Shown in the test names. */
  name: string;
  /** The provider id in BYOK's `providers`. Defaults to `name`. */
  id?: string;
  /** Starts a fresh fake upstream for this provider (each test starts and closes its own). */
  startFake(): Promise<FakeUpstream>;
  /** The provider pointed at the fake: ProviderOptions (e.g. `{ baseUrl: url, ...extra }`) or your own Provider. */
  providerOptions(fakeUrl: string, extra: { timeoutMs?: number }): ProviderOptions | Provider;
  /** Reads a chat request the fake received; see {@link chatReaders}. */
  readChat(request: FakeRequest): SeenChat;
  /** The finish reasons the vendor reports (and its fake answers). Defaults to all four. */
  finishReasons?: readonly FinishReason[];
  /** For a provider whose keys carry their own endpoint (Azure OpenAI): the endpoint keys register with. Defaults to none. */
  keyEndpoint?(fakeUrl: string): string;
  /**
   * For a provider with a `connection` spec (required then): one chat request of its HTTP API as an
   * app's SDK sends it through `ai.connection()`, for `model` and `prompt`, streamed (SSE) when
   * `stream` is set; `undefined` for a stream the fake does not serve. See {@link connectionChats}.
   */
  connectionChat?(chat: { model: string; prompt: string; stream: boolean }): ConnectionChat | undefined;
  /**
   * For a provider whose key is a structured credential (`Provider.credential`): a credential the fake accepts (or,
   * with `refused`, one it refuses), with `apiKey`, what the fake records of it (`FakeRequest.apiKey`, e.g. an
   * access key id), and `secret`, what must never be seen (e.g. the secret access key). Defaults to plain API keys.
   */
  credential?(fake: FakeUpstream, o: { refused: boolean }): IssuedCredential;
  /**
   * `false` for a vendor whose rate limits carry no retry hint (Bedrock's `ThrottlingException`): its fake's
   * `refuse: "rate_limit"` then marks the key `rate_limited` for the core's default wait. Defaults to `true`.
   */
  rateLimitHint?: boolean;
  /**
   * For a fake that also serves requests that are not the provider's calls (a token endpoint's), or records a
   * credential minted per call (an access token): how the suite sees one of its requests, `undefined` to leave it
   * out, else with `apiKey` set to what the request authenticates as (e.g. the account a token belongs to).
   * Defaults to every request as the fake recorded it.
   */
  seeRequest?(fake: FakeUpstream, request: FakeRequest): FakeRequest | undefined;
}

/** A credential issued for one conformance test (see {@link ProviderConformanceOptions.credential}). */
export interface IssuedCredential {
  credential: Credential;
  apiKey: string;
  secret: string;
}

/** A chat request of a provider's HTTP API: the path under the connection's `baseURL` (query included), and the JSON body. */
export interface ConnectionChat {
  path: string;
  body: unknown;
}

type Body = Record<string, unknown> | undefined;
const text = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((p: { text?: string }) => p.text ?? "").join("")
      : "";

/** Readers for the built-in protocols (an OpenAI-compatible provider uses `openai`). */
export const chatReaders = {
  gemini(request: FakeRequest): SeenChat {
    const body = request.body as Body;
    const config = (body?.generationConfig ?? {}) as { temperature?: number; maxOutputTokens?: number };
    const system = (body?.systemInstruction as { parts?: unknown } | undefined)?.parts;
    return {
      model: decodeURIComponent(/\/models\/([^/:]+)/.exec(request.path)?.[1] ?? ""),
      ...(system ? { system: text(system) } : {}),
      messages: ((body?.contents ?? []) as { role: string; parts: unknown }[]).map((c) => ({
        role: c.role === "model" ? "assistant" : "user",
        content: text(c.parts),
      })),
      ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
      ...(config.maxOutputTokens !== undefined ? { maxTokens: config.maxOutputTokens } : {}),
    };
  },
  openai(request: FakeRequest): SeenChat {
    const body = request.body as Body;
    const all = (body?.messages ?? []) as { role: string; content: unknown }[];
    const system = all.filter((m) => m.role === "system" || m.role === "developer").map((m) => text(m.content));
    const maxTokens = (body?.max_completion_tokens ?? body?.max_tokens) as number | undefined;
    return {
      model: String(body?.model ?? ""),
      ...(system.length ? { system: system.join("\n\n") } : {}),
      messages: all
        .filter((m) => m.role === "user" || m.role === "assistant")
        .map((m) => ({ role: m.role as "user" | "assistant", content: text(m.content) })),
      ...(body?.temperature !== undefined ? { temperature: body.temperature as number } : {}),
      ...(maxTokens !== undefined ? { maxTokens } : {}),
    };
  },
  anthropic(request: FakeRequest): SeenChat {
    const body = request.body as Body;
    return {
      model: String(body?.model ?? ""),
      ...(body?.system !== undefined ? { system: text(body.system) } : {}),
      messages: ((body?.messages ?? []) as { role: "user" | "assistant"; content: unknown }[]).map((m) => ({
        role: m.role,
        content: text(m.content),
      })),
      ...(body?.temperature !== undefined ? { temperature: body.temperature as number } : {}),
      ...(body?.max_tokens !== undefined ? { maxTokens: body.max_tokens as number } : {}),
    };
  },
  bedrock: bedrockChat,
};

/** Bedrock's Converse and ConverseStream: the model in the path, the request in AWS's shapes. */
function bedrockChat(request: FakeRequest): SeenChat {
  const body = request.body as Body;
  const config = (body?.inferenceConfig ?? {}) as { temperature?: number; maxTokens?: number };
  const system = body?.system as { text?: string }[] | undefined;
  return {
    model: decodeURIComponent(/^\/model\/([^/]+)\//.exec(request.path)?.[1] ?? ""),
    ...(system ? { system: text(system) } : {}),
    messages: ((body?.messages ?? []) as { role: "user" | "assistant"; content: unknown }[]).map((m) => ({
      role: m.role,
      content: text(m.content),
    })),
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
    ...(config.maxTokens !== undefined ? { maxTokens: config.maxTokens } : {}),
  };
}

/** `connectionChat` for the built-in protocols (an OpenAI-compatible provider uses `openai`). */
export const connectionChats = {
  openai: ({ model, prompt, stream }: { model: string; prompt: string; stream: boolean }): ConnectionChat => ({
    path: "/chat/completions",
    body: {
      model,
      messages: [{ role: "user", content: prompt }],
      ...(stream ? { stream, stream_options: { include_usage: true } } : {}),
    },
  }),
  anthropic: ({ model, prompt, stream }: { model: string; prompt: string; stream: boolean }): ConnectionChat => ({
    path: "/messages",
    body: { model, max_tokens: 64, messages: [{ role: "user", content: prompt }], ...(stream ? { stream } : {}) },
  }),
  gemini: ({ model, prompt, stream }: { model: string; prompt: string; stream: boolean }): ConnectionChat => ({
    path: `/models/${encodeURIComponent(model)}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
    body: { contents: [{ role: "user", parts: [{ text: prompt }] }] },
  }),
};

/** A BYOK wired to one fresh fake, recording events, with a random user and a canary key. */
export interface Harness {
  byok: BYOK;
  fake: FakeUpstream;
  events: ByokEvent[];
  id: string;
  userId: string;
  /** What the fake records as the request's key (the key itself, or e.g. a credential's access key id). */
  apiKey: string;
  /** What must never be seen: the key itself, or a credential's secret. */
  secret: string;
  /** What `registerKey` takes as the key: `{ apiKey }`, or `{ credential }`. */
  key: { apiKey: string } | { credential: Credential };
  /** What `registerKey` takes besides the key: the user, the provider and, if the provider wants one, the endpoint. */
  owner: { userId: string; provider: string; endpoint?: string };
  close(): Promise<void>;
}

/** Starts a fake and a BYOK whose only key-holding provider points at it (default provider included). */
export async function startHarness(
  options: ProviderConformanceOptions,
  extra: { timeoutMs?: number } = {},
): Promise<Harness> {
  const id = options.id ?? options.name;
  const fake = await options.startFake();
  const events: ByokEvent[] = [];
  try {
    const byok = new BYOK({
      masterKey: randomBytes(32),
      providers: { [id]: options.providerOptions(fake.url, extra) },
      defaultProvider: id,
      onEvent: (e) => void events.push(e),
    });
    const issued = options.credential?.(fake, { refused: false });
    const see = options.seeRequest;
    // The suite's view of the fake: its requests as seeRequest sees them, read afresh at every access.
    const seen: FakeUpstream = see
      ? new Proxy(fake, {
          get: (target, name) =>
            name === "requests"
              ? target.requests.flatMap((r) => {
                  const request = see(target, r);
                  return request ? [request] : [];
                })
              : (Reflect.get(target, name, target) as unknown),
        })
      : fake;
    const apiKey = issued?.apiKey ?? `canary-${randomUUID()}-KEY`;
    const userId = `conformance-${randomUUID()}`;
    const endpoint = options.keyEndpoint?.(fake.url);
    return {
      byok,
      fake: seen,
      events,
      id,
      userId,
      apiKey,
      secret: issued?.secret ?? apiKey,
      key: issued ? { credential: issued.credential } : { apiKey },
      owner: { userId, provider: id, ...(endpoint === undefined ? {} : { endpoint }) },
      close: async () => (await byok.close(), await fake.close()),
    };
  } catch (error) {
    await fake.close();
    throw error;
  }
}

/** Runs `fn` with a harness whose user already has a registered key, and closes everything after. */
export async function withKey(
  options: ProviderConformanceOptions,
  fn: (h: Harness) => Promise<void>,
  extra: { timeoutMs?: number } = {},
): Promise<void> {
  const h = await startHarness(options, extra);
  try {
    await h.byok.registerKey({ ...h.owner, ...h.key });
    h.fake.reset();
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Waits until `check()` holds (polling, up to 2 s: patient on a loaded machine), else fails naming `what`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (const until = Date.now() + 2000; !(await check()); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
  }
}

/** What a promise rejected with (fails when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection, got a result");
}

/** Drains a stream; resolves to the chunks and whatever it threw. */
export async function drain(stream: AsyncIterable<{ text: string }>): Promise<{ chunks: string[]; error?: unknown }> {
  const chunks: string[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk.text);
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

/**
 * A response's usage without its `costUsd`, which must be a whole number of micro-dollars when the provider's models
 * have a price (the counts are what the conformance suite compares; the price is the table's).
 */
export function countsOf<T extends { costUsd?: number }>(usage: T): Omit<T, "costUsd"> {
  const { costUsd, ...counts } = usage;
  if (costUsd !== undefined)
    assert.ok(
      Number.isFinite(costUsd) && costUsd >= 0 && Number.isSafeInteger(Math.round(costUsd * 1e6)),
      `usage.costUsd must be a non-negative number of dollars (got ${inspect(costUsd)})`,
    );
  return counts;
}

/** Asserts `error` is a ByokError with `code` (and the provider id), and that no rendering of it shows the key. */
export function assertByokError(
  error: unknown,
  code: string,
  h: Pick<Harness, "id" | "apiKey"> & { secret?: string },
): ByokError {
  assert.ok(ByokError.is(error), `expected a ByokError ${code}, got ${inspect(error)}`);
  assert.equal(error.code, code);
  assert.equal(error.provider, h.id);
  assertNoKey(error, h.secret ?? h.apiKey);
  return error;
}

/** Asserts that neither the key nor its random middle or tail appear in any rendering of `value`. */
export function assertNoKey(value: unknown, apiKey: string): void {
  const parts = [inspect(value, { depth: 10, showHidden: true }), String(value)];
  try {
    parts.push(JSON.stringify(value) ?? "");
  } catch {
    /* circular: inspect covers it */
  }
  if (value instanceof Error) parts.push(value.stack ?? "", inspect(value.cause, { depth: 10 }));
  const all = parts.join("\n");
  for (const piece of [apiKey, apiKey.slice(7, 19), apiKey.slice(-12)])
    assert.ok(!all.includes(piece), "the API key (or part of it) leaked");
}
