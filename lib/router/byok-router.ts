// byokRouter: the Express router kit. Attaches req.ai everywhere and mounts the key-settings and chat routes under basePath.
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from "express";
import helmet from "helmet";
import { coreContextOf } from "../byok.js";
import { configError } from "../core/option-checks.js";
import { chatRoute } from "./chat-route.js";
import "./express-augment.js";
import { keysRoutes } from "./keys-routes.js";
import { modelsRoute } from "./models-route.js";
import { parseRouterOptions, type RouterOptions } from "./options.js";
import { createLimiters } from "./rate-limit.js";
import { attachAi, requireUser } from "./request-user.js";
import { byokErrorHandler } from "./send-error.js";
import { checkPromptOrMessages } from "../core/validate.js";
import {
  bodyCheck,
  chatContainerRules,
  chatRules,
  deleteKeyRules,
  isValidChatBody,
  jsonBody,
  registerKeyRules,
} from "./validation.js";

const NO_STORE: [string, string] = ["Cache-Control", "no-store"];

const hasFunction = (value: unknown): boolean =>
  typeof value === "function" ||
  (typeof value === "object" && value !== null && Object.values(value).some(hasFunction));

/**
 * The headers helmet sets for `options` when they cannot depend on the request (no function in the
 * options, e.g. no CSP nonce): recorded once by running helmet on a stand-in response, so each
 * request sets them in one loop instead of through helmet's dozen middlewares. `undefined` otherwise.
 */
function recordHelmet(
  middleware: RequestHandler,
  options: object,
): { set: [string, string][]; remove: string[] } | undefined {
  if (hasFunction(options)) return undefined;
  const set: [string, string][] = [];
  const remove: string[] = [];
  let nextCalled = false;
  const res = {
    setHeader: (name: string, value: unknown) => void set.push([name, String(value)]),
    removeHeader: (name: string) => void remove.push(name),
  };
  middleware(
    { headers: {}, method: "GET", url: "/" } as Request,
    res as unknown as Response,
    (error?: unknown) => (nextCalled = error === undefined),
  );
  return nextCalled && set.every(([, v]) => typeof v === "string") ? { set, remove } : undefined;
}

/** helmet's headers as a list to set, or helmet's own middleware when they depend on the request, or nothing with `false`. */
function helmetFor(
  options: false | Parameters<typeof helmet>[0],
): { set: [string, string][]; remove: string[] } | RequestHandler | undefined {
  if (options === false) return undefined;
  let middleware: RequestHandler;
  try {
    middleware = helmet(options) as RequestHandler;
  } catch (error) {
    throw configError(
      `byokRouter: helmet options rejected by helmet: ${error instanceof Error ? error.message : "invalid"}`,
    );
  }
  return recordHelmet(middleware, options ?? {}) ?? middleware;
}

/**
 * What runs first on every byok route: `Cache-Control: no-store`, helmet's headers, then the
 * UNAUTHENTICATED gate. One middleware when helmet's headers could be recorded (the usual case),
 * since each router layer costs a little on every request.
 */
function preamble(
  helmetOptions: false | Parameters<typeof helmet>[0],
  getUserId: (req: Request) => unknown,
): RequestHandler[] {
  const gate = requireUser(getUserId);
  const headers = helmetFor(helmetOptions);
  const set = [NO_STORE, ...(typeof headers === "object" ? headers.set : [])];
  const remove = typeof headers === "object" ? headers.remove : [];
  const setHeaders = (res: Response): void => {
    for (const [name, value] of set) res.setHeader(name, value);
    for (const name of remove) res.removeHeader(name);
  };
  if (typeof headers === "function") {
    return [(_req: Request, res: Response, next: NextFunction) => (setHeaders(res), next()), headers, gate];
  }
  return [
    function byokPreamble(req: Request, res: Response, next: NextFunction): void {
      setHeaders(res);
      gate(req, res, next);
    },
  ];
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
  const common = preamble(parsed.helmet, parsed.getUserId);
  const parse = express.json({ limit: parsed.bodyLimit, strict: true, type: "application/json" });

  const routes = express.Router();
  routes.post(
    "/keys",
    ...common,
    ...limits.keys,
    jsonBody(parse, bodyCheck(registerKeyRules, { bodyRequired: true })),
    keys.register,
  );
  routes.get("/keys", ...common, ...limits.keys, keys.list);
  routes.delete(
    "/keys",
    ...common,
    ...limits.keys,
    jsonBody(parse, bodyCheck(deleteKeyRules, { bodyRequired: false })),
    keys.remove,
  );
  const chatBody = bodyCheck(chatRules, {
    bodyRequired: true,
    containers: chatContainerRules,
    accepts: isValidChatBody,
    then: checkPromptOrMessages,
  });
  routes.post("/chat", ...common, ...limits.chat, jsonBody(parse, chatBody), chatRoute(context));
  routes.get("/models", ...common, ...limits.chat, modelsRoute(context));
  // Inside `routes`, after them: only errors from the byok routes get here.
  routes.use(byokErrorHandler);

  const router = express.Router();
  router.use(attachAi(context, parsed.getUserId));
  router.use(parsed.basePath, routes);
  return router;
}

export type { RouterOptions, RateLimitWindow } from "./options.js";
