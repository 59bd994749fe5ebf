// Gemini through the official @google/generative-ai SDK: key validation, chat, stream, and error mapping.
import {
  type Content,
  type GenerateContentResponse,
  GoogleGenerativeAI,
  GoogleGenerativeAIAbortError,
  GoogleGenerativeAIFetchError,
  type GenerativeModel,
} from "@google/generative-ai";
import type {
  FinishReason,
  Provider,
  ProviderCallContext,
  ProviderChatRequest,
  ProviderChatResult,
  Usage,
} from "../core/types.js";
import { upstreamError } from "./upstream-error.js";

/** Settings of the Gemini provider (server configuration only). */
export interface GeminiProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"gemini"`. */
  id?: string;
  /** API root; the SDK appends `/v1beta/models/...`. Defaults to `https://generativelanguage.googleapis.com`. */
  baseUrl?: string;
  /** Defaults to `"gemini-2.5-flash"`. */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
}

export const GEMINI_DEFAULT_MODEL = "gemini-2.5-flash";
const GEMINI_BASE_URL = "https://generativelanguage.googleapis.com";

/** Gemini's finish reasons → the contract's four. */
export function mapGeminiFinishReason(reason: string | undefined): FinishReason {
  switch (reason) {
    case "STOP":
      return "stop";
    case "MAX_TOKENS":
      return "length";
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
      return "content_filter";
    default:
      return "other";
  }
}

function usageOf(response: GenerateContentResponse | undefined): Usage {
  const u = response?.usageMetadata as
    (GenerateContentResponse["usageMetadata"] & { thoughtsTokenCount?: number }) | undefined;
  const inputTokens = u?.promptTokenCount ?? 0;
  const outputTokens = (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0);
  return { inputTokens, outputTokens, totalTokens: u?.totalTokenCount ?? inputTokens + outputTokens };
}

function textOf(response: GenerateContentResponse | undefined): string {
  return (response?.candidates?.[0]?.content?.parts ?? [])
    .map((p) => (typeof p.text === "string" ? p.text : ""))
    .join("");
}

function finishOf(response: GenerateContentResponse | undefined): FinishReason {
  const candidate = response?.candidates?.[0];
  if (!candidate && response?.promptFeedback?.blockReason) return "content_filter";
  return mapGeminiFinishReason(candidate?.finishReason);
}

/** Gemini answers name the exact model version; the SDK's types predate the field. */
const modelOf = (response: GenerateContentResponse | undefined, fallback: string): string => {
  const version = (response as { modelVersion?: unknown } | undefined)?.modelVersion;
  return typeof version === "string" && version ? version : fallback;
};

type ErrorDetail = { "@type"?: string; reason?: string; retryDelay?: string };

/** SDK errors → ByokError; aborts pass through untouched (the core knows why it aborted). */
function mapError(id: string, error: unknown, apiKey: string): unknown {
  if (error instanceof GoogleGenerativeAIAbortError || (error instanceof Error && error.name === "AbortError"))
    return error;
  if (error instanceof GoogleGenerativeAIFetchError) {
    const details = (Array.isArray(error.errorDetails) ? error.errorDetails : []) as ErrorDetail[];
    const reason = details.find((d) => typeof d.reason === "string")?.reason;
    const retryDelay = details.find((d) => typeof d.retryDelay === "string")?.retryDelay;
    // The SDK's message is "…[400 Bad Request] <upstream message> <details json>"; keep only the upstream message.
    const upstream = /\[\d{3}[^\]]*\]\s*(.*?)(?:\s\[\{.*)?$/s.exec(error.message)?.[1];
    return upstreamError(
      id,
      {
        status: error.status,
        type: reason ?? error.statusText,
        retryAfter: retryDelay,
        message: upstream,
        keyRejected: reason === "API_KEY_INVALID",
      },
      apiKey,
    );
  }
  return upstreamError(id, { type: error instanceof Error ? error.name : typeof error }, apiKey);
}

/**
 * The Gemini provider. Every call builds a throw-away SDK client around the user's key (cheap: the
 * SDK client is a plain object), so no key outlives the call.
 */
export function createGeminiProvider(settings: GeminiProviderSettings = {}): Provider {
  const id = settings.id ?? "gemini";
  const baseUrl = settings.baseUrl ?? GEMINI_BASE_URL;
  const defaultModel = settings.defaultModel ?? GEMINI_DEFAULT_MODEL;

  const modelFor = (apiKey: string, request: ProviderChatRequest | undefined, model: string): GenerativeModel =>
    new GoogleGenerativeAI(apiKey).getGenerativeModel(
      {
        model,
        ...(request?.system ? { systemInstruction: request.system } : {}),
        generationConfig: {
          ...(request?.temperature !== undefined ? { temperature: request.temperature } : {}),
          ...(request?.maxTokens !== undefined ? { maxOutputTokens: request.maxTokens } : {}),
        },
      },
      // No SDK `timeout`: it starts a timer it never clears. The core's signal does the timing.
      { baseUrl },
    );

  const contents = (request: ProviderChatRequest): Content[] =>
    request.messages.map((m) => ({ role: m.role === "assistant" ? "model" : "user", parts: [{ text: m.content }] }));

  return {
    specificationVersion: "v1",
    defaultModel,
    ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
    connection: { baseURL: `${baseUrl.replace(/\/+$/, "")}/v1beta`, auth: "x-goog-api-key" },

    async validateKey({ apiKey, signal }: ProviderCallContext): Promise<void> {
      // countTokens is free and needs a valid key: the cheapest call that proves it.
      try {
        await modelFor(apiKey, undefined, defaultModel).countTokens(
          { contents: [{ role: "user", parts: [{ text: "ping" }] }] },
          { signal },
        );
      } catch (error) {
        throw mapError(id, error, apiKey);
      }
    },

    async doChat(request, { apiKey, signal }): Promise<ProviderChatResult> {
      try {
        const { response } = await modelFor(apiKey, request, request.model).generateContent(
          { contents: contents(request) },
          { signal },
        );
        if (typeof response !== "object" || response === null) throw new TypeError("malformed reply");
        return {
          text: textOf(response),
          model: modelOf(response, request.model),
          finishReason: finishOf(response),
          usage: usageOf(response),
        };
      } catch (error) {
        throw mapError(id, error, apiKey);
      }
    },

    async *doStream(request, { apiKey, signal }) {
      let last: GenerateContentResponse | undefined;
      try {
        const result = await modelFor(apiKey, request, request.model).generateContentStream(
          { contents: contents(request) },
          { signal },
        );
        result.response.catch(() => undefined); // the SDK's aggregate promise; we aggregate ourselves
        for await (const chunk of result.stream) {
          last = chunk;
          if (chunk.usageMetadata) yield { type: "usage", usage: usageOf(chunk) }; // Gemini counts on every chunk
          const text = textOf(chunk);
          if (text) yield { type: "text", text };
        }
      } catch (error) {
        throw mapError(id, error, apiKey);
      }
      // Gemini's last chunk always carries a finish reason; without one the connection was cut short.
      if (!last?.candidates?.[0]?.finishReason && !last?.promptFeedback?.blockReason)
        throw upstreamError(id, { type: "incomplete stream" });
      yield { type: "finish", model: modelOf(last, request.model), finishReason: finishOf(last), usage: usageOf(last) };
    },
  };
}
