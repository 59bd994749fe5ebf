// "Connect OpenRouter": the PKCE (S256) authorization flow that brings a user's key without pasting it; the state lives in the key store.
import { createHash, randomBytes } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { Request } from "express";
import type { BYOK } from "../byok.js";
import { invalid } from "../core/validate.js";
import { ByokError } from "../errors.js";
import { isOpenRouterProvider, type OpenRouterProvider } from "../providers/openrouter.js";
import { queryValue } from "./provider-query.js";
import type { RouteAnswer, RouteInput } from "./route-layer.js";
import { sitePath } from "./site-path.js";

/** How long a started flow may take to come back: OpenRouter's page, sign-in and approval included. */
export const CONNECT_STATE_TTL_MS = 10 * 60_000;
/** Path of the callback under basePath. */
export const OPENROUTER_CALLBACK_PATH = "/connect/openrouter/callback";
/** What the store keeps a state under: a namespace, then the state itself. */
const STATE_KEY = "byok-connect:openrouter:";
/** A state or verifier: 32 random bytes, base64url. */
const RANDOM_TOKEN = /^[A-Za-z0-9_-]{43}$/;
/** What an authorization code may be, generously: 1 to 1024 printable ASCII characters, no spaces (the exchange takes no more). */
const CODE = /^[!-~]{1,1024}$/;
/** A Host header: a name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** What one started flow keeps in the store (never sent anywhere): whose it is, its verifier, where to go back. */
interface ConnectState {
  userId: string;
  verifier: string;
  returnTo: string;
}

const token = (): string => randomBytes(32).toString("base64url");
const s256 = (verifier: string): string => createHash("sha256").update(verifier).digest("base64url");

/**
 * The absolute URL of the callback as the browser reaches it, built from an Express/Connect request: Express's `req.protocol` (which honours `trust proxy`), else the socket's TLS; the Host header; and
 * the path the router is mounted at (the request's path less the route's).
 */
export function expressCallbackUrl(req: Request): string {
  const protocol =
    typeof req.protocol === "string" && /^https?$/.test(req.protocol)
      ? req.protocol
      : (req.socket as Partial<TLSSocket>).encrypted === true
        ? "https"
        : "http";
  const host = req.headers.host;
  if (typeof host !== "string" || !HOST.test(host))
    throw invalid("The request has no usable Host header to build the callback URL from.", ["host"]);
  const original = (req.originalUrl ?? req.url ?? "").split("?", 1)[0]!;
  const here = (req.url ?? "").split("?", 1)[0]!;
  const mount = original.endsWith(here) ? original.slice(0, original.length - here.length) : "";
  return `${protocol}://${host}${mount}${OPENROUTER_CALLBACK_PATH}`;
}

/** The state's record, or `undefined` for anything that is not exactly what {@link start} wrote. */
function parseState(json: string): ConnectState | undefined {
  try {
    const v = JSON.parse(json) as Partial<Record<keyof ConnectState, unknown>> | null;
    if (typeof v?.userId === "string" && typeof v.verifier === "string" && typeof v.returnTo === "string")
      return { userId: v.userId, verifier: v.verifier, returnTo: v.returnTo };
  } catch {
    // below
  }
  return undefined;
}

const badState = () =>
  invalid(
    "This connection link is not valid (missing, already used, expired, or started by someone else); start connecting again.",
    ["state"],
  );

/**
 * `GET {basePath}/connect/openrouter` (start) and `.../callback` for the signed-in user: a random
 * single-use `state` bound to the user and a PKCE verifier, kept in the key store for 10 minutes (so any
 * instance can finish the flow), a `302` to OpenRouter's page with the verifier's S256 challenge, then the
 * code exchanged for the key, which is stored like `POST {basePath}/keys` (validated, encrypted, events),
 * and a `303` to `returnTo`. The verifier and the key never leave the server.
 */
export function connectOpenRouterRoutes(byok: BYOK, settings: { returnTo: string; callbackUrl?: string }) {
  const provider = byok.provider("openrouter");
  if (!isOpenRouterProvider(provider))
    throw new ByokError("CONFIG_INVALID", "byokRouter: connect.openrouter needs the openrouter provider.");
  const openrouter: OpenRouterProvider = provider;
  const once = byok.stores.once!;

  const start = async (input: RouteInput): Promise<RouteAnswer> => {
    const asked = queryValue(input.query, "returnTo");
    const returnTo = asked === undefined ? settings.returnTo : sitePath(asked);
    if (returnTo === undefined)
      throw invalid('returnTo must be a path on this site starting with one "/", e.g. "/settings".', ["returnTo"]);
    const callbackUrl = settings.callbackUrl ?? input.callbackUrl();
    const state = token();
    const verifier = token();
    const record: ConnectState = { userId: input.userId, verifier, returnTo };
    await once.put(input.userId, STATE_KEY + state, JSON.stringify(record), CONNECT_STATE_TTL_MS);
    // OpenRouter sends the user back to callback_url with `code` added: the state rides in that URL.
    const back = new URL(callbackUrl);
    back.searchParams.set("state", state);
    const target = new URL(openrouter.authUrl);
    target.searchParams.set("callback_url", back.href);
    target.searchParams.set("code_challenge", s256(verifier));
    target.searchParams.set("code_challenge_method", "S256");
    return { status: 302, location: target.href };
  };

  const callback = async (input: RouteInput): Promise<RouteAnswer> => {
    const state = queryValue(input.query, "state");
    const code = queryValue(input.query, "code");
    // A malformed state was never ours: refused before the store is asked.
    if (state === undefined || !RANDOM_TOKEN.test(state)) throw badState();
    if (code === undefined || !CODE.test(code))
      throw invalid("The callback has no authorization code; start connecting again.", ["code"]);
    // Taken whatever happens next: a state is good for one try, and a replay finds nothing. It is kept under the
    // user who started the flow, so another user (a link someone was sent) finds nothing either.
    const taken = await once.take(input.userId, STATE_KEY + state);
    const flow = taken === undefined ? undefined : parseState(taken);
    if (flow === undefined || flow.userId !== input.userId) throw badState();
    const signal = input.signal();
    const apiKey = await openrouter.exchangeCode(code, flow.verifier, { signal });
    await byok.registerKey({ userId: flow.userId, provider: "openrouter", apiKey, signal, requestId: input.requestId });
    return { status: 303, location: flow.returnTo };
  };

  // Where a failed browser navigation goes back to: the start link's own returnTo when it is one, and
  // the configured one for the callback (a failed callback may have no state, so no returnTo of its own).
  const startBack = (query: URLSearchParams): string => {
    const asked = query.getAll("returnTo");
    return (asked.length === 1 ? sitePath(asked[0]) : undefined) ?? settings.returnTo;
  };
  const callbackBack = (): string => settings.returnTo;

  return { start, callback, startBack, callbackBack };
}
