// ai.connection(): a fetch that puts the user's key in the auth header at send time, only for the provider's own API.
import { ByokError } from "../errors.js";
import { callSignal, type CoreContext, providerFor, sealContextOf } from "./context.js";
import { type Operation, startOperation } from "./events.js";
import { type Resolved, resolveKey, touchIfDue, userOf, whoCalled } from "./key-choice.js";
import { noteKeyOutcome } from "./key-health.js";
import { type KeyHealth, refusalVerdict } from "./key-verdict.js";
import type { Provider, ProviderConnection, ProviderConnectionSpec } from "./types.js";
import { checkProviderId } from "./validate.js";
import { startMeter } from "./metering.js";
import { type ApiReaders, bodyText, estimateRequest, meterResponse, readJson } from "./connection-usage.js";

/** What `ProviderConnection.apiKey` always is. The SDKs insist on a key; the fetch swaps in the real one. */
export const PLACEHOLDER_API_KEY = "byok-ai-placeholder-key";

/** A header or query parameter name: an HTTP token (RFC 9110), no longer than any real one. */
const NAME = /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/i;

/** An encoded dot, slash or backslash could climb out of the base path on a server that decodes before routing. */
const ENCODED_PATH_ESCAPE = /%(?:2e|2f|5c)/i;

interface Base {
  /** Origin plus path, no trailing slash. */
  href: string;
  origin: string;
  /** Path without its trailing slash (`""` for the root). */
  path: string;
  /** The header that carries the key (lower case), and whether its value is `Bearer <key>`. */
  header: string;
  bearer: boolean;
  /** Every header and query parameter that carries a key to one of the configured providers: each is removed. */
  carriers: KeyCarriers;
  /** Sends the requests: the provider's own fetch (a user endpoint's guarded one), else the global fetch. */
  send: typeof fetch;
  /** How the API states usage and reads requests, for metering. */
  readers: ApiReaders;
}

/** Where requests may carry a key, by name: headers (lower case) and query parameters. */
interface KeyCarriers {
  headers: ReadonlySet<string>;
  params: ReadonlySet<string>;
}

/** The header a connection spec sends the key in (lower case), or `undefined` when `auth` names none. */
const authHeaderOf = (spec: ProviderConnectionSpec): string | undefined =>
  spec.auth === "bearer"
    ? "authorization"
    : typeof spec.auth === "string" && NAME.test(spec.auth)
      ? spec.auth.toLowerCase()
      : undefined;

/**
 * Every header and query parameter through which a configured provider's API (or `own`) takes a
 * key: a connection's requests carry none of them but its own header, so no other credential the
 * app's SDK picked up travels with the user's key.
 */
function keyCarriersOf(context: CoreContext, own: ProviderConnectionSpec): KeyCarriers {
  const headers = new Set(["authorization"]);
  const params = new Set<string>();
  for (const spec of [own, ...[...context.providers.values()].map((p) => p.connection)]) {
    if (!spec) continue;
    const header = authHeaderOf(spec);
    if (header) headers.add(header);
    if (typeof spec.keyParam === "string" && NAME.test(spec.keyParam)) params.add(spec.keyParam);
  }
  return { headers, params };
}

/** @param endpoint - the endpoint the key carries, if any: then the provider's connection for it */
function specOf(context: CoreContext, id: string, provider: Provider, endpoint?: string): Base {
  const spec = endpoint === undefined ? provider.connection : provider.userEndpoints?.connection?.(endpoint);
  if (!spec)
    throw new ByokError(
      "CONFIG_INVALID",
      `Provider "${id}" does not describe its HTTP API, so ai.connection() cannot serve it; give the provider a \`connection: { baseURL, auth }\`.`,
      { provider: id },
    );
  let url: URL;
  try {
    url = new URL(spec.baseURL);
  } catch {
    url = new URL("invalid:");
  }
  const header = authHeaderOf(spec);
  const badParam = spec.keyParam !== undefined && !(typeof spec.keyParam === "string" && NAME.test(spec.keyParam));
  if (!/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash || !header || badParam)
    throw new ByokError(
      "CONFIG_INVALID",
      `Provider "${id}": connection.baseURL must be an http(s) URL without credentials, query or fragment, connection.auth "bearer" or a header name, and connection.keyParam (if any) a query parameter name.`,
      { provider: id },
    );
  for (const name of ["readUsage", "readRequest"] as const)
    if (spec[name] !== undefined && typeof spec[name] !== "function")
      throw new ByokError("CONFIG_INVALID", `Provider "${id}": connection.${name} must be a function, or left out.`, {
        provider: id,
      });
  const path = url.pathname.replace(/\/+$/, "");
  return {
    href: url.origin + path,
    origin: url.origin,
    path,
    header,
    bearer: spec.auth === "bearer",
    carriers: keyCarriersOf(context, spec),
    send: spec.fetch ?? fetch,
    readers: spec,
  };
}

