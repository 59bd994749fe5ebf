// Request-shape checks for the byok routes with express-validator: JSON only, allowed fields only, types and limits from core/validate.
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { body, checkExact, type ValidationChain, validationResult } from "express-validator";
import {
  API_KEY,
  CHAT_ROLES,
  MAX_MESSAGES,
  MAX_OUTPUT_TOKENS,
  MAX_TEMPERATURE,
  MODEL,
  PROVIDER_ID,
  invalid,
  isRecord,
} from "../core/validate.js";
import { ByokError } from "../errors.js";

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

const isString = (v: unknown): v is string => typeof v === "string";
const isProviderId = (v: unknown) => isString(v) && PROVIDER_ID.test(v);

/** Names of keys anywhere in the body that could reach an object's prototype. */
function forbiddenKeys(value: unknown, path: string, found: string[]): string[] {
  if (typeof value !== "object" || value === null) return found;
  for (const key of Object.keys(value)) {
    const here = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) found.push(here);
    else forbiddenKeys((value as Record<string, unknown>)[key], here, found);
  }
  return found;
}

/** 400 INVALID_REQUEST unless the body, if any, is declared as JSON (checked before parsing). */
function checkJsonType(req: Request): void {
  const length = req.headers["content-length"];
  const hasBody = req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
  if (hasBody && !req.is("application/json")) {
    throw new ByokError("INVALID_REQUEST", "Send the body as JSON with Content-Type: application/json.");
  }
}

/** Checks a parsed body in place: throws, or settles, with INVALID_REQUEST for a bad one. */
export type BodyCheck = (req: Request) => void | Promise<void>;

/**
 * Runs `chains` and rejects unknown body fields; every problem becomes one INVALID_REQUEST whose
 * `details.fields` names the fields (never their values). `containers` check arrays as a whole
 * (length) without making their items' unknown fields count as known. `accepts` is a fast path: a
 * body it accepts skips the chains (express-validator costs ~100 µs a request); anything else,
 * valid or not, goes through them, which name the bad fields. `then` runs last on a body that passed.
 */
export function bodyCheck(
  chains: ValidationChain[],
  {
    bodyRequired,
    containers = [],
    accepts,
    then,
  }: {
    bodyRequired: boolean;
    containers?: ValidationChain[];
    accepts?: (body: unknown) => boolean;
    then?: (body: Record<string, unknown>) => void;
  },
): BodyCheck {
  const exact = checkExact(chains, { locations: ["body"] });
  const run = async (req: Request): Promise<void> => {
    if (req.body === undefined || (bodyRequired && req.body === null)) req.body = {};
    if (!isRecord(req.body)) throw invalid("The request body must be a JSON object.", []);
    const dangerous = forbiddenKeys(req.body, "", []);
    if (dangerous.length) throw invalid(`Field names not allowed: ${dangerous.join(", ")}.`, dangerous);
    await exact.run(req);
    // Run after checkExact: a chain on a whole array would mark everything inside it as known.
    for (const chain of containers) await chain.run(req);
    const errors = validationResult(req).array();
    if (errors.length) {
      const fields = [
        ...new Set(
          errors.flatMap((e) =>
            e.type === "unknown_fields" ? e.fields.map((f) => f.path) : e.type === "field" ? [e.path] : [],
          ),
        ),
      ];
      const unknown = errors.some((e) => e.type === "unknown_fields");
      throw invalid(
        `${unknown ? "Unknown or invalid" : "Invalid"} field(s): ${fields.join(", ")}. See the byok-ai README for each route's fields.`,
        fields,
      );
    }
    then?.(req.body as Record<string, unknown>);
  };
  return (req) => {
    if (!accepts?.(req.body)) return run(req);
    then?.(req.body as Record<string, unknown>);
    return undefined;
  };
}

/**
 * One middleware for a JSON body: the Content-Type check, `parse` (express.json) and `check`, in
 * place of three router layers on every request.
 */
