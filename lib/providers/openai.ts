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
  KeyVerdict,
  Provider,
  ProviderChatRequest,
  ProviderChatResult,
  ProviderConnectionSpec,
  ProviderModel,
  ProviderRefusal,
  ProviderPricing,
  ProviderUserEndpoints,
  Usage,
} from "../core/types.js";
import { upstreamError } from "./upstream-error.js";
import { lazyPeer } from "../core/optional-peer.js";
import { cancelEnvHeaders, errorObjectOf, SDK_MAX_RETRIES, SDK_TIMEOUT_MS, sdkCaller } from "./stainless.js";
import {
  checkUserEndpointSettings,
  endpointError,
  endpointGuard,
  type UserEndpointSettings,
} from "./user-endpoints.js";
import { countAt, dollarsAt, firstCount, requestReader, stated, usageReader } from "./usage-fields.js";
import { checkBoolean, checkSettings, type SettingRules } from "../core/option-checks.js";
import { providerSettingRules } from "../core/provider-settings.js";

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
  /**
   * Let each key carry its own endpoint (an API root like `baseUrl`), checked against `hosts` and,
   * unless `allowPrivateNetwork`, refused at connect time when its address is not public. Without
   * `baseUrl`, every key must carry one. Defaults to none: every key goes to `baseUrl`.
   */
  userEndpoints?: UserEndpointSettings;
}

/** Cheap, fast and current (a small chat model every OpenAI key can call); override with `defaultModel`. */
export const OPENAI_DEFAULT_MODEL = "gpt-4o-mini";
const OPENAI_BASE_URL = "https://api.openai.com/v1";
const SETTING_RULES: SettingRules<OpenAIProviderSettings> = {
  ...providerSettingRules("id", "baseUrl", "defaultModel", "timeoutMs"),
  compatible: checkBoolean,
  userEndpoints: checkUserEndpointSettings,
};

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

/** @internal The openai module. */
export type Sdk = typeof OpenAISdk;
/** The npm package the provider runs on (an optional peer of byok-ai). */
export const OPENAI_SDK = "openai";
const loadSdk = lazyPeer<Sdk>(OPENAI_SDK, "The openai provider");

/**
 * What an OpenAI-style refusal says about the key beyond its status (see `Provider.readRefusal`):
 * `insufficient_quota` (OpenAI's and Azure's answer to a plan or credit used up, also from servers
 * that copy their errors) is `"quota_exhausted"`. OpenRouter's "Insufficient credits" is a 402.
 */
export function readOpenAIRefusal({ body }: ProviderRefusal): KeyVerdict | undefined {
  const error = errorObjectOf(body);
  return error?.type === "insufficient_quota" || error?.code === "insufficient_quota"
    ? { status: "quota_exhausted" }
    : undefined;
}

/**
 * @internal How OpenAI's HTTP API (and the servers that copy it) meters through `ai.connection()`:
 * usage in `usage` (Chat Completions: `prompt_tokens`/`completion_tokens`; the Responses API:
 * `input_tokens`/`output_tokens`, in its stream events under `response`), the model in `model`, the
 * output limit in `max_tokens`, `max_completion_tokens` or `max_output_tokens`.
 */
export const OPENAI_METERING = openaiMetering(false);

/**
 * @internal The metering of an OpenAI-style API; `statesCost`: its usage states the call's cost in dollars in
 * `cost` (OpenRouter's credits are dollars), which is then the call's `costUsd`.
 */
export function openaiMetering(statesCost: boolean): Pick<ProviderConnectionSpec, "readUsage" | "readRequest"> {
  return {
    readUsage: usageReader({
      holders: (body) => [body, body.response],
      field: "usage",
      counts: (usage) => openaiUsage(usage, statesCost),
    }),
    readRequest: requestReader(["max_tokens", "max_completion_tokens", "max_output_tokens"]),
  };
}

/**
 * @internal What an OpenAI-style usage object states, as OpenAI bills it: Chat Completions' `prompt_tokens`
 * (cache reads included, in `prompt_tokens_details.cached_tokens`) and `completion_tokens` (reasoning included, in
 * `completion_tokens_details.reasoning_tokens`), or the Responses API's `input_tokens`/`output_tokens` with their
 * `*_details`; OpenRouter adds `prompt_tokens_details.cache_write_tokens` and, with `statesCost`, `cost`.
 */
