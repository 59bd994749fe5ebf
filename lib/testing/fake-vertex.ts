// A fake Gemini on Vertex AI: the Gemini protocol under projects/{project}/locations/{location}, behind OAuth tokens from a fake Google token endpoint.
import { geminiProtocol } from "./fake-gemini.js";
import { FakeGoogleOAuth, type FakeServiceAccount } from "./fake-google-oauth.js";
import {
  type FakeAnswer,
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  startFakeUpstream,
} from "./fake-upstream.js";

/** Options of {@link startFakeVertex}. */
export interface FakeVertexOptions extends FakeUpstreamOptions {
  /** How long a minted access token lives, in seconds. @defaultValue 3600 (Google's hour) */
  tokenLifetimeSeconds?: number;
}

/** A running fake Vertex AI. */
export interface FakeVertex extends FakeUpstream {
  /**
   * A new service account key file whose `token_uri` is the fake's `/token`. `projectId` (default
   * `byok-test-project`) is the only project its tokens may call; `clientEmail` adds a key to an
   * existing account.
   */
  serviceAccount(options?: { projectId?: string; clientEmail?: string }): FakeServiceAccount;
  /** Access tokens minted so far. */
  readonly tokensMinted: number;
  /** How long tokens minted from now on live, in seconds. */
  tokenLifetimeSeconds: number;
  /** Expires every token minted so far: the next call with one is answered 401 `ACCESS_TOKEN_EXPIRED`. */
  expireTokens(): void;
  /** Deletes a service account key (by `private_key_id`) or revokes an access token. */
  revoke(keyIdOrToken: string): void;
  /** The `client_email` of the account an access token the fake minted belongs to (expired or not). */
  accountOf(accessToken: string): string | undefined;
}

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const MODEL_PATH =
  /^\/v1(?:beta1)?\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):([A-Za-z]+)$/;
const LIST_PATH = /^\/v1(?:beta1)?\/publishers\/google\/models(?:\/([^/:]+))?$/;

/** A Google API error: `{ error: { code, message, status, details: [ErrorInfo] } }`. */
function googleError(code: number, status: string, reason: string, message: string): FakeAnswer {
  return {
    status: code,
    body: {
      error: {
        code,
        message,
        status,
        details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain: "googleapis.com" }],
      },
    },
  };
}

const UNAUTHENTICATED =
  "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const unauthenticated = (reason: string) => googleError(401, "UNAUTHENTICATED", reason, UNAUTHENTICATED);

/** Vertex's protocol: Gemini's bodies and streams, with Bearer tokens the fake minted and project-scoped paths. */
function vertexProtocol(oauth: FakeGoogleOAuth): FakeProtocol {
  return {
    ...geminiProtocol,
    route(method, url) {
      const list = LIST_PATH.exec(url.pathname);
      if (method === "GET" && list) return { op: "validate", model: decodeURIComponent(list[1] ?? "") };
      const m = MODEL_PATH.exec(url.pathname);
      if (method !== "POST" || !m) return undefined;
      const model = decodeURIComponent(m[3]!);
      if (m[4] === "generateContent") return { op: "chat", model };
      if (m[4] === "streamGenerateContent") return { op: "stream", model };
      if (m[4] === "countTokens") return { op: "validate", model };
      return undefined;
    },
    apiKey: (request) => /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1],
    keyless: (method, url, body) =>
      method === "POST" && url.pathname === "/token" ? oauth.token(typeof body === "string" ? body : "") : undefined,
    verify(request, url) {
      const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
      if (!bearer) return unauthenticated("CREDENTIALS_MISSING");
      const token = oauth.lookup(bearer);
      if (token === "expired") return unauthenticated("ACCESS_TOKEN_EXPIRED");
      if (!token) return unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED");
      if (!token.scopes.includes(SCOPE))
        return googleError(
          403,
          "PERMISSION_DENIED",
          "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
          "Request had insufficient authentication scopes.",
        );
      const m = MODEL_PATH.exec(url.pathname);
      if (m && decodeURIComponent(m[1]!) !== token.projectId)
        return googleError(
          403,
          "PERMISSION_DENIED",
          "IAM_PERMISSION_DENIED",
          `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com${url.pathname.replace(/^\/v1(beta1)?/, "").replace(/:.*$/, "")}' (or it may not exist).`,
        );
      return undefined;
    },
    rejectedKey: () => unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    // Vertex has no per-day free tier: a rate limit is its 429 RESOURCE_EXHAUSTED, and a project out of
    // credit is one whose billing is off.
    refusal: (kind) =>
      kind === "quota"
        ? googleError(
            403,
            "PERMISSION_DENIED",
            "BILLING_DISABLED",
            "This API method requires billing to be enabled. Please enable billing on the project by visiting the Google Cloud console and retry.",
          )
        : {
            status: 429,
            body: {
              error: {
                code: 429,
                message:
                  "Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
                status: "RESOURCE_EXHAUSTED",
              },
            },
          },
    validateBody: (model) =>
      model
        ? { name: `publishers/google/models/${model}`, versionId: "001", launchStage: "GA" }
        : {
            publisherModels: ["gemini-2.5-flash", "gemini-2.5-pro"].map((id) => ({
              name: `publishers/google/models/${id}`,
              versionId: "001",
              launchStage: "GA",
            })),
          },
  };
}

