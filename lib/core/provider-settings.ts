// One rule per provider setting, shared by `new BYOK({ providers: {…} })` (options.ts) and every create*Provider factory.
import {
  checkBaseUrl,
  checkBoolean,
  checkDuration,
  checkSettings,
  configError,
  type SettingRules,
} from "./option-checks.js";
import type { UserEndpointOptions } from "./types.js";
import { PROVIDER_ID } from "./validate.js";

/** Longest upstream time limit a provider may have. */
export const MAX_TIMEOUT_MS = 10 * 60_000;
const MAX_HOSTS = 100;

/** The settings that several providers take, each with the same meaning. */
interface CommonProviderSettings {
  id?: string;
  baseUrl?: string;
  authUrl?: string;
  defaultModel?: string;
  timeoutMs?: number;
}

/** The rule of each common setting; a factory picks those it takes, `providers: {…}` all of them. */
export const PROVIDER_SETTING_RULES: SettingRules<CommonProviderSettings> = {
  id(value, label) {
    if (typeof value !== "string" || !PROVIDER_ID.test(value))
      throw configError(
        `${label} must be a provider id (lower-case letter first, then a-z, 0-9, "-" or "_", at most 32 characters).`,
      );
    return value;
  },
  baseUrl: checkBaseUrl,
  authUrl: checkBaseUrl,
  defaultModel(value, label) {
    if (typeof value !== "string" || value.length === 0)
      throw configError(`${label} must be a non-empty string, e.g. a model name.`);
    return value;
  },
  timeoutMs: (value, label) => checkDuration(value, label, MAX_TIMEOUT_MS),
};

/** The common rules named, for a factory that takes those settings. */
export function providerSettingRules<K extends keyof CommonProviderSettings>(
  ...names: K[]
): SettingRules<Pick<CommonProviderSettings, K>> {
  return Object.fromEntries(names.map((name) => [name, PROVIDER_SETTING_RULES[name]])) as SettingRules<
    Pick<CommonProviderSettings, K>
  >;
}

/** One `userEndpoints.hosts` entry: a host name (or IP) as a URL would show it, optionally `*.` + a host name. */
function checkHostPattern(value: unknown, label: string): string {
  const host = typeof value === "string" ? value.toLowerCase() : "";
  const name = host.startsWith("*.") ? host.slice(2) : host;
  let parsed: string | undefined;
  try {
    parsed = new URL(`https://${name}/`).hostname;
  } catch {
    parsed = undefined;
  }
  if (!name || parsed !== name || name.endsWith(".") || name.includes("*"))
    throw configError(
      `${label} must be a host name such as "llm.example.com" or "*.example.com" (no scheme, port, path or trailing dot; IPv6 in brackets).`,
    );
  return host;
}

/** The rules of {@link UserEndpointOptions}; a factory adds its own (a resolver) to them. */
export const USER_ENDPOINT_RULES: SettingRules<UserEndpointOptions> = {
  hosts(value, label) {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_HOSTS)
      throw configError(`${label} must be an array of 1 to ${MAX_HOSTS} host names, e.g. ["llm.example.com"].`);
    return Object.freeze(value.map((h, i) => checkHostPattern(h, `${label}[${i}]`))) as string[];
  },
  allowPrivateNetwork: checkBoolean,
};

/** Checks `userEndpoints` with `rules` ({@link USER_ENDPOINT_RULES} or more), and that the private network goes with named hosts. */
export function checkUserEndpoints<T extends UserEndpointOptions>(
  value: unknown,
  label: string,
  rules: SettingRules<T>,
): Readonly<Partial<T>> {
  const out = checkSettings(value, rules, label);
  // Any host on the server's own network is what SSRF is: only with the hosts named.
  if (out.allowPrivateNetwork && out.hosts === undefined)
    throw configError(
      `${label}: allowPrivateNetwork needs hosts, the host names keys may point at (e.g. ["ollama.internal"]).`,
    );
  return out;
}
