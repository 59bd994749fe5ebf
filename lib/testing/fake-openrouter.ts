// The OpenRouter API for the fake upstream: OpenAI's protocol under /api/v1, its key-info endpoint, and its PKCE authorization (page and code exchange).
import { createHash, randomBytes } from "node:crypto";
import {
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  retryAfterHeader,
  startFakeUpstream,
} from "./fake-upstream.js";
import { chatCompletionsProtocol, openaiProtocol, openaiUsage } from "./fake-openai.js";

/** A running fake OpenRouter: the API, plus its authorization page and code exchange. */
export interface FakeOpenRouter extends FakeUpstream {
  /** The fake's authorization page, for the provider's `authUrl` option. */
  readonly authUrl: string;
  /**
   * Issues a one-time authorization code for an S256 `codeChallenge`, as OpenRouter does once the user
   * approves: `POST {url}/api/v1/auth/keys` with `{ code, code_verifier, code_challenge_method: "S256" }`
   * then answers `{ key }` for the verifier whose challenge it is, once.
   * @param key - the key the exchange hands out; defaults to a new random `sk-or-v1-…` key
   */
  mintCode(codeChallenge: string, key?: string): string;
}

const error = (status: number, message: string) => ({ status, body: { error: { code: status, message } } });
const s256 = (verifier: string) => createHash("sha256").update(verifier).digest("base64url");
const API = /^\/api\/v1(?=\/)/;

/**
 * Starts a fake OpenRouter on 127.0.0.1. Point the provider at it with
 * `providers: { openrouter: { baseUrl: fake.url + "/api/v1", authUrl: fake.authUrl } }` (the `/api/v1` prefix
 * is optional, as OpenAI's `/v1` is in its fake). `GET /key` validates a key (keys starting with `bad` or
 * `invalid` get a 401), `GET /models` names its models, chat and streams answer as OpenAI's fake does.
 *
 * The PKCE flow: `GET {authUrl}?callback_url=…&code_challenge=…&code_challenge_method=S256` plays the
 * user approving at once (a 302 to `callback_url` with `?code=`), and `POST /api/v1/auth/keys` exchanges
 * a code for its key once, for the right `code_verifier` only. Tests can also {@link FakeOpenRouter.mintCode}.
 *
 * @example
 * ```ts
 * const fake = await startFakeOpenRouter();
 * const byok = new BYOK({ masterKey, providers: { openrouter: { baseUrl: `${fake.url}/api/v1` } } });
 * ```
 */
export async function startFakeOpenRouter(options?: FakeUpstreamOptions): Promise<FakeOpenRouter> {
  const codes = new Map<string, { challenge: string; key: string }>();
  const mintCode = (challenge: string, key = `sk-or-v1-${randomBytes(24).toString("hex")}`) => {
    const code = randomBytes(16).toString("base64url");
    codes.set(code, { challenge, key });
    return code;
  };

  // OpenRouter's usage also states cache writes and the call's cost in credits (US dollars), when the reply sets them.
  const withCost = chatCompletionsProtocol((r) => {
    const usage: Record<string, unknown> = openaiUsage(r);
    const { cacheWriteTokens, costUsd } = r.usage;
    if (cacheWriteTokens !== undefined)
      usage.prompt_tokens_details = {
        ...(usage.prompt_tokens_details as object | undefined),
        cache_write_tokens: cacheWriteTokens,
      };
    if (costUsd !== undefined) usage.cost = costUsd;
    return usage;
  });
  const protocol: FakeProtocol = {
    ...withCost,
    route(method, url, body) {
      const path = url.pathname.replace(API, "").replace(/\/$/, "");
      if (method === "GET" && path === "/key") return { op: "validate", model: "" };
      return openaiProtocol.route(method, new URL(path + url.search, url), body);
    },
    keyless(method, url, body) {
      const path = url.pathname.replace(/\/$/, "");
      if (method === "GET" && path === "/auth") {
        const callback = url.searchParams.get("callback_url");
        const challenge = url.searchParams.get("code_challenge");
        if (!callback || !challenge || url.searchParams.get("code_challenge_method") !== "S256")
          return error(400, "callback_url, code_challenge and code_challenge_method=S256 are required");
        const target = new URL(callback);
        target.searchParams.set("code", mintCode(challenge));
        return { status: 302, location: target.href };
      }
      if (method !== "POST" || path.replace(API, "") !== "/auth/keys") return undefined;
      const {
        code,
        code_verifier: verifier,
        code_challenge_method: challengeMethod,
      } = (body ?? {}) as Record<string, unknown>;
      const issued = typeof code === "string" ? codes.get(code) : undefined;
      if (!issued) return error(400, "Invalid code");
      codes.delete(code as string); // one use, whatever the outcome
      if (challengeMethod !== "S256" || typeof verifier !== "string" || s256(verifier) !== issued.challenge)
        return error(403, "Invalid code_verifier or code_challenge_method");
      return { status: 200, body: { key: issued.key, user_id: "user_fake" } };
    },
    rejectedKey: () => error(401, "User not found."),
    // Out of credit is a 402; a rate limit a 429 (with retry-after when given).
    refusal: (kind, retryAfter) =>
      kind === "quota"
        ? error(402, "Insufficient credits. Add more using https://openrouter.ai/credits")
        : {
            ...error(429, "Rate limit exceeded: free-models-per-min."),
            headers: retryAfterHeader(retryAfter),
          },
    errorBody: (status, message) => ({ error: { code: status, message } }),
    validateBody: (model, url) =>
      url.pathname.endsWith("/key")
        ? { data: { label: "sk-or-v1-fak...ekey", limit: null, usage: 0, is_free_tier: false } }
        : {
            data: [
              { id: "openai/gpt-4o-mini", name: "OpenAI: GPT-4o-mini", context_length: 128000 },
              { id: "anthropic/claude-3.5-haiku", name: "Anthropic: Claude 3.5 Haiku", context_length: 200000 },
            ],
          },
  };
  const fake = await startFakeUpstream(protocol, options);
  return Object.assign(fake, { authUrl: `${fake.url}/auth`, mintCode });
}
