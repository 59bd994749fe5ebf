// The Anthropic REST protocol for the fake upstream: /v1/models, /v1/messages (JSON or SSE events), x-api-key auth.
import type { FinishReason } from "../core/types.js";
import {
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  type ResolvedReply,
  retryAfterHeader,
  startFakeUpstream,
} from "./fake-upstream.js";

const STOP: Record<FinishReason, string> = {
  stop: "end_turn",
  length: "max_tokens",
  content_filter: "refusal",
  other: "tool_use",
};
const ERROR_TYPE: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

/**
 * Anthropic's input usage: `input_tokens` counts only what was neither read from nor written to the cache, which
 * come apart (`cache_read_input_tokens`, `cache_creation_input_tokens`) when the reply sets them.
 */
const inputUsage = (r: ResolvedReply) => {
  const { cachedInputTokens, cacheWriteTokens } = r.usage;
  return {
    input_tokens: r.usage.inputTokens - (cachedInputTokens ?? 0) - (cacheWriteTokens ?? 0),
    ...(cacheWriteTokens === undefined ? {} : { cache_creation_input_tokens: cacheWriteTokens }),
    ...(cachedInputTokens === undefined ? {} : { cache_read_input_tokens: cachedInputTokens }),
  };
};

const event = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
const message = (r: ResolvedReply, content: object[], stop: string | null, usage: object) => ({
  id: "msg_fake",
  type: "message",
  role: "assistant",
  model: r.model,
  content,
  stop_reason: stop,
  stop_sequence: null,
  usage,
});

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? (content as { text?: unknown }[]).map((p) => (typeof p?.text === "string" ? p.text : "")).join("")
      : "";
const toolUses = (r: ResolvedReply) =>
  r.toolCalls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: JSON.parse(c.arguments) as unknown }));

/**
 * Anthropic's Messages API as the official SDK and the AI SDK call it, with tool use and structured
 * output (`output_config.format`); the official SDK's `baseURL` is the server root (it appends `/v1/...`).
 */
export const anthropicProtocol: FakeProtocol = {
  route(method, url, body) {
    const path = url.pathname.replace(/\/$/, "");
    const model = (body as { model?: unknown } | undefined)?.model;
    if (method === "GET" && path === "/v1/models") return { op: "validate", model: "" };
    if (method === "POST" && path === "/v1/messages") {
      return {
        op: (body as { stream?: unknown } | undefined)?.stream === true ? "stream" : "chat",
        model: typeof model === "string" ? model : "",
      };
    }
    return undefined;
  },
  // The API takes `x-api-key`; @anthropic-ai/sdk 1.x sends the key as `Authorization: Bearer` instead.
  apiKey: (request) =>
    (request.headers["x-api-key"] as string | undefined) ||
    /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1],
  lastUserText(body) {
    const messages = (body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
    return textOf([...messages].reverse().find((m) => m.role === "user")?.content);
  },
  jsonSchema(body) {
    const b = body as { output_config?: { format?: { schema?: unknown } }; output_format?: { schema?: unknown } };
    const format = b?.output_config?.format ?? b?.output_format;
    return format ? (format.schema ?? {}) : undefined;
  },
  rejectedKey: () => ({
    status: 401,
    body: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
  }),
  // Out of credit: a 400 invalid_request_error whose message says so (Anthropic also documents a 402
  // billing_error: `errorType: "billing_error"` with `status: 402`). Rate limited: a 429 with retry-after.
  refusal: (kind, retryAfter) =>
    kind === "quota"
      ? {
          status: 400,
          body: {
            type: "error",
            error: {
              type: "invalid_request_error",
              message:
                "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
            },
          },
        }
      : {
          status: 429,
          body: {
            type: "error",
            error: {
              type: "rate_limit_error",
              message: "This request would exceed the rate limit for your organization of 50 requests per minute.",
            },
          },
          headers: retryAfterHeader(retryAfter),
        },
  errorBody: (status, text, _retryAfter, type) => ({
    type: "error",
    error: {
      type: type ?? ERROR_TYPE[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"),
      message: text,
    },
  }),
  validateBody: () => ({
    data: [
      { type: "model", id: "claude-haiku-4-5", display_name: "Claude Haiku 4.5", created_at: "2025-10-01T00:00:00Z" },
    ],
    has_more: false,
    first_id: "claude-haiku-4-5",
    last_id: "claude-haiku-4-5",
  }),
  chatBody: (r) =>
    message(
      r,
      [...(r.text || !r.toolCalls.length ? [{ type: "text", text: r.text }] : []), ...toolUses(r)],
      STOP[r.finishReason],
      { ...inputUsage(r), output_tokens: r.usage.outputTokens },
    ),
  streamFrames: (r) => ({
    start: () =>
      event("message_start", {
        message: message(r, [], null, { ...inputUsage(r), output_tokens: 1 }),
      }),
    chunk: (text, index) =>
      (index === 0 ? event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) : "") +
      event("content_block_delta", { index: 0, delta: { type: "text_delta", text } }),
    end: () =>
      (r.chunks.length > 0 ? event("content_block_stop", { index: 0 }) : "") +
      toolUses(r)
        .map((use, i) => {
          const index = (r.chunks.length > 0 ? 1 : 0) + i;
          return (
            event("content_block_start", { index, content_block: { ...use, input: {} } }) +
            event("content_block_delta", {
              index,
              delta: { type: "input_json_delta", partial_json: JSON.stringify(use.input) },
            }) +
            event("content_block_stop", { index })
          );
        })
        .join("") +
      event("message_delta", {
        delta: { stop_reason: STOP[r.finishReason], stop_sequence: null },
        usage: { output_tokens: r.usage.outputTokens },
      }) +
      event("message_stop", {}),
    error: (text, type) =>
      `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: type ?? "overloaded_error", message: text } })}\n\n`,
  }),
};

/**
 * Starts a fake Anthropic API on 127.0.0.1. Point the provider at it with
 * `providers: { anthropic: { baseUrl: fake.url } }`.
 *
 * @example
 * ```ts
 * const fake = await startFakeAnthropic();
 * const byok = new BYOK({ masterKey, providers: { anthropic: { baseUrl: fake.url } } });
 * fake.enqueue({ chunks: ["a ", "b"], errorAfterChunks: 1, errorType: "overloaded_error" });
 * ```
 */
export function startFakeAnthropic(options?: FakeUpstreamOptions): Promise<FakeUpstream> {
  return startFakeUpstream(anthropicProtocol, options);
}
