// Conformance groups for what a provider knows of its vendor: its refusals (readRefusal), through chat and
// ai.connection(), and its connection spec's usage reading (readUsage) and key placement (auth, keyParam).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { BYOK } from "../byok.js";
import type { KeyInfo, Provider, ProviderConnectionSpec, StoredKeyStatus } from "../core/types.js";
import { ByokError } from "../errors.js";
import {
  assertByokError,
  assertNoKey,
  type ConformanceRunner,
  type ConnectionChat,
  eventually,
  type Harness,
  type ProviderConformanceOptions,
  rejection,
  withKey,
} from "./provider-conformance-support.js";
import type { FakeReply } from "./fake-upstream.js";

/** Stands in for the fake's URL while the provider is built to see which members it declares. */
const PROBE_URL = "http://127.0.0.1:9";
const MODEL = "conformance-model-1";
/** The retry hint the fake's rate limits carry, in seconds. */
const RETRY_AFTER = 120;

/** The provider under test, and the connection spec its keys get (`undefined`: none). */
export interface ProviderUnderTest {
  provider: Provider;
  spec: ProviderConnectionSpec | undefined;
}

/** Builds the provider the options configure, with no fake behind it, to see which members it declares. */
export function providerUnderTest(options: ProviderConformanceOptions): ProviderUnderTest {
  const id = options.id ?? options.name;
  const byok = new BYOK({
    masterKey: randomBytes(32),
    providers: { [id]: options.providerOptions(PROBE_URL, {}) },
    defaultProvider: id,
  });
  const provider = byok.provider(id)!;
  const endpoint = options.keyEndpoint?.(PROBE_URL);
  const spec = endpoint === undefined ? provider.connection : provider.userEndpoints?.connection?.(endpoint);
  return { provider, spec };
}

/** The options' chat request through `ai.connection()`; fails when a provider with a connection spec names none. */
function chatOf(options: ProviderConformanceOptions, stream: boolean): ConnectionChat | undefined {
  if (!options.connectionChat)
    assert.fail("the provider has a connection spec: give the conformance options a connectionChat");
  return options.connectionChat({ model: MODEL, prompt: "hello there", stream });
}

/** Sends `chat` through the user's `ai.connection()`, with `headers` and `params` as the app's SDK set them. */
async function sendThroughConnection(
  h: Harness,
  chat: ConnectionChat,
  app: { headers?: Record<string, string>; params?: Record<string, string> } = {},
): Promise<Response> {
  const connection = await h.byok.use(h.userId).connection(h.id);
  const url = new URL(connection.baseURL + chat.path);
  for (const [name, value] of Object.entries(app.params ?? {})) url.searchParams.set(name, value);
  return connection.fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...app.headers },
    body: JSON.stringify(chat.body),
  });
}

/** The user's key once the store shows `status` (key health is written without being awaited). */
async function keyWith(h: Harness, status: StoredKeyStatus): Promise<KeyInfo> {
  let key: KeyInfo | undefined;
  const listed = async () => ((key = (await h.byok.listKeys(h.userId))[0]), key?.status === status);
  await eventually(listed, `the key's status ${status}`);
  return key!;
}

/** Asserts `key` is rate limited until the fake's hint from `before` (ms) on. */
function assertLimitedUntilHint(key: KeyInfo, before: number): void {
  const until = Date.parse(key.statusUntil ?? "");
  assert.ok(until >= before + RETRY_AFTER * 1000, "statusUntil honours the retry hint");
  assert.ok(until <= Date.now() + RETRY_AFTER * 1000, "statusUntil is no later than the retry hint");
}

const QUOTA: FakeReply = { refuse: "quota" };
const RATE_LIMIT: FakeReply = { refuse: "rate_limit", retryAfter: RETRY_AFTER };