/** Whether `url` is under `base`: same origin, and the base path as a whole-segment prefix. */
function isUnder(url: URL, base: Base): boolean {
  if (url.origin !== base.origin || url.username || url.password) return false;
  if (ENCODED_PATH_ESCAPE.test(url.pathname)) return false;
  return base.path === "" || url.pathname === base.path || url.pathname.startsWith(`${base.path}/`);
}

/**
 * One fetch call, reduced to the only options the connection forwards: what the request is (method,
 * headers, body) and when to stop (signal). Nothing that chooses where or how it travels (an undici
 * `dispatcher`, a proxy agent, `redirect`), and none of the browser-only fields (`cache`,
 * `credentials`, `mode`, `referrer`, `integrity`, `keepalive`, `priority`), which the openai,
 * @anthropic-ai/sdk, @google/genai and AI SDK clients never pass to a custom fetch.
 */
interface Call {
  url: URL;
  method: string | undefined;
  /** A copy: the caller's headers object is never changed. */
  headers: Headers;
  body: RequestInit["body"];
  /** When the call came as a Request with a body: a clone, to read the body from while `body` is sent. */
  bodyCopy?: Request;
  signal: AbortSignal | null | undefined;
}

/**
 * The {@link Call} a fetch call describes, whatever form it came in: each allowed field read once, from
 * the init or the Request (`new URL` resolves `.` and `..` segments).
 */
function callOf(input: string | URL | Request, init: RequestInit | undefined): Call {
  if (input instanceof Request) {
    const merged = new Request(input, init);
    const bodyCopy = merged.body ? merged.clone() : undefined; // before reading `body`: cloning replaces it
    const { method, headers, body, signal } = merged;
    return { url: new URL(merged.url), method, headers: new Headers(headers), body, bodyCopy, signal };
  }
  const { method, headers, body, signal } = init ?? {};
  let url: URL;
  try {
    url = new URL(input instanceof URL ? input.href : String(input));
  } catch {
    url = new URL("invalid:");
  }
  return { url, method, headers: new Headers(headers), body, signal };
}

function refused(id: string): ByokError {
  return new ByokError(
    "INVALID_REQUEST",
    `ai.connection("${id}") sends the user's key only under the provider's base URL; this request went elsewhere and was not sent.`,
    { provider: id, details: { fields: ["url"] } },
  );
}

/** The most of an error body read to classify it: error bodies are a few hundred bytes. */
const ERROR_BODY_READ_BYTES = 16 * 1024;

/**
 * What a `connection()` answer says about the key, learned as from any call (see `noteKeyOutcome`):
 * a 2xx → `"ok"`; a refusal → its verdict (see `refusalVerdict`). For a provider that reads its
 * refusals (`readRefusal`), a refusal other than 401/403 with a small JSON body is read from a clone
 * (the app still reads the whole body). Never delays the response.
 */
function learnFromResponse(
  context: CoreContext,
  operation: Operation,
  userId: string,
  resolved: Resolved,
  response: Response,
  health: KeyHealth,
): void {
  const { status, headers } = response;
  if (status >= 200 && status < 300) return noteKeyOutcome(context, operation, userId, resolved, "ok", health);
  const retryAfter = headers.get("retry-after");
  const { provider } = resolved;
  const length = Number(headers.get("content-length") ?? 0);
  const readable =
    provider.readRefusal !== undefined &&
    status >= 400 &&
    status !== 401 &&
    status !== 403 &&
    /json/i.test(headers.get("content-type") ?? "") &&
    !(length > ERROR_BODY_READ_BYTES) &&
    !response.bodyUsed;
  const note = (body: unknown) => {
    const verdict = refusalVerdict({ status, body, retryAfter }, provider);
    if (verdict) noteKeyOutcome(context, operation, userId, resolved, verdict, health);
  };
  if (!readable) return note(undefined);
  void readJson(response.clone(), ERROR_BODY_READ_BYTES).then(note);
}

