// Reads the example's own settings from the environment (byok-ai itself never reads env vars).
/** The provider ids the example offers, and the env var that points each at a real API. */
export const PROVIDER_ENV = Object.freeze({
  gemini: "GEMINI_BASE_URL",
  openai: "OPENAI_BASE_URL",
  anthropic: "ANTHROPIC_BASE_URL",
  openrouter: "OPENROUTER_BASE_URL",
});

/**
 * Turns `process.env` into createExampleApp options. Empty strings count as unset.
 * @param {NodeJS.ProcessEnv} env
 */
export function optionsFromEnv(env = process.env) {
  const get = (name) => (env[name] && env[name].trim()) || undefined;
  const baseUrls = {};
  for (const [provider, name] of Object.entries(PROVIDER_ENV)) baseUrls[provider] = get(name);
  return {
    port: Number(get("PORT") ?? 3000),
    production: env.NODE_ENV === "production",
    masterKey: get("BYOK_MASTER_KEY"),
    sessionSecret: get("SESSION_SECRET"),
    redisUrl: get("REDIS_URL"),
    baseUrls,
  };
}
