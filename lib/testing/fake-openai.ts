// The OpenAI REST protocol for the fake upstream: /models, /chat/completions and /responses (JSON or SSE), Bearer auth.
import type { FinishReason } from "../core/types.js";
import {
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  type ResolvedReply,
  retryAfterHeader,
  startFakeUpstream,
} from "./fake-upstream.js";
import { lastUserText, responsesFormat } from "./fake-openai-responses.js";

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

/** Chat Completions' usage: the cache reads and reasoning in their `*_details` when the reply sets them. */
const usage = (r: ResolvedReply) => {
  const { cachedInputTokens, reasoningTokens } = r.usage;
  return {
    prompt_tokens: r.usage.inputTokens,
    completion_tokens: r.usage.outputTokens,
    total_tokens: r.usage.totalTokens,
    ...(cachedInputTokens === undefined ? {} : { prompt_tokens_details: { cached_tokens: cachedInputTokens } }),
    ...(reasoningTokens === undefined ? {} : { completion_tokens_details: { reasoning_tokens: reasoningTokens } }),
  };
};
const chunk = (r: ResolvedReply, delta: object, finish: string | null, extra: object = {}) => ({
  id: "chatcmpl-fake",
  object: "chat.completion.chunk",
  created: 0,
  model: r.model,
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...extra,
});
const toolCalls = (r: ResolvedReply) =>
  r.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }));
const sse = (data: unknown) => `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;

/** Masks a key the way OpenAI does in its 401 message ("sk-abc***wxyz"), so tests can check it never leaks. */
const masked = (key: string) => `${key.slice(0, 6)}***${key.slice(-4)}`;

/**
 * OpenAI's documented refusals (Azure OpenAI answers the same): a 429 `insufficient_quota` for a key
 * out of quota or credit, a 429 `rate_limit_exceeded` with `retry-after` for a rate limit.
 */
export function openaiRefusal(
  kind: "quota" | "rate_limit",
  retryAfter?: number,
): { status: number; body: unknown; headers?: Record<string, string> } {
  if (kind === "quota")
    return {
      status: 429,
      body: {
        error: {
          message:
            "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
          type: "insufficient_quota",
          param: null,
          code: "insufficient_quota",
        },
      },
    };
  return {
    status: 429,
    body: {
      error: {
        message: "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.",
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      },
    },
    headers: retryAfterHeader(retryAfter),
  };
}

/**
 * OpenAI's API as the official SDK and the AI SDK call it: Chat Completions and the Responses API
 * (the AI SDK's default), each with tool calls and structured output. The `/v1` prefix is optional,
 * so both `baseUrl: fake.url` and `baseUrl: fake.url + "/v1"` work (the SDK's `baseURL` includes the version).
 */
export const openaiProtocol: FakeProtocol = chatCompletionsProtocol(usage);

/**
 * @internal OpenAI's protocol with another usage object (OpenRouter's states cache writes and the cost), for the
 * servers that copy it.
 */
export function chatCompletionsProtocol(usage: (r: ResolvedReply) => object): FakeProtocol {
  return {
    route(method, url, body) {
      const path = url.pathname.replace(/^\/v1(?=\/)/, "").replace(/\/$/, "");
      const model = (body as { model?: unknown } | undefined)?.model;
      if (method === "GET" && path === "/models") return { op: "validate", model: "" };
      const op = (body as { stream?: unknown } | undefined)?.stream === true ? "stream" : "chat";
      if (method === "POST" && path === "/chat/completions")
        return { op, model: typeof model === "string" ? model : "" };
      if (method === "POST" && path === "/responses")
        return { op, model: typeof model === "string" ? model : "", format: responsesFormat };
      return undefined;
    },
    apiKey: (request) => /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1],
    lastUserText,
    jsonSchema(body) {
      const b = body as
        | {
            response_format?: { type?: string; json_schema?: { schema?: unknown } };
            text?: { format?: { type?: string; schema?: unknown } };
          }
        | undefined;
      const format = b?.response_format ?? b?.text?.format;
      if (format?.type === "json_object") return {};
      if (format?.type !== "json_schema") return undefined;
      return (b?.response_format ? b.response_format.json_schema?.schema : b?.text?.format?.schema) ?? {};
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
    errorBody: (status, message, _retryAfter, type) => ({
      error: {
        message,
        type: type ?? ERROR_TYPE[status] ?? "server_error",
        param: null,
        code: status === 429 ? "rate_limit_exceeded" : null,
      },
    }),
    refusal: openaiRefusal,
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
          message: {
            role: "assistant",
            content: r.text || (r.toolCalls.length > 0 ? null : ""),
            refusal: null,
            ...(r.toolCalls.length > 0 ? { tool_calls: toolCalls(r) } : {}),
          },
          finish_reason: FINISH[r.finishReason],
          logprobs: null,
        },
      ],
      usage: usage(r),
    }),
    streamFrames: (r) => ({
      chunk: (text, index) =>
        sse(chunk(r, index === 0 ? { role: "assistant", content: text } : { content: text }, null)),
      // OpenAI sends the finish reason, then (with include_usage) a usage-only chunk with no choices, then [DONE].
      end: () =>
        toolCalls(r)
          .map((call, index) =>
            sse(chunk(r, { ...(index === 0 ? { role: "assistant" } : {}), tool_calls: [{ index, ...call }] }, null)),
          )
          .join("") +
        sse(chunk(r, {}, FINISH[r.finishReason])) +
        sse({ ...chunk(r, {}, null), choices: [], usage: usage(r) }) +
        sse("[DONE]"),
      error: (message, type) => sse({ error: { message, type: type ?? "server_error", param: null, code: null } }),
    }),
  };
}

/** @internal OpenAI's usage object for `r`, for protocols that extend it. */
export const openaiUsage = usage;

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
