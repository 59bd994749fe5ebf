// OpenAI and OpenAI-compatible servers through the official openai SDK (an optional peer): validation, chat, stream.
import type * as OpenAISdk from "openai";
import type {
  ChatCompletion,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
} from "openai/resources/chat/completions";
import { MAX_LISTED_MODELS } from "../core/models.js";
import type {
  FinishReason,
  Provider,
  ProviderChatRequest,
  ProviderChatResult,
  ProviderModel,
  Usage,
} from "../core/types.js";
import { upstreamError } from "./upstream-error.js";
import { lazyPeer } from "../core/optional-peer.js";
import { cancelEnvHeaders, SDK_MAX_RETRIES, SDK_TIMEOUT_MS, sdkCaller } from "./stainless.js";

/** Settings of the OpenAI provider (server configuration only). */
export interface OpenAIProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"openai"`. */
  id?: string;
  /**
   * API root including the version path, as the SDK's `baseURL`: the SDK appends `/chat/completions`
   * and `/models`. Defaults to `https://api.openai.com/v1` (never `OPENAI_BASE_URL`).
   */
  baseUrl?: string;
  /** Defaults to `"gpt-4o-mini"`. */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
  /**
   * An OpenAI-compatible server (Groq, Together, OpenRouter, vLLM, Ollama…) rather than OpenAI:
   * sends `max_tokens` instead of `max_completion_tokens`, which many of them do not accept yet.
   * Defaults to `false`.
   */
  compatible?: boolean;
}

/** Cheap, fast and current (a small chat model every OpenAI key can call); override with `defaultModel`. */
export const OPENAI_DEFAULT_MODEL = "gpt-4o-mini";
const OPENAI_BASE_URL = "https://api.openai.com/v1";

/** OpenAI's finish reasons → the contract's four (tool_calls, function_call, null… → other). */
export function mapOpenAIFinishReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "stop":
      return "stop";
    case "length":
      return "length";
    case "content_filter":
      return "content_filter";
    default:
      return "other";
  }
}

type Sdk = typeof OpenAISdk;
/** The npm package the provider runs on (an optional peer of byok-ai). */
export const OPENAI_SDK = "openai";
const loadSdk = lazyPeer<Sdk>(OPENAI_SDK, "The openai provider");

function usageOf(usage: ChatCompletion["usage"] | null | undefined): Usage {
  const inputTokens = usage?.prompt_tokens ?? 0;
  const outputTokens = usage?.completion_tokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: usage?.total_tokens ?? inputTokens + outputTokens };
}

/**
 * The OpenAI provider, also used for every `"openai-compatible"` server. The SDK is loaded on the
 * first call, not when the provider is created.
 *
 * Client per call: each call builds its own SDK client around the user's key (about 8 µs, measured,
 * against a network call of 100 ms or more), so a key never outlives its call in a shared object.
 * Every environment fallback of the SDK is neutralised: `apiKey`, `baseURL`, `organization`,
 * `project`, `adminAPIKey`, `webhookSecret` are always passed, `OPENAI_CUSTOM_HEADERS` is cancelled,
 * `OPENAI_LOG` is overridden (`logLevel: "off"`: the SDK's debug log would print prompts).
 */
export function createOpenAIProvider(settings: OpenAIProviderSettings = {}): Provider {
  const id = settings.id ?? "openai";
  const baseURL = settings.baseUrl ?? OPENAI_BASE_URL;
  const defaultModel = settings.defaultModel ?? OPENAI_DEFAULT_MODEL;
  const compatible = settings.compatible === true;

  const client = (openai: Sdk, apiKey: string) =>
    new openai.OpenAI({
      apiKey,
      baseURL,
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      maxRetries: SDK_MAX_RETRIES,
      timeout: SDK_TIMEOUT_MS,
      logLevel: "off",
      defaultHeaders: cancelEnvHeaders("OPENAI_CUSTOM_HEADERS", { authorization: `Bearer ${apiKey}` }),
    });

  const body = (request: ProviderChatRequest): ChatCompletionCreateParamsBase => {
    const messages: ChatCompletionMessageParam[] = request.system ? [{ role: "system", content: request.system }] : [];
    for (const m of request.messages) messages.push({ role: m.role, content: m.content });
    const out: ChatCompletionCreateParamsBase = { model: request.model, messages };
    if (request.temperature !== undefined) out.temperature = request.temperature;
    if (request.maxTokens !== undefined) {
      if (compatible) out.max_tokens = request.maxTokens;
      else out.max_completion_tokens = request.maxTokens;
    }
    return out;
  };

  const sdk = sdkCaller(id, loadSdk, client);

  return {
    specificationVersion: "v1",
    defaultModel,
    ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
    connection: { baseURL, auth: "bearer" }, // the SDK's baseURL already ends in the version (/v1)

    async load(): Promise<void> {
      await loadSdk();
    },

    async validateKey(context): Promise<void> {
      // GET /models, first page only: free, and it needs a valid key.
      await sdk.call(context, (c) => c.models.list({ signal: context.signal }));
    },

    async listModels(context): Promise<ProviderModel[]> {
      // GET /models: every model the key can see (OpenAI's list has no capabilities to filter on).
      return sdk.call(context, async (c) => {
        const out: ProviderModel[] = [];
        for await (const model of c.models.list({ signal: context.signal })) {
          out.push({ id: model.id });
          if (out.length >= MAX_LISTED_MODELS) break;
        }
        return out;
      });
    },

    async doChat(request, context): Promise<ProviderChatResult> {
      const completion = await sdk.call(context, (c) =>
        c.chat.completions.create({ ...body(request), stream: false }, { signal: context.signal }),
      );
      if (typeof completion !== "object" || completion === null || !Array.isArray(completion.choices))
        throw upstreamError(id, { type: "malformed reply" });
      const choice = completion.choices[0];
      return {
        text: choice?.message?.content ?? "",
        model: completion.model || request.model,
        finishReason: mapOpenAIFinishReason(choice?.finish_reason),
        usage: usageOf(completion.usage),
      };
    },

    async *doStream(request, context) {
      let finish: string | null | undefined;
      let usage: ChatCompletion["usage"] | undefined;
      let model = request.model;
      const chunks = sdk.events(context, (c) =>
        c.chat.completions.create(
          { ...body(request), stream: true, stream_options: { include_usage: true } },
          { signal: context.signal },
        ),
      );
      for await (const chunk of chunks) {
        if (chunk.model) model = chunk.model;
        if (chunk.usage) {
          usage = chunk.usage;
          yield { type: "usage", usage: usageOf(usage) };
        }
        const choice = chunk.choices?.[0];
        if (choice?.finish_reason) finish = choice.finish_reason;
        const text = choice?.delta?.content;
        if (text) yield { type: "text", text };
      }
      if (!finish) throw upstreamError(id, { type: "incomplete stream" });
      yield { type: "finish", model, finishReason: mapOpenAIFinishReason(finish), usage: usageOf(usage) };
    },
  };
}
