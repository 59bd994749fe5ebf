// Anthropic through the official @anthropic-ai/sdk (an optional peer): validation, chat, stream, and error mapping.
import type * as AnthropicSdk from "@anthropic-ai/sdk";
import type { MessageCreateParamsBase } from "@anthropic-ai/sdk/resources/messages/messages";
import { MAX_LISTED_MODELS } from "../core/models.js";
import type {
  FinishReason,
  KeyVerdict,
  Provider,
  ProviderChatRequest,
  ProviderChatResult,
  ProviderModel,
  ProviderRefusal,
  Usage,
} from "../core/types.js";
import { upstreamError } from "./upstream-error.js";
import { lazyPeer } from "../core/optional-peer.js";
import { requestReader, stated, usageReader } from "./usage-fields.js";
import { cancelEnvHeaders, errorObjectOf, SDK_MAX_RETRIES, SDK_TIMEOUT_MS, sdkCaller } from "./stainless.js";
import { checkSettings, type SettingRules } from "../core/option-checks.js";
import { providerSettingRules } from "../core/provider-settings.js";

/** Settings of the Anthropic provider (server configuration only). */
export interface AnthropicProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"anthropic"`. */
  id?: string;
  /** API root without the version path: the SDK appends `/v1/messages`. Defaults to `https://api.anthropic.com` (never `ANTHROPIC_BASE_URL`). */
  baseUrl?: string;
  /** Defaults to `"claude-haiku-4-5"`. */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
}

/** Anthropic's current small, fast model (an alias that follows its latest snapshot); override with `defaultModel`. */
export const ANTHROPIC_DEFAULT_MODEL = "claude-haiku-4-5";
/** Anthropic requires `max_tokens`; this is sent when the request sets no `maxTokens`. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;
const ANTHROPIC_BASE_URL = "https://api.anthropic.com";
const SETTING_RULES: SettingRules<AnthropicProviderSettings> = providerSettingRules(
  "id",
  "baseUrl",
  "defaultModel",
  "timeoutMs",
);

/** Anthropic's stop reasons → the contract's four. */
export function mapAnthropicStopReason(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "max_tokens":
      return "length";
    case "refusal":
      return "content_filter";
    default:
      return "other";
  }
}

type Sdk = typeof AnthropicSdk;
/** The npm package the provider runs on (an optional peer of byok-ai). */
export const ANTHROPIC_SDK = "@anthropic-ai/sdk";
const loadSdk = lazyPeer<Sdk>(ANTHROPIC_SDK, "The anthropic provider");

/** Anthropic's 400 answers that mean the credit or the spend limit is used up. */
const OUT_OF_CREDIT = /credit balance is too low|reached your specified (?:workspace )?API usage limits/i;

/**
 * What an Anthropic refusal says about the key beyond its status (see `Provider.readRefusal`), from
 * its documented error bodies: `billing_error` (402), the 400 `invalid_request_error` "credit balance
 * is too low" and spend-limit answers, and the 429 whose `details.error_code` is
 * `enforced_spend_limit_reached` are `"quota_exhausted"`. Only types, codes and that one message are read.
 */
export function readAnthropicRefusal({ status, body }: ProviderRefusal): KeyVerdict | undefined {
  const error = errorObjectOf(body);
  if (!error) return undefined;
  const { type, details, message } = error;
  const quota =
    type === "billing_error" ||
    (typeof details === "object" &&
      details !== null &&
      (details as { error_code?: unknown }).error_code === "enforced_spend_limit_reached") ||
    (type === "invalid_request_error" && status === 400 && typeof message === "string" && OUT_OF_CREDIT.test(message));
  return quota ? { status: "quota_exhausted" } : undefined;
}

/**
 * How Anthropic's HTTP API meters through `ai.connection()`: usage in `usage` (in a stream,
 * `message_start`'s `message.usage` states the input, `message_delta`'s `usage` the output), the
 * model in `model`, the output limit in `max_tokens`.
 */
const ANTHROPIC_METERING = {
  readUsage: usageReader({
    holders: (body) => [body, body.message],
    field: "usage",
    counts(usage, before) {
      // A stream's message_delta may restate some fields only: the others stand as message_start stated them.
      const read = count(usage.cache_read_input_tokens) ?? before?.cachedInputTokens;
      const written = count(usage.cache_creation_input_tokens) ?? before?.cacheWriteTokens;
      const uncached =
        count(usage.input_tokens) ??
        (before ? before.inputTokens - (before.cachedInputTokens ?? 0) - (before.cacheWriteTokens ?? 0) : undefined);
      const anyInput = [read, written, uncached].some((n) => n !== undefined);
      return stated({
        inputTokens: anyInput ? (uncached ?? 0) + (read ?? 0) + (written ?? 0) : undefined,
        outputTokens: count(usage.output_tokens),
        cachedInputTokens: read,
        cacheWriteTokens: written,
      });
    },
  }),
  readRequest: requestReader(["max_tokens"]),
};

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

type RawUsage = {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
};

/**
 * Anthropic counts cache reads and writes apart from `input_tokens`; they are input the key pays for (at their own
 * prices), so they are added into `inputTokens` and stated as its parts. Reasoning (extended thinking) is billed as
 * output and not counted apart in Anthropic's usage.
 */