/**
 * Starts a fake Vertex AI on 127.0.0.1, with its own Google token endpoint at `${fake.url}/token`.
 * `fake.serviceAccount()` issues a key file; an app signs a JWT assertion with its `private_key`
 * (RS256, `iss` = `client_email`, `aud` = `token_uri`, `scope` = cloud-platform, an hour at most)
 * and trades it at `POST /token` (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`) for an
 * access token. Gemini's `:generateContent` and `:streamGenerateContent?alt=sse` then answer under
 * `/v1/projects/{project}/locations/{location}/publishers/google/models/{model}` (and `/v1beta1/…`,
 * where `@google/genai` calls), and `GET /v1beta1/publishers/google/models` lists models, for
 * `Authorization: Bearer <token>` only: 401 UNAUTHENTICATED without a live token the fake minted,
 * 403 PERMISSION_DENIED for another project. Refusals: `invalid` → 401 UNAUTHENTICATED,
 * `rate_limit` → 429 RESOURCE_EXHAUSTED, `quota` → 403 BILLING_DISABLED.
 *
 * @example
 * ```ts
 * const fake = await startFakeVertex();
 * const account = fake.serviceAccount(); // a key file: { project_id, private_key, token_uri, … }
 * // … mint a token at account.token_uri, then:
 * const ai = new GoogleGenAI({ vertexai: true, project: account.project_id, location: "europe-west4",
 *   httpOptions: { baseUrl: fake.url },
 *   googleAuthOptions: { authClient: new OAuth2Client({ credentials: { access_token, token_type: "Bearer" } }) } });
 * ```
 */
export async function startFakeVertex(options: FakeVertexOptions = {}): Promise<FakeVertex> {
  // The token URI is known once the port is; the protocol reads it only when a request comes.
  const oauth = new FakeGoogleOAuth("", options.tokenLifetimeSeconds ?? 3600);
  const fake = await startFakeUpstream(vertexProtocol(oauth), options);
  oauth.tokenUri = `${fake.url}/token`;
  const extra: Omit<FakeVertex, keyof FakeUpstream> = {
    serviceAccount: (o?: { projectId?: string; clientEmail?: string }) => oauth.serviceAccount(o),
    get tokensMinted() {
      return oauth.minted;
    },
    get tokenLifetimeSeconds() {
      return oauth.lifetimeSeconds;
    },
    set tokenLifetimeSeconds(seconds: number) {
      oauth.lifetimeSeconds = seconds;
    },
    expireTokens: () => oauth.expireAll(),
    revoke: (keyIdOrToken: string) => oauth.revoke(keyIdOrToken),
    accountOf: (accessToken: string) => oauth.emailOf(accessToken),
  };
  // defineProperties, not Object.assign: the counter and the lifetime stay live accessors.
  return Object.defineProperties(fake, Object.getOwnPropertyDescriptors(extra)) as FakeVertex;
}
