// byokRouter: the Express router kit. Attaches req.ai everywhere and mounts the key-settings and chat routes under basePath.
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from "express";
import helmet from "helmet";
import { coreContextOf } from "../byok.js";
import { configError } from "../core/option-checks.js";
import { chatRoute } from "./chat-route.js";
import "./express-augment.js";
import { keysRoutes } from "./keys-routes.js";
import { parseRouterOptions, type RouterOptions } from "./options.js";
import { createLimiters } from "./rate-limit.js";
import { attachAi, requireUser } from "./request-user.js";
import { byokErrorHandler } from "./send-error.js";
import { chatContainerRules, chatRules, deleteKeyRules, registerKeyRules, requireJson, requireOneOf, validateBody } from "./validation.js";

function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set("Cache-Control", "no-store");
  next();
}

function helmetFor(options: false | Parameters<typeof helmet>[0]): RequestHandler[] {
  if (options === false) return [];
  try {
    return [helmet(options) as RequestHandler];
  } catch (error) {
    throw configError(`byokRouter: helmet options rejected by helmet: ${error instanceof Error ? error.message : "invalid"}`);
  }
}

/**
 * The Express router kit: mounts `POST/GET/DELETE {basePath}/keys` and `POST {basePath}/chat` for the
 * signed-in user, and attaches `req.ai` (an AiClient for that user) to every request through it.
 * Works with Express 4 and 5. The byok routes parse their own JSON bodies, set
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
  const context = coreContextOf(parsed.byok);
  const limits = createLimiters(parsed.rateLimit, context.store);
  const keys = keysRoutes(context);
  const common = [noStore, ...helmetFor(parsed.helmet), requireUser(parsed.getUserId)];
  const json = [requireJson, express.json({ limit: parsed.bodyLimit, strict: true, type: "application/json" })];

  const routes = express.Router();
  routes.post("/keys", ...common, ...limits.keys, ...json, validateBody(registerKeyRules, { bodyRequired: true }), keys.register);
  routes.get("/keys", ...common, ...limits.keys, keys.list);
  routes.delete("/keys", ...common, ...limits.keys, ...json, validateBody(deleteKeyRules, { bodyRequired: false }), keys.remove);
  routes.post("/chat", ...common, ...limits.chat, ...json, validateBody(chatRules, { bodyRequired: true, containers: chatContainerRules }), requireOneOf, chatRoute(context));
  // Inside `routes`, after them: only errors from the byok routes get here.
  routes.use(byokErrorHandler);

  const router = express.Router();
  router.use(attachAi(context, parsed.getUserId));
  router.use(parsed.basePath, routes);
  return router;
}

export type { RouterOptions, RateLimitWindow } from "./options.js";
