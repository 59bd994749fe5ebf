// Azure OpenAI through the openai SDK's AzureOpenAI client: each key carries its resource endpoint; the model is the deployment name.
import type { Provider } from "../core/types.js";
import { chatCompletionsProvider, clientOptions } from "./openai.js";
import {
  checkUserEndpointSettings,
  endpointError,
  endpointGuard,
  type UserEndpointSettings,
} from "./user-endpoints.js";
import { checkSettings, configError, type SettingRules } from "../core/option-checks.js";
import { providerSettingRules } from "../core/provider-settings.js";

/** Settings of the Azure OpenAI provider (server configuration only). */
export interface AzureOpenAIProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"azure-openai"`. */
  id?: string;
  /** The deployment used when a request names no model. Defaults to `"gpt-4o-mini"` (a deployment named after its model). */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
  /** The data-plane API version sent as `api-version`. Defaults to {@link AZURE_OPENAI_API_VERSION}. */
  apiVersion?: string;
  /**
   * Which resource endpoints keys may carry. `hosts` defaults to `*.openai.azure.com` and
   * `*.cognitiveservices.azure.com`; https and public addresses only unless `allowPrivateNetwork`.
   */
  userEndpoints?: UserEndpointSettings;
}

/** The latest generally available Azure OpenAI data-plane API version (chat completions, streaming usage, models). */
export const AZURE_OPENAI_API_VERSION = "2024-10-21";
/** The hosts of Azure OpenAI resource endpoints. */
export const AZURE_OPENAI_HOSTS: readonly string[] = ["*.openai.azure.com", "*.cognitiveservices.azure.com"];
const SETTING_RULES: SettingRules<AzureOpenAIProviderSettings> = {
  ...providerSettingRules("id", "defaultModel", "timeoutMs"),
  apiVersion(value, label) {
    if (typeof value !== "string" || !/^[A-Za-z0-9.-]{1,32}$/.test(value))
      throw configError(`${label} must be an Azure OpenAI API version such as "${AZURE_OPENAI_API_VERSION}".`);
    return value;
  },
  userEndpoints: checkUserEndpointSettings,
};

/**
 * Azure OpenAI. A key belongs to one resource, so every key registers with its `endpoint`
 * (`https://<resource>.openai.azure.com` or `.cognitiveservices.azure.com`), bound to it in the
 * encrypted record; `KeyInfo.endpoint` shows its host. The request's `model` is the deployment
 * name. A key is validated with `GET {endpoint}/openai/models` (needs a valid key, generates
 * nothing). No `listModels` (that list has the resource's base models, not its deployments), and no
 * `ai.connection()` (Azure takes the key in an `api-key` header).
 */
export function createAzureOpenAIProvider(settings: AzureOpenAIProviderSettings = {}): Provider {
  const checked = checkSettings(settings, SETTING_RULES, "createAzureOpenAIProvider");
  const apiVersion = checked.apiVersion ?? AZURE_OPENAI_API_VERSION;
  const guard = endpointGuard({ hosts: [...AZURE_OPENAI_HOSTS], ...checked.userEndpoints }, true);
  return chatCompletionsProvider({
    id: checked.id ?? "azure-openai",
    defaultModel: checked.defaultModel ?? "gpt-4o-mini",
    ...(checked.timeoutMs !== undefined ? { timeoutMs: checked.timeoutMs } : {}),
    compatible: false,
    client(openai, apiKey, endpoint) {
      if (endpoint === undefined)
        throw endpointError("is missing: an Azure OpenAI key needs its resource endpoint.", "missing");
      // baseURL rather than `endpoint`, so AZURE_OPENAI_ENDPOINT and OPENAI_BASE_URL are never read.
      const baseURL = `${guard.parse(endpoint).origin}/openai`;
      return new openai.AzureOpenAI({
        ...clientOptions(apiKey, baseURL, { "api-key": apiKey }, guard.fetch),
        apiVersion,
      });
    },
    validate: (c, signal) => c.models.list({ signal }),
    listsModels: false,
    userEndpoints: { required: true, check: guard.check },
    // Azure answers name the deployment's model (e.g. "gpt-4o-mini-2024-07-18"), which the table prices; a
    // deployment whose answers do not is priced with pricing.prices ("azure-openai:<deployment>").
    pricing: { providerId: "azure" },
  });
}