/**
 * The connection's fetch. It holds the ciphertext, not the key: each request decrypts it, puts it
 * in the provider's auth header (replacing whatever auth the SDK set) and lets it go once fetch
 * has the request. Redirects are never followed: a 3xx reaches the SDK as it came.
 */
function keyedFetch(context: CoreContext, userId: string, resolved: Resolved, base: Base) {
  const { id, record } = resolved;
  const who = whoCalled(userId, resolved);
  let lastUsedAt = record.lastUsedAt;
  // The key's health as this connection last learned it: its fetch may send many requests.
  const health: KeyHealth = { status: record.status, statusUntil: record.statusUntil };
  return async function byokConnectionFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const { url, headers, body, bodyCopy, signal: own, ...call } = callOf(input, init);
    const signal = callSignal(context, own);
    if (!isUnder(url, base)) throw refused(id);
    for (const name of base.carriers.headers) headers.delete(name);
    for (const name of base.carriers.params) if (url.searchParams.has(name)) url.searchParams.delete(name);
    const { estimate, model } = estimateRequest(base.readers, await bodyText(body, bodyCopy), url.pathname);
    const { pricing } = resolved.provider;
    const subject = {
      ...who,
      provider: id,
      model: model ?? resolved.provider.defaultModel,
      ...(pricing ? { pricing } : {}),
    };
    const meter = await startMeter(context, subject, estimate); // BUDGET_EXCEEDED: nothing is sent
    let apiKey: string;
    try {
      apiKey = await context.vault.open(record.ciphertext, sealContextOf(record));
    } catch (error) {
      await meter.end({});
      throw error;
    }
    headers.set(base.header, base.bearer ? `Bearer ${apiKey}` : apiKey);

    const method = (call.method ?? "GET").toUpperCase();
    const operation = startOperation(context.requestId);
    let status: number | undefined;
    try {
      // A fresh init: only the allowed fields, a body always half-duplex (Node requires it for a stream).
      const response = await base.send(url, {
        method: call.method,
        headers,
        ...(body == null ? {} : { body, duplex: "half" }),
        ...(signal == null ? {} : { signal }),
        redirect: "manual",
      } as RequestInit);
      status = response.status;
      learnFromResponse(context, operation, userId, resolved, response, health); // before metering may wrap its body
      return meterResponse(response, meter, model, base.readers);
    } catch (error) {
      await meter.end({});
      throw error;
    } finally {
      context.emit("key.used", operation, { ...who, provider: id, method, path: url.pathname, status });
      if (status !== undefined && status < 400) lastUsedAt = touchIfDue(context, record, lastUsedAt);
    }
  };
}

/**
 * `AiClient.connection`: finds the user's key (provider choice as in `chat`) and returns a
 * {@link ProviderConnection}. Only the store lookup happens here; the key is decrypted by each
 * request the connection's fetch sends.
 * @throws ByokError UNAUTHENTICATED, INVALID_REQUEST, UNKNOWN_PROVIDER, KEY_NOT_FOUND, CONFIG_INVALID, STORE_UNAVAILABLE
 */
export async function openConnection(
  context: CoreContext,
  rawUserId: string | undefined,
  provider: string | undefined,
): Promise<ProviderConnection> {
  const userId = userOf(rawUserId);
  if (provider !== undefined) {
    const configured = providerFor(context, checkProviderId(provider));
    if (!configured.userEndpoints?.connection) specOf(context, provider, configured); // fail before I/O
  }
  const resolved = await resolveKey(context, userId, provider);
  const base = specOf(context, resolved.id, resolved.provider, resolved.record.endpoint);
  return Object.freeze({
    provider: resolved.id,
    baseURL: base.href,
    apiKey: PLACEHOLDER_API_KEY,
    fetch: keyedFetch(context, userId, resolved, base) as typeof fetch,
  });
}
