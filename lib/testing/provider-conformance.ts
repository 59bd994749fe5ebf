// The provider conformance suite: runs any Provider against its fake upstream through a real BYOK instance.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { FinishReason } from "../core/types.js";
import {
  assertByokError,
  countsOf,
  type ConformanceRunner,
  type ProviderConformanceOptions,
  rejection,
  startHarness,
  withKey,
} from "./provider-conformance-support.js";
import { failureTests, streamTests } from "./provider-cases-failures.js";
import { connectionTests, providerUnderTest, refusalTests } from "./provider-cases-vendor.js";

export {
  chatReaders,
  connectionChats,
  type ConformanceRunner,
  type ConnectionChat,
  type IssuedCredential,
  type ProviderConformanceOptions,
  type SeenChat,
} from "./provider-conformance-support.js";

function keyTests(it: ConformanceRunner["it"], options: ProviderConformanceOptions): void {
  it("registerKey() proves the key with one upstream call carrying exactly that key", async () => {
    const h = await startHarness(options);
    try {
      const info = await h.byok.registerKey({ ...h.owner, ...h.key });
      assert.equal(info.provider, h.id);
      assert.deepEqual(
        h.fake.requests.map((r) => [r.op, r.apiKey]),
        [["validate", h.apiKey]],
      );
      assert.deepEqual(
        h.events.map((e) => e.type),
        ["key.registered"],
      );
    } finally {
      await h.close();
    }
  });

  it("registerKey() rejects a refused key with KEY_REJECTED, emits key.rejected and stores nothing", async () => {
    const h = await startHarness(options);
    const issued = options.credential?.(h.fake, { refused: true });
    const apiKey = issued?.apiKey ?? `bad-${randomUUID()}-KEY`;
    try {
      const key = issued ? { credential: issued.credential } : { apiKey };
      const error = await rejection(h.byok.registerKey({ ...h.owner, ...key }));
      assertByokError(error, "KEY_REJECTED", { id: h.id, apiKey, secret: issued?.secret ?? apiKey });
      assert.equal(h.fake.requests.at(-1)?.apiKey, apiKey);
      assert.deepEqual(
        h.events.map((e) => e.type),
        ["key.rejected"],
      );
      assert.deepEqual(await h.byok.listKeys(h.userId), []);
    } finally {
      await h.close();
    }
  });
}

const FINISH_REASONS: readonly FinishReason[] = ["stop", "length", "content_filter", "other"];

function chatTests(it: ConformanceRunner["it"], options: ProviderConformanceOptions): void {
  it("chat() sends a prompt as one user message and answers a normalized response", () =>
    withKey(options, async (h) => {
      const response = await h.byok.use(h.userId).chat({ prompt: "hello there" });
      const call = h.fake.requests.at(-1)!;
      const seen = options.readChat(call);
      assert.equal(call.op, "chat");
      assert.equal(call.apiKey, h.apiKey);
      assert.deepEqual(seen.messages, [{ role: "user", content: "hello there" }]);
      assert.deepEqual(
        { ...response, usage: countsOf(response.usage) },
        {
          text: "Echo: hello there",
          provider: h.id,
          model: seen.model,
          finishReason: "stop",
          usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 },
          key: { owner: "user", label: "default", hint: (await h.byok.listKeys(h.userId))[0]!.hint },
        },
      );
      const completed = h.events.at(-1);
      assert.deepEqual(completed, {
        type: "chat.completed",
        userId: h.userId,
        provider: h.id,
        label: "default",
        keyOwner: "user",
        model: seen.model,
        usage: response.usage,
        ...(completed && "priceVersion" in completed ? { priceVersion: completed.priceVersion } : {}),
        at: h.events.at(-1)?.at,
        durationMs: h.events.at(-1)?.durationMs,
        requestId: h.events.at(-1)?.requestId,
      });
    }));

  it("chat() maps system, messages, temperature, maxTokens and model onto the upstream request", () =>
    withKey(options, async (h) => {
      await h.byok.use(h.userId).chat({
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
          { role: "user", content: "again" },
        ],
        system: "be brief",
        temperature: 0.25,
        maxTokens: 42,
        model: "conformance-model-1",
      });
      assert.deepEqual(options.readChat(h.fake.requests.at(-1)!), {
        model: "conformance-model-1",
        system: "be brief",
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello" },
          { role: "user", content: "again" },
        ],
        temperature: 0.25,
        maxTokens: 42,
      });
    }));

  it("chat() maps every finish reason the upstream reports, and passes on its usage", () =>
    withKey(options, async (h) => {
      for (const finishReason of options.finishReasons ?? FINISH_REASONS) {
        h.fake.enqueue({ finishReason, usage: { inputTokens: 11, outputTokens: 7 } });
        const response = await h.byok.use(h.userId).chat({ prompt: "x" });
        assert.equal(response.finishReason, finishReason);
        assert.deepEqual(countsOf(response.usage), { inputTokens: 11, outputTokens: 7, totalTokens: 18 });
      }
    }));
}

/**
 * Runs the provider conformance suite: key validation, chat mapping, normalized responses, every
 * error class, timeouts, aborts, streaming, and that the key reaches only the configured host and
 * appears in no error. For what the provider declares: `readRefusal` (the fake's quota refusal marks
 * the key `quota_exhausted`, its rate limit `rate_limited` until the retry hint, through chat and
 * `ai.connection()`), and a `connection` spec (the key travels only as `auth` says, never in
 * `keyParam`, the app's placeholder never; with `readUsage`, usage rows show the fake's figures). Assertions use `node:assert/strict` only; every test starts and closes its
 * own fake, so the suite runs under jest, vitest or `node:test`.
 *
 * @param runner - `{ describe, it }` from your test runner
 * @example
 * ```ts
 * import { runProviderConformance, startFakeOpenAI, chatReaders, connectionChats } from "byok-ai/testing";
 * runProviderConformance({ describe, it }, {
 *   name: "groq", startFake: () => startFakeOpenAI(), readChat: chatReaders.openai, connectionChat: connectionChats.openai,
 *   providerOptions: (url, extra) => ({ kind: "openai-compatible", baseUrl: url, defaultModel: "llama-3.1-8b-instant", ...extra }),
 * });
 * ```
 */
export function runProviderConformance(runner: ConformanceRunner, options: ProviderConformanceOptions): void {
  runner.describe(`Provider conformance: ${options.name}`, () => {
    keyTests(runner.it, options);
    chatTests(runner.it, options);
    failureTests(runner.it, options);
    streamTests(runner.it, options);
    const underTest = providerUnderTest(options);
    refusalTests(runner.it, options, underTest);
    connectionTests(runner.it, options, underTest);
  });
}
