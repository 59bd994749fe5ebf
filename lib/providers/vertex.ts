// Gemini on Vertex AI through @google/genai (vertexai: true), with OAuth access tokens minted from a user's service account key.
import type * as GenAiSdk from "@google/genai";
import { createHmac, createPrivateKey, createSign, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { ByokError } from "../errors.js";
import { lazyPeer } from "../core/optional-peer.js";
import { checkSettings, type SettingRules } from "../core/option-checks.js";
import { providerSettingRules } from "../core/provider-settings.js";
import type {
  Credential,
  KeyVerdict,
  Provider,
  ProviderCallContext,
  ProviderCredentialSpec,
  ProviderRefusal,
} from "../core/types.js";
import { invalid, isPlainObject } from "../core/validate.js";
import { callFetch, GEMINI_SDK, geminiCalls, type GeminiClient } from "./gemini.js";
import { parseGeminiErrorBody, readGeminiError } from "./gemini-error.js";
import { parseRetryAfter } from "../core/key-verdict.js";
import { cleanUpstreamMessage, nonEmptyString as str, upstreamError } from "./upstream-error.js";

/** Settings of the Vertex AI provider (server configuration only). */
export interface VertexProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"vertex"`. */
  id?: string;
  /**
   * Sends every Vertex AI call here instead of the location's endpoint: for tests and private endpoints.
   * Defaults to `https://<location>-aiplatform.googleapis.com` (`https://aiplatform.googleapis.com` for
   * `"global"`). Never `GOOGLE_VERTEX_BASE_URL`, nor anything in a credential.
   */
  baseUrl?: string;
  /**
   * Google's OAuth token endpoint, where service-account assertions are traded for access tokens: for tests.
   * Defaults to `https://oauth2.googleapis.com/token`. A key file's own `token_uri` is never used.
   */
  authUrl?: string;
  /** Defaults to `"gemini-2.5-flash"`. */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
}

/** The npm package the Vertex AI provider runs on (the Gemini SDK, an optional peer of byok-ai). */
export const VERTEX_SDK = GEMINI_SDK;
export const VERTEX_DEFAULT_MODEL = "gemini-2.5-flash";
export const VERTEX_DEFAULT_LOCATION = "us-central1";
/** Google's token endpoint: the only place a service account's assertion goes unless the server names another. */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
/** A GCP location: `us-central1`, `europe-west4`, `northamerica-northeast1`, `me-central2`, or `global`. */
export const GCP_LOCATION = /^(?:[a-z]+-[a-z]+\d{1,2}|global)$/;
const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** A GCP project id: 6 to 30 lower-case letters, digits and hyphens, a letter first (or a legacy `domain:` one). */
const PROJECT_ID = /^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const CLIENT_EMAIL = /^[A-Za-z0-9._%+-]{1,128}@[A-Za-z0-9.-]{1,253}$/;
const KEY_ID = /^[A-Za-z0-9]{1,128}$/;
/** How long before its expiry a cached token is no longer used (and the most it is cached for). */
const TOKEN_MARGIN_MS = 5 * 60_000;
const TOKEN_MAX_AGE_MS = 55 * 60_000;
const TOKEN_CACHE_ENTRIES = 10_000;

const SETTING_RULES: SettingRules<VertexProviderSettings> = providerSettingRules(
  "id",
  "baseUrl",
  "authUrl",
  "defaultModel",
  "timeoutMs",
);

type Sdk = typeof GenAiSdk;
const loadSdk = lazyPeer<Sdk>(VERTEX_SDK, "The vertex provider");

/** The parts of a service account key file the provider keeps (the rest, `token_uri` included, is dropped). */
type ServiceAccount = {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
};
/** A Vertex AI credential as stored. */
export type VertexCredential = {
  serviceAccount: ServiceAccount;
  location: string;
};

const CREDENTIAL_FIELDS: ProviderCredentialSpec["fields"] = {
  serviceAccount: { required: true, secret: true, type: "object" },
  location: {},
};

/**
 * A Vertex credential's check: the key file is a service account's (`type`, `project_id`, `client_email`,
 * `private_key_id`, an RSA `private_key`), the location has GCP's syntax. Only those fields are kept: every
 * URL in the file (`token_uri`, `auth_uri`…) is dropped, so nothing the user wrote says where a request goes.
 * @throws ByokError INVALID_REQUEST naming `credential.<field>` (or `credential.serviceAccount.<field>`), never its value
 */
