// byokRouter: the Express router kit. Attaches req.ai everywhere and mounts the key-settings and chat routes under basePath.
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from "express";
import helmet, { type HelmetOptions } from "helmet";
import { configError } from "../core/option-checks.js";
import { chatRoute } from "./chat-route.js";
import { connectOpenRouterRoutes, OPENROUTER_CALLBACK_PATH } from "./connect-routes.js";
import "./express-augment.js";
import { keysRoutes, teamKeysRoutes } from "./keys-routes.js";
import { modelsRoute } from "./models-route.js";
import { usageRoute } from "./usage-route.js";
import { parseRouterOptions, type RouterOptions } from "./options.js";
import { createLimiters } from "./rate-limit.js";
import { attachAi, requireUser } from "./request-user.js";
import { errorMiddleware } from "./send-error.js";
import { preflightHeaders } from "./preflight.js";
import {
  bodyCheck,
  chatBody,
  checkKeyBody,
  deleteKeyBody,
  type Envelope,
  jsonBody,
  registerKeyBody,
} from "./validation.js";

/** byok answers hold keys' metadata and users' chats: never cached. */
function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader("Cache-Control", "no-store");
  next();
}

/**
 * helmet on the byok routes: its defaults without `Strict-Transport-Security` (pinning every
 * subdomain to HTTPS for a year is the app's decision, not a library's) unless the app's own options
 * set it; nothing with `false`.
 */
function helmetFor(options: false | HelmetOptions): RequestHandler | undefined {
  if (options === false) return undefined;
  const setsHsts = "strictTransportSecurity" in options || "hsts" in options;
  try {
    const withDefaults = setsHsts ? options : ({ ...options, strictTransportSecurity: false } as HelmetOptions);
    return helmet(withDefaults) as RequestHandler;
  } catch (error) {
    throw configError(
      `byokRouter: helmet options rejected by helmet: ${error instanceof Error ? error.message : "invalid"}`,
    );
  }
}

/**
 * The Express router kit: mounts `POST/GET/DELETE {basePath}/keys`, `POST {basePath}/chat` and
 * `GET {basePath}/usage` for the signed-in user (and, with `connect: { openrouter: true }`, the
 * "Connect OpenRouter" flow), and attaches `req.ai` (an AiClient for that user) to every request through it.
 * Works with Express 4 and 5 and in a plain Connect app, and uses only BYOK's public API (so a BYOK
 * from the other module format works too). The byok routes parse their own JSON bodies, set
 * `Cache-Control: no-store` and helmet's headers, limit each user, and answer errors as
 * `{ error: { code, message, details? } }`; the app's own routes, body parsing and error handling
 * are untouched.
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
  const limits = createLimiters(parsed.rateLimit, byok.store);
  const keys = keysRoutes(byok, parsed.getTeamId);
  const team = teamKeysRoutes(byok, parsed.getTeamId, parsed.canManageTeamKeys);
  const secure = helmetFor(parsed.helmet);
  const common = [noStore, ...(secure ? [secure] : []), requireUser(parsed.getUserId)];
  const parse = express.json({ limit: parsed.bodyLimit, strict: true, type: "application/json" });
  const json = (envelope: Envelope) => jsonBody(parse, parsed.bodyLimit, bodyCheck(envelope));

  // The limiter comes before the body and any store read: a refused request costs one counter update.
  const routes = express.Router();
  routes.post("/keys", ...common, ...limits.keys, json(registerKeyBody), keys.register);
  routes.get("/keys", ...common, ...limits.keys, keys.list);
  routes.post("/keys/check", ...common, ...limits.keys, json(checkKeyBody), keys.check);
  routes.delete("/keys", ...common, ...limits.keys, json(deleteKeyBody), keys.remove);
  routes.post("/chat", ...common, ...limits.chat, json(chatBody), chatRoute(parsed.messageFor));
  routes.get("/models", ...common, ...limits.chat, modelsRoute());
  // Usage reads sit on the chat limiter: a usage table refreshed beside the chat must not use up the key settings' limit.
  routes.get("/usage", ...common, ...limits.chat, usageRoute(byok, parsed.getTeamId, parsed.canManageTeamKeys));
  // A team's keys: listed by any member, changed only by a manager; limited per member, like every route.
  const teamCommon = [...common, ...limits.keys, team.requireTeam];
  routes.post("/team/keys", ...teamCommon, team.requireManager, json(registerKeyBody), team.register);
  routes.get("/team/keys", ...teamCommon, team.list);
  routes.delete("/team/keys", ...teamCommon, team.requireManager, json(deleteKeyBody), team.remove);
  // "Connect OpenRouter": a browser navigation each way, limited like the keys routes it ends in.
  if (parsed.connect.openrouter) {
    const connect = connectOpenRouterRoutes(byok, parsed.connect.openrouter);
    routes.get("/connect/openrouter", ...common, ...limits.keys, connect.start);
    routes.get(OPENROUTER_CALLBACK_PATH, ...common, ...limits.keys, connect.callback);
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
