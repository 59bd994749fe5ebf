// Who is asking and for how long: the user id from getUserId (never body or query), req.ai bound to its request, and the UNAUTHENTICATED gate.
import type { NextFunction, Request, Response } from "express";
import type { BYOK } from "../byok.js";
import type { AiClient } from "../core/types.js";
import { ByokError } from "../errors.js";
import { requestIdOf } from "./request-id.js";

/**
 * Normalizes what getUserId (or getTeamId) returned: a non-empty string, a finite number
 * (stringified), or nothing. Anything else is a bug in the app's function, reported as INTERNAL.
 */
export function normalizeUserId(value: unknown, from = "getUserId"): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new ByokError("INTERNAL", `${from} must return a string, a number or undefined.`);
}

/** The request's team, asked of `getTeamId` now (never cached: membership is the app's, request by request). */
export const teamIdOf = (req: Request, getTeamId: (req: Request) => unknown): string | undefined =>
  normalizeUserId(getTeamId(req), "getTeamId");

const gone = new WeakMap<Request, AbortSignal>();

/**
 * A signal that fires when the client goes away before its answer was sent, one per request
 * (made on first use: a request that never calls a provider adds no listener).
 */
export function clientGone(req: Request, res: Response): AbortSignal {
  let signal = gone.get(req);
  if (signal) return signal;
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort(new DOMException("The client disconnected.", "AbortError"));
  });
  gone.set(req, (signal = controller.signal));
  return signal;
}

/**
 * `req.ai`: `byok.use(userId, { teamId, requestId, signal })` for the request, where the signal fires
 * when the client disconnects, so whatever `req.ai` is doing stops then, in the app's routes too. The
 * user and team are asked at call time (a user set by middleware after the router is seen; a member
 * just taken out of a team), and nothing is made on requests that never use it.
 */
function requestAi(byok: BYOK, req: Request, res: Response, who: RequestOwners): AiClient {
  let last: { userId: string | undefined; teamId: string | undefined; client: AiClient } | undefined;
  const current = (): AiClient => {
    const userId = normalizeUserId(who.getUserId(req));
    const teamId = teamIdOf(req, who.getTeamId);
    if (last === undefined || last.userId !== userId || last.teamId !== teamId) {
      const options = { requestId: requestIdOf(req, req.headers["x-request-id"]), signal: clientGone(req, res) };
      last = { userId, teamId, client: byok.use(userId, teamId === undefined ? options : { ...options, teamId }) };
    }
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
    usage: async (range) => current().usage(range),
  };
}

/** How the router learns who is asking: the app's `getUserId` and `getTeamId`. */
export interface RequestOwners {
  getUserId: (req: Request) => unknown;
  getTeamId: (req: Request) => unknown;
}

/** Middleware for every request through the router: attaches `req.ai`. */
export function attachAi(byok: BYOK, who: RequestOwners) {
  return function attachAiMiddleware(req: Request, res: Response, next: NextFunction): void {
    req.ai = requestAi(byok, req, res, who);
    next();
  };
}
