// Conformance groups for failures (error classes, timeouts, aborts, key isolation) and for streaming.
import assert from "node:assert/strict";
import { ByokError } from "../errors.js";
import {
  assertByokError,
  countsOf,
  assertNoKey,
  type ConformanceRunner,
  drain,
  eventually,
  type ProviderConformanceOptions,
  rejection,
  withKey,
} from "./provider-conformance-support.js";
import type { FakeReply } from "./fake-upstream.js";

const ERROR_CASES: [string, FakeReply, string][] = [
  ["an upstream 401", { status: 401 }, "KEY_REJECTED"],
  ["an upstream 403", { status: 403 }, "KEY_REJECTED"],
  ["an upstream 429", { status: 429, retryAfter: 7 }, "PROVIDER_RATE_LIMITED"],
  ["an upstream 400", { status: 400, message: "model conformance-x does not exist" }, "PROVIDER_BAD_REQUEST"],
  ["an upstream 500", { status: 500 }, "PROVIDER_ERROR"],
  ["a body that is not JSON", { garbage: true }, "PROVIDER_ERROR"],
  ["a reset connection", { reset: true }, "PROVIDER_ERROR"],
];

/** Error classes, timeouts, aborts and where the key may go. */
export function failureTests(it: ConformanceRunner["it"], options: ProviderConformanceOptions): void {
  for (const [what, reply, code] of ERROR_CASES) {
    it(`chat() answers ${code} for ${what}, with no trace of the key`, () =>
      withKey(options, async (h) => {
        h.fake.enqueue({ ...reply, ...(reply.message ? { message: `${reply.message} (key ${h.secret})` } : {}) });
        const error = assertByokError(await rejection(h.byok.use(h.userId).chat({ prompt: "x" })), code, h);
        if (code === "PROVIDER_RATE_LIMITED") assert.equal(error.retryAfter, 7);
        if (code === "PROVIDER_BAD_REQUEST") assert.match(error.message, /model conformance-x does not exist/);
        if (code === "KEY_REJECTED") assert.ok(h.events.some((e) => e.type === "key.rejected"));
        const last = h.events.at(-1);
        assert.ok(last?.type === "chat.failed", "the last event is chat.failed");
        assert.deepEqual(last, {
          type: "chat.failed",
          userId: h.userId,
          provider: h.id,
          label: "default",
          keyOwner: "user",
          model: last.model,
          code,
          at: last.at,
          durationMs: last.durationMs,
          requestId: last.requestId,
        });
      }));
  }

  it("chat() answers PROVIDER_TIMEOUT when the upstream is slower than timeoutMs, and aborts the upstream call", () =>
    withKey(
      options,
      async (h) => {
        h.fake.enqueue({ hang: true });
        assertByokError(await rejection(h.byok.use(h.userId).chat({ prompt: "x" })), "PROVIDER_TIMEOUT", h);
        await eventually(() => h.fake.requests.at(-1)?.aborted === true, "the upstream call's abort");
      },
      { timeoutMs: 150 },
    ));

  it("chat() rejects with the caller's AbortError when the signal aborts, and aborts the upstream call", () =>
    withKey(options, async (h) => {
      h.fake.enqueue({ hang: true });
      const controller = new AbortController();
      const sent = h.fake.requests.length;
      const pending = h.byok.use(h.userId).chat({ prompt: "x", signal: controller.signal });
      await eventually(() => h.fake.requests.length > sent, "the upstream call");
      controller.abort();
      const error = await rejection(pending);
      assert.equal((error as Error).name, "AbortError");
      assert.equal(ByokError.is(error), false);
      await eventually(() => h.fake.requests.at(-1)?.aborted === true, "the upstream call's abort");
    }));

  it("sends the key only to the configured upstream, never to another server", async () => {
    const trap = await options.startFake();
    try {
      await withKey(options, async (h) => {
        await h.byok.use(h.userId).chat({ prompt: "x" });
        await drain(h.byok.use(h.userId).stream({ prompt: "x" }));
        h.fake.enqueue({ status: 500 });
        assertNoKey(await rejection(h.byok.use(h.userId).chat({ prompt: "x" })), h.secret);
        assert.ok(h.fake.requests.length >= 3);
        assert.ok(h.fake.requests.every((r) => r.apiKey === h.apiKey));
        assertNoKey(h.events, h.secret);
      });
      assert.equal(trap.requests.length, 0);
    } finally {
      await trap.close();
    }
  });
}

