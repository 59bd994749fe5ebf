// Gemini through Google's @google/genai SDK (an optional peer): key validation, chat, stream, models.
import type * as GenAiSdk from "@google/genai";
import type { Content, GenerateContentConfig, GenerateContentResponse } from "@google/genai";
import { ByokError } from "../errors.js";
import type {
  FinishReason,
  Provider,
  ProviderCallContext,
  ProviderChatRequest,
  ProviderChatResult,
  ProviderModel,
  Usage,
} from "../core/types.js";
import { lazyPeer } from "../core/optional-peer.js";
import { mapGeminiError, readGeminiRefusal } from "./gemini-error.js";
import { MAX_LISTED_MODELS } from "../core/models.js";
import { upstreamError } from "./upstream-error.js";
import { checkSettings, type SettingRules } from "../core/option-checks.js";
import { providerSettingRules } from "../core/provider-settings.js";
import { firstCount, stated, usageReader } from "./usage-fields.js";
import { isPlainObject } from "../core/validate.js";

/** Settings of the Gemini provider (server configuration only). */
export interface GeminiProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"gemini"`. */
  id?: string;
  /**
   * API root; the SDK appends `/v1beta/models/...`. Defaults to `https://generativelanguage.googleapis.com`
   * (never `GOOGLE_GEMINI_BASE_URL`).
   */
  baseUrl?: string;
  /** Defaults to `"gemini-2.5-flash"`. */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
}

/** The npm package the Gemini provider runs on (an optional peer of byok-ai). */
export const GEMINI_SDK = "@google/genai";
/** Fast, cheap and current; override with `defaultModel`. */
export const GEMINI_DEFAULT_MODEL = "gemini-2.5-flash";
const GEMINI_BASE_URL = "https://generativelanguage.googleapis.com";
const GEMINI_API_VERSION = "v1beta";
const SETTING_RULES: SettingRules<GeminiProviderSettings> = providerSettingRules(
  "id",
  "baseUrl",
  "defaultModel",
  "timeoutMs",
);

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

/**
 * How Gemini's HTTP API meters through `ai.connection()`: usage in `usageMetadata`
 * (`promptTokenCount`/`candidatesTokenCount`), the model in the path (`…/models/<model>:generateContent`),
 * the output limit in `generationConfig.maxOutputTokens`.
 */
const GEMINI_METERING = {
  readUsage: usageReader({
    holders: (body) => [body],
    field: "usageMetadata",
    counts: (usage) => geminiUsage(usage),
  }),
  readRequest(body: unknown, path: string): { model?: string; maxOutputTokens?: number } {
    const inPath = /\/models\/([^/:]+):/.exec(path)?.[1];
    const config = isPlainObject(body) && isPlainObject(body.generationConfig) ? body.generationConfig : {};
    const maxOutputTokens = config.maxOutputTokens;
    return {
      ...(inPath === undefined ? {} : { model: decodeURIComponent(inPath) }),
      ...(typeof maxOutputTokens === "number" ? { maxOutputTokens } : {}),
    };
  },
};

type Sdk = typeof GenAiSdk;
const loadSdk = lazyPeer<Sdk>(GEMINI_SDK, "The gemini provider");

/**
 * What Gemini's `usageMetadata` states, as Google bills it: `promptTokenCount` includes the cached
 * `cachedContentTokenCount`; thoughts (`thoughtsTokenCount`) are billed as output but counted apart from
 * `candidatesTokenCount`, so they are added into `outputTokens` and stated as its reasoning part.
 */
function geminiUsage(u: Record<string, unknown>): Partial<Usage> {
  const candidates = firstCount(u, ["candidatesTokenCount"]);
  const thoughts = firstCount(u, ["thoughtsTokenCount"]);
  const anyOutput = candidates !== undefined || thoughts !== undefined;
  return stated({
    inputTokens: firstCount(u, ["promptTokenCount"]),
    outputTokens: anyOutput ? (candidates ?? 0) + (thoughts ?? 0) : undefined,
    cachedInputTokens: firstCount(u, ["cachedContentTokenCount"]),
    reasoningTokens: thoughts,
  });
}

function usageOf(response: GenerateContentResponse | undefined): Usage {
  const u = response?.usageMetadata;
  // An SDK object (maybe of a class): read as a record, not checked as a plain one.
  const parts = typeof u === "object" && u !== null ? geminiUsage(u as Record<string, unknown>) : {};
  const inputTokens = parts.inputTokens ?? 0;
  const outputTokens = parts.outputTokens ?? 0;
  return { ...parts, inputTokens, outputTokens, totalTokens: u?.totalTokenCount ?? inputTokens + outputTokens };
}

