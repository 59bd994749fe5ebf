// The OpenAI REST protocol for the fake upstream: /models, /chat/completions (JSON or SSE), Bearer auth.
import type { FinishReason } from "../core/types.js";
import {
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  type ResolvedReply,
  startFakeUpstream,
} from "./fake-upstream.js";

const FINISH: Record<FinishReason, string> = {
  stop: "stop",
  length: "length",
  content_filter: "content_filter",
  other: "tool_calls",
};
const ERROR_TYPE: Record<number, string> = {
  400: "invalid_request_error",
  401: "invalid_request_error",
  403: "permission_denied",
  404: "invalid_request_error",
  429: "rate_limit_exceeded",
};

const usage = (r: ResolvedReply) => ({
  prompt_tokens: r.usage.inputTokens,
  completion_tokens: r.usage.outputTokens,
  total_tokens: r.usage.totalTokens,
});
const chunk = (r: ResolvedReply, delta: object, finish: string | null, extra: object = {}) => ({
  id: "chatcmpl-fake",
  object: "chat.completion.chunk",
  created: 0,
  model: r.model,
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...extra,
});
const sse = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

/** Masks a key the way OpenAI does in its 401 message ("sk-abc***wxyz"), so tests can check it never leaks. */
const masked = (key: string) => `${key.slice(0, 6)}***${key.slice(-4)}`;

/**
 * OpenAI's chat API as the official SDK calls it. The `/v1` prefix is optional, so both
 * `baseUrl: fake.url` and `baseUrl: fake.url + "/v1"` work (the SDK's `baseURL` includes the version).
 */
export const openaiProtocol: FakeProtocol = {
  route(method, url, body) {
    const path = url.pathname.replace(/^\/v1(?=\/)/, "").replace(/\/$/, "");
    const model = (body as { model?: unknown } | undefined)?.model;
    if (method === "GET" && path === "/models") return { op: "validate", model: "" };
    if (method === "POST" && path === "/chat/completions") {
      return {
        op: (body as { stream?: unknown } | undefined)?.stream === true ? "stream" : "chat",
        model: typeof model === "string" ? model : "",
      };
    }
    return undefined;
  },
  apiKey: (request) => /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1],
  lastUserText(body) {
    const messages = (body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
    const last = [...messages].reverse().find((m) => m.role === "user");
    return typeof last?.content === "string" ? last.content : "";
  },
  // OpenAI's 401 echoes part of the key, so tests prove it never reaches an error.
  rejectedKey: (apiKey) => ({
    status: 401,
    body: {
      error: {
        message: `Incorrect API key provided: ${masked(apiKey ?? "")}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    },
  }),
  errorBody: (status, message) => ({
    error: {
      message,
      type: ERROR_TYPE[status] ?? "server_error",
      param: null,
      code: status === 429 ? "rate_limit_exceeded" : null,
    },
  }),
  validateBody: () => ({
    object: "list",
    data: [{ id: "gpt-4o-mini", object: "model", created: 0, owned_by: "system" }],
  }),
  chatBody: (r) => ({
    id: "chatcmpl-fake",
    object: "chat.completion",
    created: 0,
    model: r.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: r.text, refusal: null },
        finish_reason: FINISH[r.finishReason],
        logprobs: null,
      },
    ],
    usage: usage(r),
  }),
  streamFrames: (r) => ({
    chunk: (text, index) => sse(chunk(r, index === 0 ? { role: "assistant", content: text } : { content: text }, null)),
    // OpenAI sends the finish reason, then (with include_usage) a usage-only chunk with no choices, then [DONE].
    end: () =>
      sse(chunk(r, {}, FINISH[r.finishReason])) +
      sse({ ...chunk(r, {}, null), choices: [], usage: usage(r) }) +
      sse("[DONE]"),
    error: (message, type) => sse({ error: { message, type: type ?? "server_error", param: null, code: null } }),
  }),
};

/**
 * Starts a fake OpenAI API on 127.0.0.1. Its 401 echoes part of the key, as OpenAI's does, so tests
 * prove the key never reaches an error. Point a provider at it with
 * `providers: { openai: { baseUrl: fake.url } }` (or an `"openai-compatible"` one, with a `defaultModel`).
 *
 * @example
 * ```ts
 * const fake = await startFakeOpenAI();
 * const byok = new BYOK({ masterKey, providers: { openai: { baseUrl: fake.url } } });
 * fake.enqueue({ status: 429, retryAfter: 7 }); // the next call is rate limited
 * ```
 */
export function startFakeOpenAI(options?: FakeUpstreamOptions): Promise<FakeUpstream> {
  return startFakeUpstream(openaiProtocol, options);
}