function usageOf(u: RawUsage | undefined): Usage {
  const read = u?.cache_read_input_tokens ?? undefined;
  const written = u?.cache_creation_input_tokens ?? undefined;
  const inputTokens = (u?.input_tokens ?? 0) + (written ?? 0) + (read ?? 0);
  const outputTokens = u?.output_tokens ?? 0;
  return {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    ...(read === undefined ? {} : { cachedInputTokens: read }),
    ...(written === undefined ? {} : { cacheWriteTokens: written }),
  };
}

/**
 * The Anthropic provider. The SDK is loaded on the first call, not when the provider is created.
 * Each call builds its own SDK client around the user's key (about 12 µs, measured), so a key never
 * outlives its call. Environment fallbacks are neutralised: `apiKey`, `baseURL`, `authToken: null`
 * and `webhookKey: null` are always passed (so `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`,
 * `ANTHROPIC_BASE_URL`, profiles and the credential chain are never read), `ANTHROPIC_CUSTOM_HEADERS`
 * is cancelled, `ANTHROPIC_LOG` and the `ANTHROPIC_OPEN_TELEMETRY*` variables are overridden.
 */
export function createAnthropicProvider(settings: AnthropicProviderSettings = {}): Provider {
  const checked = checkSettings(settings, SETTING_RULES, "createAnthropicProvider");
  const id = checked.id ?? "anthropic";
  const baseURL = checked.baseUrl ?? ANTHROPIC_BASE_URL;
  const defaultModel = checked.defaultModel ?? ANTHROPIC_DEFAULT_MODEL;

  const client = (anthropic: Sdk, apiKey: string) =>
    new anthropic.Anthropic({
      apiKey,
      baseURL,
      authToken: null,
      webhookKey: null,
      maxRetries: SDK_MAX_RETRIES,
      timeout: SDK_TIMEOUT_MS,
      logLevel: "off",
      openTelemetry: false,
      defaultHeaders: cancelEnvHeaders("ANTHROPIC_CUSTOM_HEADERS", {
        authorization: `Bearer ${apiKey}`,
        "x-api-key": apiKey,
      }),
    });

  // Messages pass through as given: Anthropic itself answers a bad turn order with a 400.
  const body = (request: ProviderChatRequest): MessageCreateParamsBase => {
    const out: MessageCreateParamsBase = {
      model: request.model,
      max_tokens: request.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
    };
    if (request.system) out.system = request.system;
    // The SDK's types dropped `temperature` (deprecated upstream); sent as given, a model that refuses it answers 400.
    if (request.temperature !== undefined) Object.assign(out, { temperature: request.temperature });
    return out;
  };

  const sdk = sdkCaller(id, loadSdk, client, readAnthropicRefusal);

  return {
    specificationVersion: "v1",
    defaultModel,
    ...(checked.timeoutMs !== undefined ? { timeoutMs: checked.timeoutMs } : {}),
    connection: { baseURL: `${baseURL.replace(/\/+$/, "")}/v1`, auth: "x-api-key", ...ANTHROPIC_METERING },
    pricing: { providerId: "anthropic" },
    readRefusal: readAnthropicRefusal,

    async load(): Promise<void> {
      await loadSdk();
    },

    async validateKey(context): Promise<void> {
      // GET /v1/models?limit=1: free, and it needs a valid key.
      await sdk.call(context, (c) => c.models.list({ limit: 1 }, { signal: context.signal }));
    },

    async listModels(context): Promise<ProviderModel[]> {
      return sdk.call(context, async (c) => {
        const out: ProviderModel[] = [];
        for await (const model of c.models.list({ limit: 1000 }, { signal: context.signal })) {
          out.push({ id: model.id, ...(model.display_name ? { displayName: model.display_name } : {}) });
          if (out.length >= MAX_LISTED_MODELS) break;
        }
        return out;
      });
    },

    async doChat(request, context): Promise<ProviderChatResult> {
      const message = await sdk.call(context, (c) =>
        c.messages.create({ ...body(request), stream: false }, { signal: context.signal }),
      );
      if (typeof message !== "object" || message === null || !Array.isArray(message.content))
        throw upstreamError(id, { type: "malformed reply" });
      const text = message.content.map((block) => (block.type === "text" ? block.text : "")).join("");
      return {
        text,
        model: message.model || request.model,
        finishReason: mapAnthropicStopReason(message.stop_reason),
        usage: usageOf(message.usage),
      };
    },

    async *doStream(request, context) {
      let stop: string | null | undefined;
      let usage: RawUsage = {};
      let model = request.model;
      for await (const event of sdk.events(context, (c) =>
        c.messages.create({ ...body(request), stream: true }, { signal: context.signal }),
      )) {
        if (event.type === "message_start") {
          if (event.message.model) model = event.message.model;
          usage = { ...event.message.usage };
          yield { type: "usage", usage: usageOf(usage) }; // input tokens are charged from here on
        } else if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
          if (event.delta.text) yield { type: "text", text: event.delta.text };
        } else if (event.type === "message_delta") {
          stop = event.delta.stop_reason ?? stop;
          // Counts in message_delta are cumulative; input counts appear here on some servers only.
          for (const [k, v] of Object.entries(event.usage ?? {}))
            if (typeof v === "number") (usage as Record<string, number>)[k] = v;
          yield { type: "usage", usage: usageOf(usage) };
        }
      }
      if (!stop) throw upstreamError(id, { type: "incomplete stream" });
      yield { type: "finish", model, finishReason: mapAnthropicStopReason(stop), usage: usageOf(usage) };
    },
  };
}
