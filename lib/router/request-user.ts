// Who is asking: the user id from getUserId (never body or query), req.ai, and the UNAUTHENTICATED gate.
import type { NextFunction, Request, Response } from "express";
import { createAiClient, type KeyLookupHook, START_KEY_LOOKUP, startKeyLookup } from "../core/ai-client.js";
import type { CoreContext } from "../core/context.js";
import type { AiClient } from "../core/types.js";
import { ByokError } from "../errors.js";
import { forRequest } from "./request-id.js";

const USER = Symbol("byok-ai.user");
type WithUser = Request & { [USER]?: string };

/**
 * Normalizes what getUserId returned: a non-empty string, a finite number (stringified), or
 * nothing. Anything else is a bug in the app's getUserId, reported as INTERNAL.
 */
export function normalizeUserId(value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new ByokError("INTERNAL", "getUserId must return a string, a number or undefined.");
}

/**
 * An AiClient that asks getUserId at call time, so it sees a user set by middleware that runs after
 * the router, and costs nothing on requests that never use it. Without a user every call rejects
 * UNAUTHENTICATED. Calls for the same user share one client, so a key lookup the router started
 * ahead ({@link startKeyLookup}) is there for the chat that needs it.
 */
export function lazyAiClient(
  context: CoreContext,
  req: Request,
  getUserId: (req: Request) => unknown,
): AiClient & KeyLookupHook {
  let last: { userId: string | undefined; client: ReturnType<typeof createAiClient> } | undefined;
  const current = () => {
    const userId = normalizeUserId(getUserId(req));
    if (last === undefined || last.userId !== userId)
      last = { userId, client: createAiClient(forRequest(context, req), userId) };
    return last.client;
  };
  return {
    chat: async (request) => current().chat(request),
    stream: (request) => current().stream(request),
    keys: async () => current().keys(),
    has: async (provider) => current().has(provider),
    connection: async (provider) => current().connection(provider),
    checkKey: async (provider) => current().checkKey(provider),
    models: async (provider) => current().models(provider),
    [START_KEY_LOOKUP]: (provider) => startKeyLookup(current(), provider),
  };
}

/** Middleware for every request through the router: attaches `req.ai`. */
export function attachAi(context: CoreContext, getUserId: (req: Request) => unknown) {
  return function attachAiMiddleware(req: Request, _res: Response, next: NextFunction): void {
    req.ai = lazyAiClient(context, req, getUserId);
    next();
  };
}

/** Middleware for the byok routes: 401 UNAUTHENTICATED without a user, else remembers the user id. */
export function requireUser(getUserId: (req: Request) => unknown) {
  return function requireUserMiddleware(req: Request, _res: Response, next: NextFunction): void {
    const userId = normalizeUserId(getUserId(req));
    if (userId === undefined)
      throw new ByokError(
        "UNAUTHENTICATED",
        "No signed-in user: getUserId returned nothing. Sign the user in before the byok routes and req.ai.",
      );
    (req as WithUser)[USER] = userId;
    next();
  };
}

/** The user id {@link requireUser} found; only valid after it ran. */
export function userIdOf(req: Request): string {
  const userId = (req as WithUser)[USER];
  if (userId === undefined) throw new ByokError("INTERNAL", "userIdOf called before requireUser.");
  return userId;
}
