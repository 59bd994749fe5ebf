// Input limits shared by the BYOK methods and the router: user ids, provider ids, API keys and chat requests.
import { ByokError } from "../errors.js";
import type { ChatMessage, ChatRequest } from "./types.js";

/** Provider ids: lower-case letter first, then up to 31 of `a-z 0-9 _ -`. */
export const PROVIDER_ID = /^[a-z][a-z0-9_-]{0,31}$/;
/** API keys: 8–512 printable ASCII characters, no whitespace. */
export const API_KEY = /^[\x21-\x7e]{8,512}$/;
/** Model names: letters, digits and `. _ - : / @`, at most 128 characters, no `..`. */
export const MODEL = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;
export const MAX_USER_ID = 256;
export const MAX_MESSAGES = 200;
/** Highest `temperature` accepted (lowest is 0). */
export const MAX_TEMPERATURE = 2;
/** Highest `maxTokens` accepted (lowest is 1). */
export const MAX_OUTPUT_TOKENS = 1_000_000;
/** Roles a chat message may have. */
export const CHAT_ROLES: ReadonlySet<string> = new Set(["system", "user", "assistant"]);

/** An INVALID_REQUEST naming the offending fields (never their values). */
export const invalid = (message: string, fields: string[]) =>
  new ByokError("INVALID_REQUEST", message, { details: { fields } });

/**
 * A field name a client sent may be repeated in an answer only if it is a plain identifier, alone
 * or inside a chat message (`messages[0].name`).
 */
const PLAIN_NAME = /^(?:messages\[\d{1,3}\]\.)?[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** At most this many client-sent names are repeated in one answer. */
const NAMES_REPEATED = 5;

/**
 * How an answer may mention field names the client sent (unknown fields, or fields refused for
 * nesting), at any depth: the first {@link NAMES_REPEATED} plain identifiers by name (`fields`), the
 * rest only counted (`text`), so no markup, quote or path the client chose comes back, and a body of
 * thousands of unknown fields answers in a few lines.
 */
export function clientFieldNames(names: readonly string[]): { fields: string[]; text: string } {
  const unique = [...new Set(names)];
  const fields = unique.filter((name) => PLAIN_NAME.test(name)).slice(0, NAMES_REPEATED);
  const unnamed = unique.length - fields.length;
  if (fields.length === 0) return { fields, text: `${unnamed}, whose names are not repeated here` };
  return { fields, text: `${fields.join(", ")}${unnamed ? ` and ${unnamed} more` : ""}` };
}

/**
 * A plain object (an object literal, parsed JSON, or `Object.create(null)`): the one shape check for
 * options, arguments, bodies and messages. Arrays, class instances and functions are not.
 */
export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" &&
  v !== null &&
  !Array.isArray(v) &&
  [Object.prototype, null].includes(Object.getPrototypeOf(v));

/**
 * Where a team's keys live in a store: its owner id is this mark, then the team id. U+FFFF is a Unicode
 * noncharacter that no user id or team id may hold, so no id can ever name another owner's records.
 */
export const TEAM_OWNER_MARK = "\uFFFFteam:";

// A lone surrogate cannot be encoded as UTF-8 (it would become U+FFFF and collide with another id),
// PostgreSQL text cannot hold NUL, and U+FFFF marks team owners: refuse all three everywhere, so every
// store accepts the same ids and keeps every owner apart.
// eslint-disable-next-line no-control-regex -- NUL is exactly what must be refused
const UNSTORABLE = /[\p{Cs}\u0000\uFFFF]/u;

/**
 * @throws ByokError INVALID_REQUEST naming `field` unless a string of 1–256 characters of well-formed
 * Unicode without NUL or U+FFFF (no store could keep such ids apart from others)
 */
function checkId(id: unknown, field: "userId" | "teamId" | "actorId"): string {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_USER_ID) {
    throw invalid(`${field} must be a string of 1 to ${MAX_USER_ID} characters.`, [field]);
  }
  if (UNSTORABLE.test(id))
    throw invalid(`${field} must be well-formed Unicode without NUL or U+FFFF characters.`, [field]);
  return id;
}