export function openaiUsage(usage: Record<string, unknown>, statesCost: boolean): Partial<Usage> {
  return stated({
    inputTokens: firstCount(usage, ["prompt_tokens", "input_tokens"]),
    outputTokens: firstCount(usage, ["completion_tokens", "output_tokens"]),
    cachedInputTokens:
      countAt(usage, ["prompt_tokens_details", "cached_tokens"]) ??
      countAt(usage, ["input_tokens_details", "cached_tokens"]),
    cacheWriteTokens: countAt(usage, ["prompt_tokens_details", "cache_write_tokens"]),
    reasoningTokens:
      countAt(usage, ["completion_tokens_details", "reasoning_tokens"]) ??
      countAt(usage, ["output_tokens_details", "reasoning_tokens"]),
    costUsd: statesCost ? dollarsAt(usage, "cost") : undefined,
  });
}

/** The usage of a chat or the last stream chunk, `0` for the totals it does not state. */
function usageOf(usage: ChatCompletion["usage"] | null | undefined, statesCost: boolean): Usage {
  const parts =
    typeof usage === "object" && usage !== null
      ? openaiUsage(usage as unknown as Record<string, unknown>, statesCost)
      : {};
  const inputTokens = parts.inputTokens ?? 0;
  const outputTokens = parts.outputTokens ?? 0;
  return { ...parts, inputTokens, outputTokens, totalTokens: usage?.total_tokens ?? inputTokens + outputTokens };
}

/** @internal What differs between the providers that speak Chat Completions through the openai SDK. */
export interface ChatCompletionsSpec {
  /** The provider id (named in errors). */
  id: string;
  defaultModel: string;
  timeoutMs?: number;
  /** Sends `max_tokens` rather than `max_completion_tokens`. */
  compatible: boolean;
  /** A client for one call's key, sent where the key belongs (its own endpoint, if it has one). */
  client(openai: Sdk, apiKey: string, endpoint: string | undefined): OpenAISdk.OpenAI;
  /** The cheapest call that needs a valid key. */
  validate(client: OpenAISdk.OpenAI, signal: AbortSignal): Promise<unknown>;
  /** Whether `GET /models` lists what the key can use (Azure's lists base models, not deployments). */
  listsModels: boolean;
  connection?: ProviderConnectionSpec;
  userEndpoints?: ProviderUserEndpoints;
  /** Where its models are in the price table, if they are. */
  pricing?: ProviderPricing;
  /** Its usage states each call's cost in dollars (`cost`), asked for with `usage: { include: true }` (OpenRouter). */
  statesCost?: boolean;
}

/**
 * @internal Options every client gets: the key, where it goes, and every environment fallback of the
 * SDK neutralised (`organization`, `project`, `adminAPIKey`, `webhookSecret` passed, the custom-headers
 * variable cancelled, `OPENAI_LOG` overridden: the SDK's debug log would print prompts).
 * @param auth - the header that carries the key (lower-case name → value), kept if the environment names it
 * @param send - the fetch to send with (a user endpoint's guarded one), else the SDK's default
 */
export function clientOptions(
  apiKey: string,
  baseURL: string,
  auth: Record<string, string>,
  send?: typeof fetch,
): { apiKey: string; baseURL: string } & Omit<OpenAISdk.ClientOptions, "provider" | "apiKey" | "baseURL"> {
  return {
    apiKey,
    baseURL,
    adminAPIKey: null,
    organization: null,
    project: null,
    webhookSecret: null,
    maxRetries: SDK_MAX_RETRIES,
    timeout: SDK_TIMEOUT_MS,
    logLevel: "off",
    defaultHeaders: cancelEnvHeaders("OPENAI_CUSTOM_HEADERS", auth),
    ...(send ? { fetch: send } : {}),
  };
}

/**
 * @internal A provider on Chat Completions: validation, chat, stream (usage included), models. The
 * SDK is loaded on the first call, not when the provider is created.
 *
 * Client per call: each call builds its own SDK client around the user's key (about 8 µs, measured,
 * against a network call of 100 ms or more), so a key never outlives its call in a shared object.
 */