// Read from the parts, not the SDK's `text` getter, which warns on the console about non-text parts.
function textOf(response: GenerateContentResponse | undefined): string {
  return (response?.candidates?.[0]?.content?.parts ?? [])
    .map((p) => (typeof p.text === "string" && !p.thought ? p.text : ""))
    .join("");
}

function finishOf(response: GenerateContentResponse | undefined): FinishReason {
  const candidate = response?.candidates?.[0];
  if (!candidate && response?.promptFeedback?.blockReason) return "content_filter";
  return mapGeminiFinishReason(candidate?.finishReason);
}

/** Gemini answers name the exact model version. */
const modelOf = (response: GenerateContentResponse | undefined, fallback: string): string =>
  response?.modelVersion || fallback;

/**
 * The SDK's `fetch`: the global one (the SDK's own undici dispatcher is missing under test runners'
 * sandboxes), given the call's signal itself rather than the SDK's per-attempt copy of it.
 */
export const callFetch =
  (signal: AbortSignal): typeof fetch =>
  (input, init) =>
    fetch(input, { ...init, signal });

/** A client for one call, and the mapping of its failures (see {@link mapGeminiError}). */
export interface GeminiClient {
  ai: GenAiSdk.GoogleGenAI;
  fail(error: unknown): unknown;
  /**
   * **Optional.** Whether `error` means the client's credential went stale (a cached access token the upstream
   * no longer takes): the request is then made once more with a client from `open(context, { fresh: true })`.
   */
  stale?(error: unknown): boolean;
}

/** Opens a client for a call; `fresh` after a stale credential (see {@link GeminiClient.stale}). */
export type GeminiOpen = (context: ProviderCallContext, o?: { fresh: true }) => Promise<GeminiClient>;

/**
 * Gemini's calls (key check, chat, stream, models) over the clients `open` builds: the request and response
 * mapping the gemini provider (Gemini API, an API key) and the vertex provider (Vertex AI, an OAuth token)
 * share. `automaticContinuation: false` on every request, so one call is one upstream request (or two, when a
 * stale credential is renewed before anything reached the model).
 */
