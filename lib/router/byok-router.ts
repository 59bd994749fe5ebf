// byokRouter: the Express/Connect adapter of the route layer. Attaches req.ai everywhere and mounts the byok routes under basePath.
import type { NextFunction, Request, RequestHandler, Response, Router } from "express";
import { expressCallbackUrl } from "./connect-routes.js";
import "./express-augment.js";
import { loadExpress } from "./express-peer.js";
import { parseRouterOptions, type RouterOptions } from "./options.js";
import { preflightHeaders } from "./preflight.js";
import { queryOf } from "./provider-query.js";
import { createLimiters, type Limits } from "./rate-limit.js";
import { requestIdOf } from "./request-id.js";
import { attachAi, clientGone, teamIdOf } from "./request-user.js";
import { clientOptions, type Route, type RouteAnswer, routeTable, runRoute } from "./route-layer.js";
import { helmetFor } from "./security-headers.js";
import { errorMiddleware } from "./send-error.js";
import { sendJson } from "./send-json.js";
import { sendFrames } from "./sse.js";
import { jsonBody } from "./validation.js";
import { asyncRoute } from "./async-route.js";

/** byok answers hold keys' metadata and users' chats: never cached. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader("Cache-Control", "no-store");
  next();
}

/** Writes a route's answer to a Node response. */
async function writeAnswer(res: Response, answer: RouteAnswer): Promise<void> {
  if ("frames" in answer) return sendFrames(res, answer.frames);
  if ("json" in answer) return sendJson(res, answer.status, answer.json);
  res.statusCode = answer.status;
  // A redirect without a body (Express's res.redirect is not there in a plain Connect app).
  if ("location" in answer) {
    res.setHeader("Location", answer.location);
    res.setHeader("Content-Length", "0");
  }
  res.end();
}

/**
 * The Express/Connect handler of one route: the request's parts handed to the route layer. A client
 * that went away before the answer gets none: nobody is left to read it.
 */
function expressRoute(
  route: Route,
  limits: Limits,
  parsed: ReturnType<typeof parseRouterOptions>,
  parse: RequestHandler,
): RequestHandler {
  return asyncRoute(async (req, res) => {
    const requestId = requestIdOf(req, req.headers["x-request-id"]);
    let answer: RouteAnswer;
    try {
      answer = await runRoute(route, limits, {
        query: queryOf(req),
        header: (name) => {
          const value = req.headers[name];
          return Array.isArray(value) ? value.join(", ") : value;
        },
        getUserId: () => parsed.getUserId(req),
        teamId: async () => teamIdOf(req, parsed.getTeamId),
        canManage: async () => parsed.canManageTeamKeys(req),
        // With the key chain read ahead, a client that uses it (for its team); else req.ai.
        aiFor: async (userId, keyChain) =>
          keyChain === undefined
            ? req.ai
            : parsed.byok.use(userId, clientOptions(requestId, clientGone(req, res), keyChain.teamId, keyChain)),
        requestId,
        signal: () => clientGone(req, res),
        callbackUrl: () => expressCallbackUrl(req),
        readBody: (check) =>
          new Promise((resolve, reject) =>
            jsonBody(parse, parsed.bodyLimit, check)(req, res, (error?: unknown) =>
              error === undefined ? resolve(req.body as Record<string, unknown>) : reject(error),
            ),
          ),
        setHeader: (name, value) => void res.setHeader(name, value),
      });
    } catch (error) {
      if (clientGone(req, res).aborted) return; // nobody is left to answer
      throw error;
    }
    await writeAnswer(res, answer);
  });
}

/**
 * The Express router kit: mounts `POST/GET/DELETE {basePath}/keys`, `POST {basePath}/chat` and
 * `GET {basePath}/usage` for the signed-in user (and, with `connect: { openrouter: true }`, the
 * "Connect OpenRouter" flow), and attaches `req.ai` (an AiClient for that user) to every request through it.
 * Works with Express 4 and 5 and in a plain Connect app, and uses only BYOK's public API (so a BYOK
 * from the other module format works too). The byok routes parse their own JSON bodies, set
 * `Cache-Control: no-store` and helmet's headers, limit each user, and answer errors as
 * `{ error: { code, message, details? } }`; the app's own routes, body parsing and error handling
 * are untouched. The same routes serve fetch-style frameworks through {@link byokHandler}.
 *
 * @example
 * ```ts
 * app.use(session, login);                 // sets req.user
 * app.use(byokRouter({ byok }));           // /byok/keys, /byok/chat, req.ai
 * app.post("/summarize", async (req, res) => res.json(await req.ai.chat({ prompt: req.body.text })));
 * ```
 * @throws ByokError CONFIG_INVALID for bad options, naming the fix
 */
export function byokRouter(options: RouterOptions): Router {
  const parsed = parseRouterOptions(options);
  const { byok } = parsed;
  const express = loadExpress();
  const limits = createLimiters(parsed.rateLimit, byok.stores);
  const secure = helmetFor(parsed.helmet, "byokRouter") as RequestHandler | undefined;
  const common = [noStore, ...(secure ? [secure] : [])];
  const parse = express.json({ limit: parsed.bodyLimit, strict: true, type: "application/json" });

  const routes = express.Router();
  for (const route of routeTable(byok, parsed)) {
    const method = route.method === "DELETE" ? "delete" : route.method === "POST" ? "post" : "get";
    routes[method](route.path, ...common, expressRoute(route, limits, parsed, parse));
  }
  routes.use(preflightHeaders(secure)); // after the routes: only requests none of them answered
  // Inside `routes`, after them: only errors from the byok routes get here.
  routes.use(errorMiddleware(parsed.messageFor, "all"));

  const router = express.Router();
  router.use(attachAi(byok, parsed));
  router.use(parsed.basePath, routes);
  return router;
}

export type { ConnectOpenRouterOptions, RouterOptions, RateLimitWindow, RateLimitStoreFactory } from "./options.js";