export function chatCompletionsProvider(spec: ChatCompletionsSpec): Provider {
  const { id, compatible } = spec;
  const statesCost = spec.statesCost === true;
  const body = (request: ProviderChatRequest): ChatCompletionCreateParamsBase => {
    const messages: ChatCompletionMessageParam[] = request.system ? [{ role: "system", content: request.system }] : [];
    for (const m of request.messages) messages.push({ role: m.role, content: m.content });
    const out: ChatCompletionCreateParamsBase = { model: request.model, messages };
    // OpenRouter states each call's cost in its usage (now always; this asked for it before).
    if (statesCost) Object.assign(out, { usage: { include: true } });
    if (request.temperature !== undefined) out.temperature = request.temperature;
    if (request.maxTokens !== undefined) {
      if (compatible) out.max_tokens = request.maxTokens;
      else out.max_completion_tokens = request.maxTokens;
    }
    return out;
  };

  const sdk = sdkCaller(id, loadSdk, spec.client, readOpenAIRefusal);

  const provider: Provider = {
    specificationVersion: "v1",
    defaultModel: spec.defaultModel,
    ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    ...(spec.connection ? { connection: spec.connection } : {}),
    ...(spec.userEndpoints ? { userEndpoints: spec.userEndpoints } : {}),
    ...(spec.pricing ? { pricing: spec.pricing } : {}),
    readRefusal: readOpenAIRefusal,

    async load(): Promise<void> {
      await loadSdk();
    },

    async validateKey(context): Promise<void> {
      await sdk.call(context, (c) => spec.validate(c, context.signal));
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
        usage: usageOf(completion.usage, statesCost),
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
          yield { type: "usage", usage: usageOf(usage, statesCost) };
        }
        const choice = chunk.choices?.[0];
        if (choice?.finish_reason) finish = choice.finish_reason;
        const text = choice?.delta?.content;
        if (text) yield { type: "text", text };
      }
      if (!finish) throw upstreamError(id, { type: "incomplete stream" });
      yield { type: "finish", model, finishReason: mapOpenAIFinishReason(finish), usage: usageOf(usage, statesCost) };
    },
  };
  if (spec.listsModels) {
    provider.listModels = async (context) =>
      // GET /models: every model the key can see (OpenAI's list has no capabilities to filter on).
      sdk.call(context, async (c) => {
        const out: ProviderModel[] = [];
        for await (const model of c.models.list({ signal: context.signal })) {
          const name = (model as { name?: unknown }).name; // OpenRouter names its models
          out.push({ id: model.id, ...(typeof name === "string" && name ? { displayName: name } : {}) });
          if (out.length >= MAX_LISTED_MODELS) break;
        }
        return out;
      });
  }
  return provider;
}

/**
 * The OpenAI provider, also used for every `"openai-compatible"` server. Every environment fallback
 * of the SDK is neutralised (see {@link clientOptions}); `OPENAI_BASE_URL` is never read.
 *
 * With `userEndpoints`, a key may carry its own endpoint (`registerKey({ endpoint })`): checked
 * against the allow-list at registration and on every call, and sent through a fetch that refuses
 * non-public addresses at connect time and never follows a redirect.
 */
export function createOpenAIProvider(settings: OpenAIProviderSettings = {}): Provider {
  const checked = checkSettings(settings, SETTING_RULES, "createOpenAIProvider");
  const id = checked.id ?? "openai";
  const baseURL =
    checked.userEndpoints && checked.baseUrl === undefined ? undefined : (checked.baseUrl ?? OPENAI_BASE_URL);
  const guard = checked.userEndpoints && endpointGuard(checked.userEndpoints, false);
  const auth = (apiKey: string) => ({ authorization: `Bearer ${apiKey}` });

  return chatCompletionsProvider({
    id,
    defaultModel: checked.defaultModel ?? OPENAI_DEFAULT_MODEL,
    ...(checked.timeoutMs !== undefined ? { timeoutMs: checked.timeoutMs } : {}),
    compatible: checked.compatible === true,
    // OpenAI's own models are in the price table; an OpenAI-compatible server's are priced by pricing.prices only.
    ...(checked.compatible === true ? {} : { pricing: { providerId: "openai" } }),
    client(openai, apiKey, endpoint) {
      if (endpoint === undefined) {
        if (baseURL === undefined)
          throw endpointError("is missing: this provider needs every key to carry one.", "missing");
        return new openai.OpenAI(clientOptions(apiKey, baseURL, auth(apiKey)));
      }
      if (!guard)
        throw endpointError("is not accepted by this provider; register the key again without one.", "not_accepted");
      return new openai.OpenAI(clientOptions(apiKey, apiRoot(guard.parse(endpoint)), auth(apiKey), guard.fetch));
    },
    // GET /models, first page only: free, and it needs a valid key.
    validate: (c, signal) => c.models.list({ signal }),
    listsModels: true,
    // The SDK's baseURL already ends in the version (/v1).
    ...(baseURL !== undefined ? { connection: { baseURL, auth: "bearer", ...OPENAI_METERING } } : {}),
    ...(guard
      ? {
          userEndpoints: {
            required: baseURL === undefined,
            check: guard.check,
            connection: (endpoint: string) => ({
              baseURL: apiRoot(guard.parse(endpoint)),
              auth: "bearer",
              fetch: guard.fetch,
              ...OPENAI_METERING,
            }),
          },
        }
      : {}),
  });
}

/** A parsed endpoint as an SDK `baseURL`: no trailing slash. */
const apiRoot = (url: URL): string => url.href.replace(/\/+$/, "");