export function geminiCalls(
  id: string,
  defaultModel: string,
  open: GeminiOpen,
): Pick<Provider, "validateKey" | "doChat" | "doStream" | "listModels"> {
  /** Runs `call` with a client (once more with a fresh one if the first's credential went stale). */
  async function withClient<T>(context: ProviderCallContext, call: (ai: GenAiSdk.GoogleGenAI) => Promise<T>) {
    let client = await open(context);
    try {
      return { value: await call(client.ai), client };
    } catch (error) {
      if (!client.stale?.(error) || context.signal.aborted) throw client.fail(error);
    }
    client = await open(context, { fresh: true });
    try {
      return { value: await call(client.ai), client };
    } catch (error) {
      throw client.fail(error);
    }
  }

  const config = (request: ProviderChatRequest, signal: AbortSignal): GenerateContentConfig => ({
    abortSignal: signal,
    automaticContinuation: false,
    ...(request.system ? { systemInstruction: request.system } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== undefined ? { maxOutputTokens: request.maxTokens } : {}),
  });

  const contents = (request: ProviderChatRequest): Content[] =>
    request.messages.map((m) => ({ role: m.role === "assistant" ? "model" : "user", parts: [{ text: m.content }] }));

  return {
    async validateKey(context): Promise<void> {
      // countTokens is free and needs a valid key: the cheapest call that proves it.
      await withClient(context, (ai) =>
        ai.models.countTokens({
          model: defaultModel,
          contents: [{ role: "user", parts: [{ text: "ping" }] }],
          config: { abortSignal: context.signal },
        }),
      );
    },

    async doChat(request, context): Promise<ProviderChatResult> {
      const { value: response } = await withClient(context, (ai) =>
        ai.models.generateContent({
          model: request.model,
          contents: contents(request),
          config: config(request, context.signal),
        }),
      );
      if (typeof response !== "object" || response === null) throw upstreamError(id, { type: "malformed reply" });
      return {
        text: textOf(response),
        model: modelOf(response, request.model),
        finishReason: finishOf(response),
        usage: usageOf(response),
      };
    },

    async *doStream(request, context) {
      let last: GenerateContentResponse | undefined;
      const { value: chunks, client } = await withClient(context, (ai) =>
        ai.models.generateContentStream({
          model: request.model,
          contents: contents(request),
          config: config(request, context.signal),
        }),
      );
      try {
        for await (const chunk of chunks) {
          last = chunk;
          if (chunk.usageMetadata) yield { type: "usage", usage: usageOf(chunk) }; // Gemini counts on every chunk
          const text = textOf(chunk);
          if (text) yield { type: "text", text };
        }
      } catch (error) {
        throw client.fail(error);
      }
      if (context.signal.aborted) throw context.signal.reason;
      // Gemini's last chunk always carries a finish reason; without one the connection was cut short.
      if (!last?.candidates?.[0]?.finishReason && !last?.promptFeedback?.blockReason)
        throw upstreamError(id, { type: "incomplete stream" });
      yield { type: "finish", model: modelOf(last, request.model), finishReason: finishOf(last), usage: usageOf(last) };
    },

    async listModels(context): Promise<ProviderModel[]> {
      const { value } = await withClient(context, async (ai) => {
        const out: ProviderModel[] = [];
        const pager = await ai.models.list({ config: { abortSignal: context.signal, pageSize: 1000 } });
        for await (const model of pager) {
          // Only models that can chat (embedding, image and other models cannot answer doChat).
          if (model.supportedActions && !model.supportedActions.includes("generateContent")) continue;
          // `models/<id>` on the Gemini API, `publishers/google/models/<id>` on Vertex AI.
          const modelId = model.name?.replace(/^(?:publishers\/[^/]+\/)?models\//, "");
          if (modelId) out.push({ id: modelId, ...(model.displayName ? { displayName: model.displayName } : {}) });
          if (out.length >= MAX_LISTED_MODELS) break;
        }
        return out;
      });
      return value;
    },
  };
}

/**
 * The Gemini provider. The SDK is loaded on the first call, not when the provider is created.
 * Each call builds its own SDK client around the user's key, so a key never outlives its call.
 * Every environment fallback of the SDK is neutralised by explicit options: `apiKey` (never
 * `GOOGLE_API_KEY`/`GEMINI_API_KEY`, nor Google's credential chain), `vertexai: false` (never
 * `GOOGLE_GENAI_USE_VERTEXAI`, so `GOOGLE_CLOUD_PROJECT`/`LOCATION` are unused),
 * `httpOptions.baseUrl` and `apiVersion` (never `GOOGLE_GEMINI_BASE_URL`). No `retryOptions`
 * (byok-ai never retries) and `automaticContinuation: false` on every request, so one call is
 * one upstream request.
 */
export function createGeminiProvider(settings: GeminiProviderSettings = {}): Provider {
  const checked = checkSettings(settings, SETTING_RULES, "createGeminiProvider");
  const id = checked.id ?? "gemini";
  const baseUrl = checked.baseUrl ?? GEMINI_BASE_URL;
  const defaultModel = checked.defaultModel ?? GEMINI_DEFAULT_MODEL;

  /** A client for this call's key, and the mapping of its failures (see {@link mapGeminiError}). */
  async function open(context: ProviderCallContext): Promise<GeminiClient> {
    // An empty key would make the SDK fall back to the server's environment or Google credentials.
    if (typeof context.apiKey !== "string" || context.apiKey.length === 0)
      throw new ByokError("INTERNAL", `The ${id} provider was called without an API key.`, { provider: id });
    const sdk = await loadSdk();
    const ai = new sdk.GoogleGenAI({
      apiKey: context.apiKey,
      vertexai: false,
      apiVersion: GEMINI_API_VERSION,
      httpOptions: { baseUrl, apiVersion: GEMINI_API_VERSION, fetch: callFetch(context.signal) },
    });
    const fail = (error: unknown) => mapGeminiError(id, error, context.apiKey, context.signal, sdk.ApiError);
    return { ai, fail };
  }

  return {
    specificationVersion: "v1",
    defaultModel,
    ...(checked.timeoutMs !== undefined ? { timeoutMs: checked.timeoutMs } : {}),
    connection: {
      baseURL: `${baseUrl.replace(/\/+$/, "")}/v1beta`,
      auth: "x-goog-api-key",
      keyParam: "key",
      ...GEMINI_METERING,
    },
    pricing: { providerId: "google" },
    readRefusal: readGeminiRefusal,

    async load(): Promise<void> {
      await loadSdk();
    },
    ...geminiCalls(id, defaultModel, open),
  };
}