export function jsonBody(parse: RequestHandler, check: BodyCheck): RequestHandler {
  return function byokJsonBody(req: Request, res: Response, next: NextFunction): void {
    checkJsonType(req);
    void parse(req, res, (error?: unknown) => {
      if (error !== undefined) return next(error);
      let checked: void | Promise<void>;
      try {
        checked = check(req);
      } catch (e) {
        return next(e);
      }
      if (checked) checked.then(() => next(), next);
      else next();
    });
  };
}

/** `POST /keys`: `{ provider, apiKey }`. */
export const registerKeyRules: ValidationChain[] = [
  body("provider").custom(isProviderId),
  body("apiKey").custom((v) => isString(v) && API_KEY.test(v)),
];

/** `DELETE /keys`: `{ provider }` in the body, or nothing (then `?provider=`). */
export const deleteKeyRules: ValidationChain[] = [body("provider").optional().custom(isProviderId)];

/** `POST /chat`: ChatRequest fields (no `signal`) plus `stream`; limits as in core/validate. */
export const chatRules: ValidationChain[] = [
  body("prompt")
    .optional()
    .custom((v) => isString(v) && v.length > 0),
  body("messages.*.role")
    .if(body("messages").isArray())
    .custom((v) => isString(v) && CHAT_ROLES.has(v)),
  body("messages.*.content").if(body("messages").isArray()).custom(isString),
  body("system").optional().custom(isString),
  body("provider").optional().custom(isProviderId),
  body("model")
    .optional()
    .custom((v) => isString(v) && MODEL.test(v)),
  body("temperature")
    .optional()
    .custom((v) => typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= MAX_TEMPERATURE),
  body("maxTokens")
    .optional()
    .custom((v) => Number.isInteger(v) && v >= 1 && v <= MAX_OUTPUT_TOKENS),
  body("stream")
    .optional()
    .custom((v) => typeof v === "boolean"),
];

/** `POST /chat`, whole-array checks: 1 to MAX_MESSAGES messages. */
export const chatContainerRules: ValidationChain[] = [
  body("messages")
    .optional()
    .custom((v) => Array.isArray(v) && v.length >= 1 && v.length <= MAX_MESSAGES),
];

const CHAT_BODY_FIELDS = new Set([
  "prompt",
  "messages",
  "system",
  "provider",
  "model",
  "temperature",
  "maxTokens",
  "stream",
]);
const isPlainJsonObject = (v: unknown): v is Record<string, unknown> =>
  isRecord(v) && Object.getPrototypeOf(v) === Object.prototype;

function isValidMessage(m: unknown): boolean {
  if (!isPlainJsonObject(m)) return false;
  const keys = Object.keys(m);
  return keys.length === 2 && isString(m.role) && CHAT_ROLES.has(m.role) && isString(m.content);
}

/**
 * True only for a `POST /chat` body that {@link chatRules} and {@link chatContainerRules} accept
 * (a subset of what they accept: anything unusual returns false and goes through the chains).
 * Same limits, written out by hand.
 */
export function isValidChatBody(body: unknown): boolean {
  if (!isPlainJsonObject(body)) return false;
  for (const key of Object.keys(body)) if (!CHAT_BODY_FIELDS.has(key)) return false;
  const { prompt, messages, system, provider, model, temperature, maxTokens, stream } = body;
  if (prompt !== undefined && !(isString(prompt) && prompt.length > 0)) return false;
  if (
    messages !== undefined &&
    !(
      Array.isArray(messages) &&
      messages.length >= 1 &&
      messages.length <= MAX_MESSAGES &&
      messages.every(isValidMessage)
    )
  )
    return false;
  if (system !== undefined && !isString(system)) return false;
  if (provider !== undefined && !isProviderId(provider)) return false;
  if (model !== undefined && !(isString(model) && MODEL.test(model))) return false;
  if (
    temperature !== undefined &&
    !(
      typeof temperature === "number" &&
      Number.isFinite(temperature) &&
      temperature >= 0 &&
      temperature <= MAX_TEMPERATURE
    )
  )
    return false;
  if (
    maxTokens !== undefined &&
    !(typeof maxTokens === "number" && Number.isInteger(maxTokens) && maxTokens >= 1 && maxTokens <= MAX_OUTPUT_TOKENS)
  )
    return false;
  return stream === undefined || typeof stream === "boolean";
}