export function checkVertexCredential(credential: Credential): VertexCredential {
  const account = credential.serviceAccount as Record<string, unknown>;
  const location = (credential.location as string | undefined) ?? VERTEX_DEFAULT_LOCATION;
  if (!GCP_LOCATION.test(location))
    throw invalid('location must be a Google Cloud location such as "us-central1", "europe-west4" or "global".', [
      "credential.location",
    ]);
  const bad = (field: string, what: string) =>
    invalid(`serviceAccount must be a service account's JSON key file: ${field} ${what}.`, [
      `credential.serviceAccount.${field}`,
    ]);
  if (account.type !== "service_account") throw bad("type", 'must be "service_account"');
  const text = (field: string, pattern: RegExp, what: string): string => {
    const value = account[field];
    if (typeof value !== "string" || !pattern.test(value)) throw bad(field, what);
    return value;
  };
  const projectId = text("project_id", PROJECT_ID, "must be a Google Cloud project id");
  const clientEmail = text("client_email", CLIENT_EMAIL, "must be the service account's email");
  const keyId = text("private_key_id", KEY_ID, "must be the key's id");
  const privateKey = account.private_key;
  let rsa = false;
  if (typeof privateKey === "string" && privateKey.length <= 8192) {
    try {
      rsa = createPrivateKey(privateKey).asymmetricKeyType === "rsa";
    } catch {
      rsa = false;
    }
  }
  if (!rsa) throw bad("private_key", "must be the key file's RSA private key (PEM)");
  return {
    serviceAccount: {
      type: "service_account",
      project_id: projectId,
      private_key_id: keyId,
      private_key: privateKey as string,
      client_email: clientEmail,
    },
    location,
  };
}

/** The credential a call got as its `apiKey` (the JSON the core sealed). */
function credentialOf(context: ProviderCallContext): VertexCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(context.apiKey);
  } catch {
    parsed = undefined;
  }
  if (
    !isPlainObject(parsed) ||
    !isPlainObject(parsed.serviceAccount) ||
    typeof parsed.location !== "string" ||
    !GCP_LOCATION.test(parsed.location)
  )
    throw new ByokError(
      "KEY_UNREADABLE",
      "The stored vertex key is not a Vertex AI credential; ask the user to add it again.",
    );
  return parsed as unknown as VertexCredential;
}

/** The endpoint of a location: `https://<location>-aiplatform.googleapis.com`, or the global one. */
export function vertexEndpoint(location: string): string {
  if (!GCP_LOCATION.test(location)) throw new TypeError("vertexEndpoint: not a Google Cloud location.");
  return location === "global" ? "https://aiplatform.googleapis.com" : `https://${location}-aiplatform.googleapis.com`;
}

/** The JWT-bearer assertion of a service account for `audience` (the token endpoint), signed RS256, an hour long. */
export function serviceAccountAssertion(account: ServiceAccount, audience: string, now = Date.now()): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const iat = Math.floor(now / 1000);
  const head = part({ alg: "RS256", typ: "JWT", kid: account.private_key_id });
  const claims = part({ iss: account.client_email, scope: SCOPE, aud: audience, iat, exp: iat + 3600 });
  const signature = createSign("RSA-SHA256").update(`${head}.${claims}`).sign(account.private_key, "base64url");
  return `${head}.${claims}.${signature}`;
}

/**
 * What a Vertex refusal says about the key (see `Provider.readRefusal`): a project whose billing is off
 * (`BILLING_DISABLED`, a 403) → `"quota_exhausted"`; any other 401/403 (`UNAUTHENTICATED`, `PERMISSION_DENIED`)
 * → `"invalid"`; a 429 `RESOURCE_EXHAUSTED` → `"rate_limited"` (for its `RetryInfo` delay, if any).
 */
export function vertexVerdict(status: number | undefined, body: unknown): KeyVerdict | undefined {
  const error = readGeminiError(body);
  if (error.reason === "BILLING_DISABLED") return { status: "quota_exhausted" };
  if (status === 401 || status === 403 || error.status === "UNAUTHENTICATED" || error.status === "PERMISSION_DENIED")
    return { status: "invalid" };
  if (status !== 429 && error.status !== "RESOURCE_EXHAUSTED") return undefined;
  const seconds = parseRetryAfter(error.retryDelay);
  return seconds === undefined ? { status: "rate_limited" } : { status: "rate_limited", retryAfter: seconds };
}