/** @throws ByokError INVALID_REQUEST unless a valid user id (see {@link checkId}). */
export const checkUserId = (userId: unknown): string => checkId(userId, "userId");

/** @throws ByokError INVALID_REQUEST unless a valid team id (the same rules as a user id). */
export const checkTeamId = (teamId: unknown): string => checkId(teamId, "teamId");

/** @throws ByokError INVALID_REQUEST unless a valid actor id (who acted on a team's keys: a user id). */
export const checkActorId = (actorId: unknown): string => checkId(actorId, "actorId");

/**
 * What a store keeps records under: a user id, or a team's owner id ({@link TEAM_OWNER_MARK} and the team id).
 * @throws ByokError INVALID_REQUEST unless one of them
 */
export function checkOwnerId(ownerId: unknown): string {
  if (typeof ownerId === "string" && ownerId.startsWith(TEAM_OWNER_MARK)) {
    checkTeamId(ownerId.slice(TEAM_OWNER_MARK.length));
    return ownerId;
  }
  return checkUserId(ownerId);
}

/**
 * Why a key's `endpoint` was refused: the `details.reason` of its INVALID_REQUEST (the value itself is
 * never repeated). See docs/self-hosted-endpoints.md for each code.
 */
export type EndpointRefusalReason =
  | "missing"
  | "not_accepted"
  | "not_a_url"
  | "not_https"
  | "has_credentials"
  | "has_query"
  | "trailing_dot"
  | "not_origin"
  | "host_not_allowed"
  | "private_address"
  | "unresolvable"
  | "check_failed";

/** INVALID_REQUEST naming the `endpoint` field (never its value), with why in `details.reason`. */
export const endpointRefused = (message: string, reason: EndpointRefusalReason) =>
  new ByokError("INVALID_REQUEST", message, { details: { fields: ["endpoint"], reason } });

/** @throws ByokError INVALID_REQUEST unless a well-formed provider id. */
export function checkProviderId(provider: unknown, field = "provider"): string {
  if (typeof provider !== "string" || !PROVIDER_ID.test(provider)) {
    throw invalid(
      `${field} must be a provider id such as "my-provider" (lower-case letters, digits, "-" or "_", at most 32 characters).`,
      [field],
    );
  }
  return provider;
}

/** @throws ByokError INVALID_REQUEST unless 8–512 printable ASCII characters without whitespace. */
export function checkApiKey(apiKey: unknown): string {
  if (typeof apiKey !== "string" || !API_KEY.test(apiKey)) {
    const what =
      typeof apiKey !== "string" ? `a ${apiKey === null ? "null" : typeof apiKey}` : `${apiKey.length} characters`;
    throw invalid(
      `apiKey must be 8 to 512 printable ASCII characters with no spaces or control characters (got ${what}). Paste the key exactly as the provider shows it.`,
      ["apiKey"],
    );
  }
  return apiKey;
}

const LABEL = /^[A-Za-z0-9 _.-]{1,64}$/;

/** @throws ByokError INVALID_REQUEST unless a label of 1–64 letters, digits, spaces, `_`, `.` or `-`. */
export function checkLabel(label: unknown): string {
  if (typeof label !== "string" || !LABEL.test(label))
    throw invalid('label must be 1 to 64 letters, digits, spaces, "_", "." or "-", e.g. "work" or "backup 2".', [
      "label",
    ]);
  return label;
}

/** Lowest and highest `priority` (PostgreSQL's integer). */
const PRIORITY_RANGE = 2 ** 31 - 1;

/** @throws ByokError INVALID_REQUEST unless a whole number (lower comes first in the key chain). */
export function checkPriority(priority: unknown): number {
  if (typeof priority !== "number" || !Number.isInteger(priority) || Math.abs(priority) > PRIORITY_RANGE)
    throw invalid("priority must be a whole number; lower comes first in the key chain (default 0).", ["priority"]);
  return priority;
}

