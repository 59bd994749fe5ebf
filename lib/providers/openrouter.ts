// OpenRouter through the openai SDK: its OpenAI-compatible API, validated with its key-info endpoint (GET /key).
import type { Provider } from "../core/types.js";
import { chatCompletionsProvider, clientOptions } from "./openai.js";

/** Settings of the OpenRouter provider (server configuration only). */
export interface OpenRouterProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"openrouter"`. */
  id?: string;
  /** API root, as the SDK's `baseURL`. Defaults to `https://openrouter.ai/api/v1`; the code exchange goes to `{baseUrl}/auth/keys`. */
  baseUrl?: string;
  /** OpenRouter's authorization page, where the connect flow sends the user. Defaults to `https://openrouter.ai/auth`. */
  authUrl?: string;
  /** An OpenRouter model id. Defaults to `"openai/gpt-4o-mini"`. */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
}

/** The OpenRouter provider: a {@link Provider} that also says where its connect flow starts. */
export interface OpenRouterProvider extends Provider {
  /** OpenRouter's authorization page (`authUrl`), for the "Connect OpenRouter" flow. */
  readonly authUrl: string;
}

/** OpenRouter's public API root. */
export const OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1";
/** OpenRouter's authorization page (PKCE). */
export const OPENROUTER_AUTH_URL = "https://openrouter.ai/auth";
/** A small, cheap model every OpenRouter account can call; override with `defaultModel`. */
export const OPENROUTER_DEFAULT_MODEL = "openai/gpt-4o-mini";

/**
 * OpenRouter (one key for hundreds of models), over its OpenAI-compatible API through the openai
 * SDK: chat, stream with usage, models (with their names) and `ai.connection()`. A key is validated
 * with `GET {baseUrl}/key` (the key-info endpoint: it needs a valid key, and costs nothing), since
 * OpenRouter's model list answers without one.
 */
export function createOpenRouterProvider(settings: OpenRouterProviderSettings = {}): OpenRouterProvider {
  const baseURL = settings.baseUrl ?? OPENROUTER_BASE_URL;
  const provider = chatCompletionsProvider({
    id: settings.id ?? "openrouter",
    defaultModel: settings.defaultModel ?? OPENROUTER_DEFAULT_MODEL,
    ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
    compatible: true,
    client: (openai, apiKey) =>
      new openai.OpenAI(clientOptions(apiKey, baseURL, { authorization: `Bearer ${apiKey}` })),
    validate: (c, signal) => c.get("/key", { signal }),
    listsModels: true,
    connection: { baseURL, auth: "bearer" },
  });
  return Object.assign(provider, { authUrl: settings.authUrl ?? OPENROUTER_AUTH_URL });
}