/** What `readRefusal` reads: the fake's quota refusal and rate limit, through chat and through `ai.connection()`. */
export function refusalTests(
  it: ConformanceRunner["it"],
  options: ProviderConformanceOptions,
  { provider, spec }: ProviderUnderTest,
): void {
  if (!provider.readRefusal) return;

  it("readRefusal: chat() marks the key quota_exhausted when the upstream refuses it for quota or billing", () =>
    withKey(options, async (h) => {
      h.fake.enqueue(QUOTA);
      const error = await rejection(h.byok.use(h.userId).chat({ prompt: "x" }));
      assert.ok(ByokError.is(error) && error.provider === h.id, "chat() rejects with the provider's ByokError");
      assertNoKey(error, h.secret);
      assert.equal((await keyWith(h, "quota_exhausted")).statusUntil, undefined);
    }));

  if (options.rateLimitHint === false)
    it("readRefusal: chat() marks the key rate_limited when the upstream rate limits it (the vendor sends no retry hint)", () =>
      withKey(options, async (h) => {
        h.fake.enqueue(RATE_LIMIT);
        const error = await rejection(h.byok.use(h.userId).chat({ prompt: "x" }));
        assert.equal(assertByokError(error, "PROVIDER_RATE_LIMITED", h).retryAfter, undefined);
        // Without a hint the core's default wait stands (a minute).
        assert.ok(Date.parse((await keyWith(h, "rate_limited")).statusUntil ?? "") > Date.now(), "a default wait");
      }));
  else
    it("readRefusal: chat() marks the key rate_limited until the upstream's retry hint, and passes the hint on", () =>
      withKey(options, async (h) => {
        h.fake.enqueue(RATE_LIMIT);
        const before = Date.now();
        const error = await rejection(h.byok.use(h.userId).chat({ prompt: "x" }));
        assert.equal(assertByokError(error, "PROVIDER_RATE_LIMITED", h).retryAfter, RETRY_AFTER);
        assertLimitedUntilHint(await keyWith(h, "rate_limited"), before);
      }));

  if (!spec) return;

  it("readRefusal: a quota refusal through connection() marks the key quota_exhausted, the app still reading it", () =>
    withKey(options, async (h) => {
      h.fake.enqueue(QUOTA);
      const response = await sendThroughConnection(h, chatOf(options, false)!);
      assert.ok(!response.ok, "the refusal reaches the app");
      await response.json();
      assert.equal((await keyWith(h, "quota_exhausted")).statusUntil, undefined);
    }));

  it("readRefusal: a rate limit through connection() marks the key rate_limited until the retry hint", () =>
    withKey(options, async (h) => {
      h.fake.enqueue(RATE_LIMIT);
      const before = Date.now();
      const response = await sendThroughConnection(h, chatOf(options, false)!);
      assert.equal(response.status, 429);
      await response.json();
      assertLimitedUntilHint(await keyWith(h, "rate_limited"), before);
    }));
}

/** The user's usage rows, once `requests` connection requests are in (rows are written without being awaited). */
async function rowsAfter(h: Harness, requests: number) {
  const ai = h.byok.use(h.userId);
  const counted = async () => (await ai.usage()).reduce((n, row) => n + row.requests, 0) >= requests;
  await eventually(counted, `${requests} metered request(s)`);
  return (await ai.usage()).map(({ model, requests, inputTokens, outputTokens, estimated }) => ({
    model,
    requests,
    inputTokens,
    outputTokens,
    estimated,
  }));
}

/** `ai.connection()`: where the key travels (auth, keyParam) and what the usage rows show (readUsage). */
export function connectionTests(
  it: ConformanceRunner["it"],
  options: ProviderConformanceOptions,
  { provider, spec }: ProviderUnderTest,
): void {
  if (!spec) return;
  const header = spec.auth === "bearer" ? "authorization" : spec.auth.toLowerCase();
  const carrier = `the ${header} header${spec.keyParam ? `, never the ${spec.keyParam} parameter` : ""}`;

  it(`connection() sends the key only in ${carrier}, and the app's placeholder never`, () =>
    withKey(options, async (h) => {
      const placeholder = (await h.byok.use(h.userId).connection(h.id)).apiKey;
      const asSent = (key: string) => (spec.auth === "bearer" ? `Bearer ${key}` : key);
      const response = await sendThroughConnection(h, chatOf(options, false)!, {
        headers: { authorization: `Bearer ${placeholder}`, [header]: asSent(placeholder) },
        params: spec.keyParam ? { [spec.keyParam]: placeholder } : {},
      });
      assert.equal(response.status, 200);
      await response.json();
      const [seen] = h.fake.requests;
      assert.equal(seen?.apiKey, h.apiKey);
      assert.equal(seen.headers[header], asSent(h.apiKey));
      for (const [name, value] of Object.entries(seen.headers)) {
        const text = String(value);
        assert.ok(!text.includes(placeholder), `the placeholder reached the upstream in ${name}`);
        if (name !== header) assert.ok(!text.includes(h.apiKey), `the key reached the upstream in ${name}`);
      }
      const url = new URL(seen.path, PROBE_URL);
      assert.ok(!seen.path.includes(h.apiKey) && !seen.path.includes(placeholder), "no key in the URL");
      if (spec.keyParam) assert.equal(url.searchParams.has(spec.keyParam), false);
    }));

  if (!spec.readUsage) return;
  const model = spec.readRequest ? MODEL : provider.defaultModel;
  const replies: [string, boolean, FakeReply][] = [
    ["a JSON answer", false, { usage: { inputTokens: 13, outputTokens: 8 } }],
    ["an SSE stream", true, { chunks: ["one ", "two"], usage: { inputTokens: 13, outputTokens: 8 } }],
  ];
  for (const [what, stream, reply] of replies) {
    if (stream && options.connectionChat?.({ model: MODEL, prompt: "x", stream }) === undefined) continue;
    it(`connection.readUsage: the usage row of ${what} through connection() shows the upstream's token figures`, () =>
      withKey(options, async (h) => {
        h.fake.enqueue(reply);
        const response = await sendThroughConnection(h, chatOf(options, stream)!);
        assert.equal(response.status, 200);
        await response.text();
        assert.equal(h.fake.requests.at(-1)?.op, stream ? "stream" : "chat");
        assert.deepEqual(await rowsAfter(h, 1), [
          { model, requests: 1, inputTokens: 13, outputTokens: 8, estimated: false },
        ]);
      }));
  }
}