/**
 * The ISO-8601 instant of `expiresAt`, which must be in the future.
 * @throws ByokError INVALID_REQUEST naming `expiresAt`
 */
export function checkExpiresAt(expiresAt: unknown, now = Date.now()): string {
  const at = typeof expiresAt === "string" && expiresAt.length <= 40 ? Date.parse(expiresAt) : NaN;
  if (Number.isNaN(at))
    throw invalid('expiresAt must be an ISO-8601 date and time, e.g. "2027-01-31T00:00:00Z".', ["expiresAt"]);
  if (!(at > now)) throw invalid("expiresAt must be in the future.", ["expiresAt"]);
  return new Date(at).toISOString();
}

/** Most model ids one key may list. */
const MAX_MODELS = 100;

/** @throws ByokError INVALID_REQUEST unless 1–100 model ids of 1–200 characters (duplicates dropped). */
export function checkModels(models: unknown): string[] {
  if (
    !Array.isArray(models) ||
    models.length === 0 ||
    models.length > MAX_MODELS ||
    !models.every((m) => typeof m === "string" && m.length > 0 && m.length <= 200)
  )
    throw invalid(
      `models must be a list of 1 to ${MAX_MODELS} model ids (the models this key may serve); leave it out for any model.`,
      ["models"],
    );
  return [...new Set(models as string[])];
}

/** The JSON type of a field that can arrive in a JSON body. */
export type JsonType = "string" | "number" | "boolean" | "array" | "object";

/**
 * ChatRequest's fields that can come as JSON, with their JSON types: the one list the core's check
 * and the router's body envelope (plus `stream`) are built from. `signal` is the one other field.
 */
export const CHAT_REQUEST_FIELDS = Object.freeze({
  prompt: "string",
  messages: "array",
  system: "string",
  provider: "string",
  model: "string",
  temperature: "number",
  maxTokens: "number",
} as const satisfies Record<string, JsonType>);

/**
 * What a key registration takes from a client (`POST /keys`; exactly one of `apiKey` / `credential`, the
 * latter for providers whose credential is several fields; `endpoint` only for providers whose keys carry
 * one); `registerKey` adds the server's own fields.
 */
export const REGISTER_KEY_FIELDS = Object.freeze({
  provider: "string",
  apiKey: "string",
  credential: "object",
  endpoint: "string",
  label: "string",
  priority: "number",
  expiresAt: "string",
  models: "array",
} as const satisfies Record<string, JsonType>);

const CHAT_FIELDS = new Set([...Object.keys(CHAT_REQUEST_FIELDS), "signal"]);
const ROLES = CHAT_ROLES;

/** @throws ByokError INVALID_REQUEST unless exactly one of `prompt` / `messages` is given. */
function checkPromptOrMessages({ prompt, messages }: Record<string, unknown>): void {
  if ((prompt === undefined) === (messages === undefined)) {
    throw invalid("Give exactly one of `prompt` (a string) or `messages` (an array).", ["prompt", "messages"]);
  }
}

/**
 * Checks a ChatRequest's shape and limits, field by field.
 * @throws ByokError INVALID_REQUEST with `details.fields` naming every bad field (never values)
 */