/** Streaming: order, completeness, failures mid-stream, and cancellation. */
export function streamTests(it: ConformanceRunner["it"], options: ProviderConformanceOptions): void {
  it("stream() yields the chunks in order, and response has the joined text and the usage", () =>
    withKey(options, async (h) => {
      h.fake.enqueue({ chunks: ["one ", "two ", "three"], usage: { inputTokens: 4, outputTokens: 3 } });
      const stream = h.byok.use(h.userId).stream({ prompt: "count", maxTokens: 20 });
      const { chunks, error } = await drain(stream);
      assert.equal(error, undefined);
      const response = await stream.response;
      const call = h.fake.requests.at(-1)!;
      assert.equal(call.op, "stream");
      assert.equal(call.apiKey, h.apiKey);
      assert.deepEqual(chunks, ["one ", "two ", "three"]);
      assert.deepEqual(
        { ...response, usage: countsOf(response.usage) },
        {
          text: "one two three",
          provider: h.id,
          model: options.readChat(call).model,
          finishReason: "stop",
          usage: { inputTokens: 4, outputTokens: 3, totalTokens: 7 },
          key: { owner: "user", label: "default", hint: (await h.byok.listKeys(h.userId))[0]!.hint },
        },
      );
      assert.equal(h.events.at(-1)?.type, "chat.completed");
    }));

  const midStream: [string, FakeReply][] = [
    ["an in-stream error event", { chunks: ["a ", "b ", "c"], errorAfterChunks: 1 }],
    ["a connection cut mid-stream", { chunks: ["a ", "b ", "c"], dropAfterChunks: 1 }],
  ];
  for (const [what, reply] of midStream) {
    it(`stream() fails with PROVIDER_ERROR on ${what}, after the chunks that arrived`, () =>
      withKey(options, async (h) => {
        h.fake.enqueue(reply);
        const stream = h.byok.use(h.userId).stream({ prompt: "x" });
        const { chunks, error } = await drain(stream);
        // A cut connection may lose the chunk written just before it; an error event never does.
        if (reply.dropAfterChunks === undefined) assert.deepEqual(chunks, ["a "]);
        else assert.ok(chunks.length === 0 || (chunks.length === 1 && chunks[0] === "a "));
        assertByokError(error, "PROVIDER_ERROR", h);
        assertByokError(await rejection(stream.response), "PROVIDER_ERROR", h);
      }));
  }

  it("stream() answers KEY_REJECTED before any chunk when the upstream refuses the key", () =>
    withKey(options, async (h) => {
      h.fake.enqueue({ status: 401 });
      const { chunks, error } = await drain(h.byok.use(h.userId).stream({ prompt: "x" }));
      assert.deepEqual(chunks, []);
      assertByokError(error, "KEY_REJECTED", h);
    }));

  it("stream() aborts the upstream request when the consumer stops reading", () =>
    withKey(options, async (h) => {
      h.fake.enqueue({ chunks: ["a ", "b ", "c ", "d"], chunkDelayMs: 200 });
      const stream = h.byok.use(h.userId).stream({ prompt: "x" });
      for await (const _chunk of stream) break;
      await eventually(() => h.fake.requests.at(-1)?.aborted === true, "the upstream call's abort");
      assert.equal(((await rejection(stream.response)) as Error).name, "AbortError");
    }));
}
