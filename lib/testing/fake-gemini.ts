// The Gemini REST protocol for the fake upstream: generateContent, streamGenerateContent (SSE), countTokens, models.
import type { FinishReason } from "../core/types.js";
import {
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  type ResolvedReply,
  startFakeUpstream,
} from "./fake-upstream.js";

const FINISH: Record<FinishReason, string> = {
  stop: "STOP",
  length: "MAX_TOKENS",
  content_filter: "SAFETY",
  other: "OTHER",
};
const STATUS_NAME: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

const candidate = (text: string, finishReason?: FinishReason, calls: ResolvedReply["toolCalls"] = []) => ({
  content: {
    parts: [
      ...(text || !calls.length ? [{ text }] : []),
      ...calls.map((c) => ({ functionCall: { name: c.name, args: JSON.parse(c.arguments) as unknown } })),
    ],
    role: "model",
  },
  // Gemini ends a turn that asks for function calls with STOP.
  ...(finishReason ? { finishReason: calls.length && finishReason === "other" ? "STOP" : FINISH[finishReason] } : {}),
  index: 0,
});
/** Gemini counts thoughts apart from the candidates (both billed as output); the prompt count includes the cache. */
const usageMetadata = (r: ResolvedReply) => {
  const { cachedInputTokens, reasoningTokens } = r.usage;
  return {
    promptTokenCount: r.usage.inputTokens,
    candidatesTokenCount: r.usage.outputTokens - (reasoningTokens ?? 0),
    totalTokenCount: r.usage.totalTokens,
    ...(cachedInputTokens === undefined ? {} : { cachedContentTokenCount: cachedInputTokens }),
    ...(reasoningTokens === undefined ? {} : { thoughtsTokenCount: reasoningTokens }),
  };
};

/**
 * Gemini's API as the official SDKs and the AI SDK call it (`x-goog-api-key` header,
 * `/v1beta/models/{model}:{task}`), with function calls and structured output (`responseSchema`).
 */
export const geminiProtocol: FakeProtocol = {
  route(method, url) {
    const m = /^\/v1(?:beta)?\/models\/([^/:]+)(?::([A-Za-z]+))?$/.exec(url.pathname);
    if (method === "GET" && url.pathname.replace(/\/$/, "").match(/^\/v1(beta)?\/models$/))
      return { op: "validate", model: "" };
    if (!m) return undefined;
    const model = decodeURIComponent(m[1]!);
    if (method === "GET" && !m[2]) return { op: "validate", model };
    if (method !== "POST") return undefined;
    if (m[2] === "generateContent") return { op: "chat", model };
    if (m[2] === "streamGenerateContent") return { op: "stream", model };
    if (m[2] === "countTokens") return { op: "validate", model };
    return undefined;
  },
  apiKey: (request, url) =>
    (request.headers["x-goog-api-key"] as string | undefined) ?? url.searchParams.get("key") ?? undefined,
  lastUserText(body) {
    const contents =
      (body as { contents?: { role?: string; parts?: { text?: string }[] }[] } | undefined)?.contents ?? [];
    const last = [...contents].reverse().find((c) => c.role !== "model");
    return (last?.parts ?? []).map((p) => p.text ?? "").join("");
  },
  jsonSchema(body) {
    const config = (body as { generationConfig?: Record<string, unknown> } | undefined)?.generationConfig;
    const schema = config?.responseJsonSchema ?? config?.responseSchema;
    return schema ?? (config?.responseMimeType === "application/json" ? {} : undefined);
  },
  rejectedKey: () => ({
    status: 400,
    body: {
      error: {
        code: 400,
        message: "API key not valid. Please pass a valid API key.",
        status: "INVALID_ARGUMENT",
        details: [
          { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" },
        ],
      },
    },
  }),
  // Both are 429 RESOURCE_EXHAUSTED: the QuotaFailure's quota id says per day (quota) or per minute
  // (rate limit); RetryInfo carries the wait (Gemini sends no Retry-After header).
  refusal: (kind, retryAfter) => {
    const per = kind === "quota" ? "Day" : "Minute";
    const details: unknown[] = [
      {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        violations: [
          {
            quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            quotaId: `GenerateRequestsPer${per}PerProjectPerModel-FreeTier`,
            quotaDimensions: { location: "global", model: "gemini-2.5-flash" },
            quotaValue: kind === "quota" ? "250" : "10",
          },
        ],
      },
    ];
    if (retryAfter !== undefined)
      details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` });
    const message =
      "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.";
    return { status: 429, body: { error: { code: 429, message, status: "RESOURCE_EXHAUSTED", details } } };
  },
  errorBody: (status, message, retryAfter, type) => {
    const details = [
      ...(type === undefined
        ? []
        : [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: type, domain: "googleapis.com" }]),
      ...(retryAfter === undefined
        ? []
        : [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` }]),
    ];
    return {
      error: {
        code: status,
        message,
        status: STATUS_NAME[status] ?? "UNKNOWN",
        ...(details.length ? { details } : {}),
      },
    };
  },
  // A model name: countTokens (key validation); none: the model list (GET /v1beta/models).
  validateBody: (model) =>
    model
      ? { totalTokens: 1, name: `models/${model}` }
      : {
          models: [
            {
              name: "models/gemini-2.5-flash",
              displayName: "Gemini 2.5 Flash",
              supportedGenerationMethods: ["generateContent", "countTokens"],
            },
            {
              name: "models/gemini-2.5-pro",
              displayName: "Gemini 2.5 Pro",
              supportedGenerationMethods: ["generateContent", "countTokens"],
            },
            {
              name: "models/text-embedding-004",
              displayName: "Text Embedding 004",
              supportedGenerationMethods: ["embedContent"],
            },
          ],
        },
  chatBody: (r) => ({
    candidates: [candidate(r.text, r.finishReason, r.toolCalls)],
    usageMetadata: usageMetadata(r),
    modelVersion: r.model,
  }),
  streamFrames: (r) => ({
    chunk: (text) => `data: ${JSON.stringify({ candidates: [candidate(text)], modelVersion: r.model })}\r\n\r\n`,
    end: () =>
      `data: ${JSON.stringify({ candidates: [candidate("", r.finishReason, r.toolCalls)], usageMetadata: usageMetadata(r), modelVersion: r.model })}\r\n\r\n`,
    error: (message) => `data: ${JSON.stringify({ error: { code: 500, message, status: "INTERNAL" } })}\r\n\r\n`,
  }),
};

/**
 * Starts a fake Gemini API on 127.0.0.1. Point the provider at it with
 * `providers: { gemini: { baseUrl: fake.url } }`.
 *
 * @example
 * ```ts
 * const fake = await startFakeGemini();
 * const byok = new BYOK({ masterKey, providers: { gemini: { baseUrl: fake.url } } });
 * fake.enqueue({ status: 429, retryAfter: 7 }); // the next call is rate limited
 * ```
 */
export function startFakeGemini(options?: FakeUpstreamOptions): Promise<FakeUpstream> {
  return startFakeUpstream(geminiProtocol, options);
}