export function checkChatRequest(input: unknown): ChatRequest {
  if (!isPlainObject(input)) throw invalid("The chat request must be an object with `prompt` or `messages`.", []);
  const unknownTop = Object.keys(input).filter((key) => !CHAT_FIELDS.has(key));
  if (unknownTop.length) {
    const unknown = clientFieldNames(unknownTop);
    throw invalid(
      `Unknown field(s) in the chat request: ${unknown.text}. Allowed: ${[...CHAT_FIELDS].join(", ")}.`,
      unknown.fields,
    );
  }
  checkPromptOrMessages(input);
  const bad: string[] = [];
  const unknownInMessages: string[] = [];
  const { prompt, messages, system, provider, model, temperature, maxTokens, signal } = input;
  if (prompt !== undefined && (typeof prompt !== "string" || prompt.length === 0)) bad.push("prompt");
  if (messages !== undefined) {
    if (!Array.isArray(messages) || messages.length === 0 || messages.length > MAX_MESSAGES) bad.push("messages");
    else
      messages.forEach((m: unknown, i) => {
        if (!isPlainObject(m)) return void bad.push(`messages[${i}]`);
        for (const key of Object.keys(m))
          if (key !== "role" && key !== "content") unknownInMessages.push(`messages[${i}].${key}`);
        if (typeof m.role !== "string" || !ROLES.has(m.role)) bad.push(`messages[${i}].role`);
        if (typeof m.content !== "string") bad.push(`messages[${i}].content`);
      });
    if (!bad.length && !unknownInMessages.length && (messages as ChatMessage[]).every((m) => m.role === "system"))
      bad.push("messages");
  }
  if (system !== undefined && typeof system !== "string") bad.push("system");
  if (provider !== undefined && (typeof provider !== "string" || !PROVIDER_ID.test(provider))) bad.push("provider");
  if (model !== undefined && (typeof model !== "string" || !MODEL.test(model))) bad.push("model");
  if (
    temperature !== undefined &&
    (typeof temperature !== "number" ||
      !Number.isFinite(temperature) ||
      temperature < 0 ||
      temperature > MAX_TEMPERATURE)
  )
    bad.push("temperature");
  if (
    maxTokens !== undefined &&
    (typeof maxTokens !== "number" || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_OUTPUT_TOKENS)
  )
    bad.push("maxTokens");
  if (signal !== undefined && !(signal instanceof AbortSignal)) bad.push("signal");
  if (bad.length || unknownInMessages.length) {
    // The invalid fields are the request's own names; the unknown ones inside messages are the client's.
    const unknown = clientFieldNames(unknownInMessages);
    const problems = [
      ...(bad.length ? [`Invalid chat request field(s): ${bad.join(", ")}.`] : []),
      ...(unknownInMessages.length ? [`Unknown field(s) in messages: ${unknown.text}.`] : []),
    ];
    throw invalid(
      `${problems.join(" ")} prompt: non-empty string; messages: 1-${MAX_MESSAGES} items of { role: "system" | "user" | "assistant", content: string }; temperature: 0-2; maxTokens: whole number >= 1; model: a model name.`,
      [...bad, ...unknown.fields],
    );
  }
  return input as ChatRequest;
}

/** Splits system messages out of a conversation; a plain prompt becomes one user message. */
export function toConversation(request: ChatRequest): {
  system?: string;
  messages: { role: "user" | "assistant"; content: string }[];
} {
  const all: ChatMessage[] = request.messages ?? [{ role: "user", content: request.prompt ?? "" }];
  const systems = [request.system, ...all.filter((m) => m.role === "system").map((m) => m.content)].filter(
    (s): s is string => typeof s === "string" && s.length > 0,
  );
  const messages = all.filter((m): m is { role: "user" | "assistant"; content: string } => m.role !== "system");
  return systems.length ? { system: systems.join("\n\n"), messages } : { messages };
}

/** `input` as a record with only `allowed` keys, for the core's object arguments. */
export function checkObject(input: unknown, allowed: Set<string>, what: string): Record<string, unknown> {
  if (!isPlainObject(input)) throw invalid(`${what} takes an object.`, []);
  const unknown = Object.keys(input).filter((k) => !allowed.has(k));
  if (unknown.length)
    throw new ByokError("INVALID_REQUEST", `${what}: unknown field(s) ${unknown.join(", ")}.`, {
      details: { fields: unknown },
    });
  return input as Record<string, unknown>;
}

/** `requestId` as given (a non-empty string of at most 128 characters), or `undefined`. */
export function checkRequestId(requestId: unknown): string | undefined {
  if (requestId === undefined) return undefined;
  if (typeof requestId !== "string" || requestId.length === 0 || requestId.length > 128)
    throw invalid("requestId must be a string of 1 to 128 characters.", ["requestId"]);
  return requestId;
}

/** `signal` as given (an AbortSignal), or `undefined`. */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalid("signal must be an AbortSignal.", ["signal"]);
  return signal;
}
