// The built-in provider kinds, listed once: how each is built, the SDK it runs on, the settings it takes.
import type { KindOptions } from "../core/options.js";
import type { Provider } from "../core/types.js";
import { configError } from "../core/option-checks.js";
import { isPeerInstalled } from "../core/optional-peer.js";
import { ANTHROPIC_SDK, createAnthropicProvider } from "./anthropic.js";
import { createAzureOpenAIProvider } from "./azure-openai.js";
import { BEDROCK_SDK, createBedrockProvider } from "./bedrock.js";
import { createGeminiProvider, GEMINI_SDK } from "./gemini.js";
import { createOpenAIProvider, OPENAI_SDK } from "./openai.js";
import { createOpenRouterProvider } from "./openrouter.js";
import { createVertexProvider, VERTEX_SDK } from "./vertex.js";

/**
 * Every kind a provider's settings may name (`ProviderOptions.kind`). Those `byDefault` are
 * configured under their kind's name when their SDK is installed, in this order, the first one
 * being the default provider. A new built-in is its module, its fake in `lib/testing`, and one line here.
 */
export const PROVIDER_KINDS = {
  gemini: {
    create: (id: string, o: KindOptions): Provider => createGeminiProvider({ id, ...o }),
    sdk: GEMINI_SDK,
    byDefault: true,
    settings: { baseUrl: true },
  },
  openai: {
    create: (id: string, o: KindOptions): Provider => createOpenAIProvider({ id, ...o }),
    sdk: OPENAI_SDK,
    byDefault: true,
    settings: { baseUrl: true },
  },
  anthropic: {
    create: (id: string, o: KindOptions): Provider => createAnthropicProvider({ id, ...o }),
    sdk: ANTHROPIC_SDK,
    byDefault: true,
    settings: { baseUrl: true },
  },
  bedrock: {
    create: (id: string, o: KindOptions): Provider => createBedrockProvider({ id, ...o }),
    sdk: BEDROCK_SDK,
    byDefault: true,
    settings: { baseUrl: true },
  },
  vertex: {
    create: (id: string, o: KindOptions): Provider => createVertexProvider({ id, ...o }),
    sdk: VERTEX_SDK,
    byDefault: true,
    settings: { baseUrl: true, authUrl: true },
  },
  openrouter: {
    create: (id: string, o: KindOptions): Provider => createOpenRouterProvider({ id, ...o }),
    sdk: OPENAI_SDK,
    byDefault: true,
    settings: { baseUrl: true, authUrl: true },
  },
  "azure-openai": {
    create: (id: string, o: KindOptions): Provider => createAzureOpenAIProvider({ id, ...o }),
    sdk: OPENAI_SDK,
    byDefault: true,
    settings: {
      baseUrl: 'an "azure-openai" key carries its own endpoint; to allow other hosts, set userEndpoints.hosts.',
      userEndpoints: true,
    },
  },
  "openai-compatible": {
    create: (id: string, o: KindOptions): Provider => createOpenAIProvider({ id, ...o, compatible: true }),
    sdk: OPENAI_SDK,
    byDefault: false,
    settings: { baseUrl: true, userEndpoints: true },
    check(id: string, o: KindOptions): void {
      if ((o.baseUrl === undefined && o.userEndpoints === undefined) || o.defaultModel === undefined)
        throw configError(
          `providers.${id}: kind "openai-compatible" needs defaultModel, and baseUrl unless keys bring their own endpoint (userEndpoints), e.g. { kind: "openai-compatible", baseUrl: "https://api.groq.com/openai/v1", defaultModel: "llama-3.1-8b-instant" }.`,
        );
    },
  },
} as const;

/** A kind of built-in provider (`ProviderOptions.kind`). */
export type ProviderKindName = keyof typeof PROVIDER_KINDS;

/** The ids of the providers configured by default. */
export type BuiltInProviderId = {
  [K in ProviderKindName]: (typeof PROVIDER_KINDS)[K]["byDefault"] extends true ? K : never;
}[ProviderKindName];

/** The ids of the providers configured by default, in order. */
export const BUILT_IN_PROVIDERS = (Object.keys(PROVIDER_KINDS) as ProviderKindName[]).filter(
  (kind): kind is BuiltInProviderId => PROVIDER_KINDS[kind].byDefault,
);

/**
 * Whether the SDK (an optional peer) that built-in `id` runs on is installed, which is when a BYOK offers that
 * built-in by default. Loads nothing.
 */
export function isBuiltInInstalled(id: BuiltInProviderId): boolean {
  return isPeerInstalled(PROVIDER_KINDS[id].sdk);
}