export const readVertexRefusal = ({ status, body }: ProviderRefusal): KeyVerdict | undefined =>
  vertexVerdict(status, body);

/**
 * Access tokens by credential, in memory only: bounded in count (the oldest leaves first) and in age (each
 * until 5 minutes before it expires, 55 minutes at most). Keyed by an HMAC of the credential under a key of
 * this process, so no entry's key is, or reveals, the credential.
 */
class TokenCache {
  readonly #entries = new Map<string, { token: string; expiresAt: number }>();
  readonly #salt = randomBytes(32);

  keyOf(credentialJson: string, tokenUrl: string): string {
    return createHmac("sha256", this.#salt).update(tokenUrl).update("\0").update(credentialJson).digest("base64url");
  }

  get(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > Date.now()) return entry.token;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, token: string, expiresInSeconds: number): void {
    const lifetime = Math.min(expiresInSeconds * 1000 - TOKEN_MARGIN_MS, TOKEN_MAX_AGE_MS);
    this.#entries.delete(key);
    if (lifetime <= 0) return; // too short-lived to be worth keeping
    this.#entries.set(key, { token, expiresAt: Date.now() + lifetime });
    for (const [oldest] of this.#entries) {
      if (this.#entries.size <= TOKEN_CACHE_ENTRIES) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

/** google-auth-library's OAuth2Client, from where @google/genai is installed (it is that SDK's dependency). */
type OAuth2ClientClass = new (options: { credentials: { access_token: string; token_type: string } }) => object;
let oauth2Client: OAuth2ClientClass | undefined;
function loadOAuth2Client(): OAuth2ClientClass {
  if (oauth2Client) return oauth2Client;
  const fromSdk = createRequire(createRequire(__filename).resolve(VERTEX_SDK));
  oauth2Client = (fromSdk("google-auth-library") as { OAuth2Client: OAuth2ClientClass }).OAuth2Client;
  return oauth2Client;
}

/**
 * The Vertex AI provider: Gemini models on a user's Google Cloud project, through `@google/genai` with
 * `vertexai: true` (the gemini provider's request and response mapping). A key is a credential,
 * `{ serviceAccount, location? }`: a service account's JSON key file (an object or its JSON text) and a
 * location (default `us-central1`), which picks the endpoint unless the server's `baseUrl` names one. Each call
 * trades a JWT assertion signed with the key file's private key for an access token at Google's token endpoint
 * (or the server's `authUrl`; never the file's `token_uri`), cached in memory per credential until shortly before
 * it expires; a cached token Vertex says has expired (401 `ACCESS_TOKEN_EXPIRED`) is replaced once, and any token
 * refused with a 401 is dropped. The SDK gets the token in an
 * OAuth2Client, the project and location explicitly, so it never reads Application Default Credentials,
 * `GOOGLE_API_KEY`, `GOOGLE_CLOUD_PROJECT`/`LOCATION` or `GOOGLE_VERTEX_BASE_URL`.
 */
export function createVertexProvider(settings: VertexProviderSettings = {}): Provider {
  const checked = checkSettings(settings, SETTING_RULES, "createVertexProvider");
  const id = checked.id ?? "vertex";
  const defaultModel = checked.defaultModel ?? VERTEX_DEFAULT_MODEL;
  const tokenUrl = checked.authUrl ?? GOOGLE_TOKEN_URL;
  const tokens = new TokenCache();

  /** A failed token request → KEY_REJECTED for a refused grant (`invalid_grant`…), else by its status. */
  function tokenError(status: number | undefined, body: unknown, privateKey: string): ByokError {
    const error = isPlainObject(body) ? str(body.error) : undefined;
    const refused = error === "invalid_grant" || error === "invalid_client" || error === "unauthorized_client";
    return upstreamError(
      id,
      { status, type: error ?? "grant_failed", ...(refused ? { verdict: { status: "invalid" } } : {}) },
      privateKey,
    );
  }

  /** A new access token for the credential, from the token endpoint. */
  async function mint(
    credential: VertexCredential,
    signal: AbortSignal,
  ): Promise<{ token: string; expiresIn: number }> {
    const form = new URLSearchParams({
      grant_type: JWT_BEARER,
      assertion: serviceAccountAssertion(credential.serviceAccount, tokenUrl),
    });
    const key = credential.serviceAccount.private_key;
    let response: Response;
    try {
      response = await fetch(tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: form.toString(),
        redirect: "error",
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw tokenError(undefined, undefined, key);
    }
    // Parsed here, not by response.json(): its objects may come from another realm (a test runner's sandbox).
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(await response.text());
      body = isPlainObject(parsed) ? parsed : undefined;
    } catch {
      body = undefined;
    }
    if (!response.ok) throw tokenError(response.status, body, key);
    const token = str(body?.access_token);
    const expiresIn = typeof body?.expires_in === "number" ? body.expires_in : 0;
    if (!token) throw tokenError(502, undefined, key);
    return { token, expiresIn };
  }

  async function open(context: ProviderCallContext, o?: { fresh: true }): Promise<GeminiClient> {
    const credential = credentialOf(context);
    const sdk = await loadSdk();
    const OAuth2Client = loadOAuth2Client();
    const cacheKey = tokens.keyOf(context.apiKey, tokenUrl);
    if (o?.fresh) tokens.delete(cacheKey);
    let token = tokens.get(cacheKey);
    const cached = token !== undefined;
    if (token === undefined) {
      const minted = await mint(credential, context.signal);
      token = minted.token;
      tokens.set(cacheKey, token, minted.expiresIn);
    }
    const ai = new sdk.GoogleGenAI({
      vertexai: true,
      project: credential.serviceAccount.project_id,
      location: credential.location,
      httpOptions: {
        baseUrl: checked.baseUrl ?? vertexEndpoint(credential.location),
        fetch: callFetch(context.signal),
      },
      googleAuthOptions: {
        authClient: new OAuth2Client({ credentials: { access_token: token, token_type: "Bearer" } }) as never,
      },
    });
    const accessToken = token;
    /** Whether Vertex refused the token itself (401): it is then never used again. */
    const refusedToken = (error: unknown) => error instanceof sdk.ApiError && error.status === 401;
    const fail = (error: unknown): unknown => {
      if (refusedToken(error)) tokens.delete(cacheKey);
      if (context.signal.aborted || (error instanceof Error && error.name === "AbortError")) return error;
      if (ByokError.is(error)) return error;
      if (!(error instanceof sdk.ApiError))
        return upstreamError(id, { type: error instanceof Error ? error.name : typeof error }, accessToken);
      const status = typeof error.status === "number" ? error.status : undefined;
      const body = parseGeminiErrorBody(error.message);
      const read = readGeminiError(body);
      const verdict = vertexVerdict(status, body);
      return upstreamError(
        id,
        {
          status,
          type: read.reason ?? read.status,
          retryAfter: read.retryDelay,
          // Cleaned of the private key here, and of the access token by upstreamError.
          message: read.message && cleanUpstreamMessage(read.message, credential.serviceAccount.private_key),
          ...(verdict ? { verdict } : {}),
        },
        accessToken,
      );
    };
    // A token from the cache that Vertex says has expired (earlier than it said, or a clock apart): one more try
    // with a new one. Any other 401 is the key's answer (the token is dropped, so the next call mints anew).
    const stale = (error: unknown) =>
      cached &&
      refusedToken(error) &&
      readGeminiError(parseGeminiErrorBody((error as Error).message)).reason === "ACCESS_TOKEN_EXPIRED";
    return { ai, fail, stale };
  }

  return {
    specificationVersion: "v1",
    defaultModel,
    ...(checked.timeoutMs !== undefined ? { timeoutMs: checked.timeoutMs } : {}),
    readRefusal: readVertexRefusal,
    credential: {
      fields: CREDENTIAL_FIELDS,
      check: checkVertexCredential,
      region: (credential) => credential.location as string,
      hint: (credential) => (credential.serviceAccount as ServiceAccount).private_key_id,
    },

    async load(): Promise<void> {
      await loadSdk();
      loadOAuth2Client();
    },
    ...geminiCalls(id, defaultModel, open),
  };
}
