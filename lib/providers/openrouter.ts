// OpenRouter through the openai SDK: its OpenAI-compatible API, validated with its key-info endpoint (GET /key).
import { DEFAULT_TIMEOUT_MS } from "../core/context.js";
import type { Provider } from "../core/types.js";
import { API_KEY, invalid } from "../core/validate.js";
import { ByokError } from "../errors.js";
import { chatCompletionsProvider, clientOptions, openaiMetering } from "./openai.js";
import { upstreamError } from "./upstream-error.js";
import { checkSettings, type SettingRules } from "../core/option-checks.js";
import { providerSettingRules } from "../core/provider-settings.js";

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

/** The OpenRouter provider: a {@link Provider} that also says where its connect flow starts, and finishes it. */
export interface OpenRouterProvider extends Provider {
  /** OpenRouter's authorization page (`authUrl`), for the "Connect OpenRouter" flow. */
  readonly authUrl: string;
  /**
   * Exchanges the code OpenRouter's authorization page sent back for the user's key (PKCE, S256):
   * `POST {baseUrl}/auth/keys` with `{ code, code_verifier, code_challenge_method: "S256" }`, always to the
   * configured `baseUrl`, within `timeoutMs`. The router's connect callback calls it; the key it resolves to
   * is in no error, URL or log.
   * @param code - the `code` OpenRouter added to the callback URL
   * @param codeVerifier - the verifier whose S256 challenge started the flow
   * @param options - `signal` cancels the exchange
   * @returns the user's new OpenRouter key
   * @throws ByokError INVALID_REQUEST naming `code` when OpenRouter refuses the code (used, expired, another
   * verifier); PROVIDER_RATE_LIMITED, PROVIDER_TIMEOUT or PROVIDER_ERROR as for any call; the signal's reason
   * when `signal` fired
   */
  exchangeCode(code: string, codeVerifier: string, options?: { signal?: AbortSignal }): Promise<string>;
}

const BRAND = Symbol.for("byok-ai.OpenRouterProvider");
/** Longest exchange answer read: `{ key, user_id }` is far smaller. */
const MAX_EXCHANGE_ANSWER = 64 * 1024;

/**
 * True for a provider made by {@link createOpenRouterProvider} (from any copy of byok-ai): one that has
 * `authUrl` and `exchangeCode`, which the router's `connect: { openrouter }` option needs.
 */
export function isOpenRouterProvider(value: unknown): value is OpenRouterProvider {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** OpenRouter's public API root. */
export const OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1";
/** OpenRouter's authorization page (PKCE). */
export const OPENROUTER_AUTH_URL = "https://openrouter.ai/auth";
/** A small, cheap model every OpenRouter account can call; override with `defaultModel`. */
export const OPENROUTER_DEFAULT_MODEL = "openai/gpt-4o-mini";
const SETTING_RULES: SettingRules<OpenRouterProviderSettings> = providerSettingRules(
  "id",
  "baseUrl",
  "authUrl",
  "defaultModel",
  "timeoutMs",
);

/**
 * OpenRouter (one key for hundreds of models), over its OpenAI-compatible API through the openai
 * SDK: chat, stream with usage, models (with their names) and `ai.connection()`. A key is validated
 * with `GET {baseUrl}/key` (the key-info endpoint: it needs a valid key, and costs nothing), since
 * OpenRouter's model list answers without one.
 */
export function createOpenRouterProvider(settings: OpenRouterProviderSettings = {}): OpenRouterProvider {
  const checked = checkSettings(settings, SETTING_RULES, "createOpenRouterProvider");
  const id = checked.id ?? "openrouter";
  const baseURL = checked.baseUrl ?? OPENROUTER_BASE_URL;
  const provider = chatCompletionsProvider({
    id,
    defaultModel: checked.defaultModel ?? OPENROUTER_DEFAULT_MODEL,
    ...(checked.timeoutMs !== undefined ? { timeoutMs: checked.timeoutMs } : {}),
    compatible: true,
    client: (openai, apiKey) =>
      new openai.OpenAI(clientOptions(apiKey, baseURL, { authorization: `Bearer ${apiKey}` })),
    validate: (c, signal) => c.get("/key", { signal }),
    listsModels: true,
    // Its usage states what the call cost the key (credits are US dollars), which wins over any price; the price
    // table has its models too, for answers that do not state it.
    statesCost: true,
    pricing: { providerId: "openrouter" },
    connection: { baseURL, auth: "bearer", ...openaiMetering(true) },
  });
  const timeoutMs = checked.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const exchangeCode: OpenRouterProvider["exchangeCode"] = (code, codeVerifier, options = {}) =>
    exchange(id, `${baseURL}/auth/keys`, timeoutMs, { code, codeVerifier, signal: options.signal });
  const connectable = Object.assign(provider, { authUrl: checked.authUrl ?? OPENROUTER_AUTH_URL, exchangeCode });
  Object.defineProperty(connectable, BRAND, { value: true });
  return connectable;
}

/** The code exchange of {@link OpenRouterProvider.exchangeCode}: no redirects followed, nothing of the answer in errors. */
async function exchange(
  id: string,
  url: string,
  timeoutMs: number,
  input: { code: string; codeVerifier: string; signal: AbortSignal | undefined },
): Promise<string> {
  const { code, codeVerifier, signal } = input;
  if (typeof code !== "string" || code.length === 0 || code.length > 1024) throw refusedCode();
  const timer = AbortSignal.timeout(timeoutMs);
  let answer: Response;
  let text: string;
  try {
    answer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ code, code_verifier: codeVerifier, code_challenge_method: "S256" }),
      redirect: "error",
      signal: signal ? AbortSignal.any([signal, timer]) : timer,
    });
    text = (await answer.text()).slice(0, MAX_EXCHANGE_ANSWER);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timer.aborted)
      throw new ByokError(
        "PROVIDER_TIMEOUT",
        `The ${id} provider did not exchange the code within ${timeoutMs} ms; try again.`,
        {
          provider: id,
        },
      );
    throw upstreamError(id, { type: error instanceof Error ? error.name : undefined });
  }
  // 400: a code unknown, used or expired; 401/403: a verifier that is not this code's. Either way, start again.
  if ([400, 401, 403].includes(answer.status)) throw refusedCode();
  if (!answer.ok) throw upstreamError(id, { status: answer.status, retryAfter: answer.headers.get("retry-after") });
  let key: unknown;
  try {
    key = (JSON.parse(text) as { key?: unknown } | null)?.key;
  } catch {
    // not JSON: below
  }
  if (typeof key !== "string" || !API_KEY.test(key))
    throw new ByokError(
      "PROVIDER_ERROR",
      `The ${id} provider answered the code exchange without a usable key; try again.`,
      {
        provider: id,
      },
    );
  return key;
}

const refusedCode = () =>
  invalid(
    "OpenRouter refused the authorization code (unknown, already used, expired, or from another flow); start connecting again.",
    ["code"],
  );
