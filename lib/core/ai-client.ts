// AiClient: chat, stream, keys and has for one user, with key lookup, decryption, deadlines and events.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { type CoreContext, DEFAULT_TIMEOUT_MS, providerFor, storeCall } from "./context.js";
import { listKeys } from "./keys.js";
import { listModels } from "./models.js";
import { type AbortLink, startDeadline } from "./deadline.js";
import type {
  AiClient,
  ChatRequest,
  ChatResponse,
  ChatStream,
  KeyInfo,
  KeyRecord,
  Provider,
  ProviderChatRequest,
} from "./types.js";
import { checkChatRequest, checkProviderId, checkUserId, toConversation } from "./validate.js";

const debug = debuglog("byok");

interface Resolved {
  id: string;
  provider: Provider;
  record: KeyRecord;
}

/** Picks the provider and its record: the one asked for, else `defaultProvider` if the user has it, else the user's only key. */
export async function resolveKey(
  context: CoreContext,
  userId: string,
  requested: string | undefined,
): Promise<Resolved> {
  if (requested !== undefined) {
    const provider = providerFor(context, requested);
    const record = await storeCall("get", () => context.store.get(userId, requested));
    if (!record) throw keyNotFound(requested);
    return { id: requested, provider, record };
  }
  const records = (await storeCall("list", () => context.store.list(userId))).filter((r) =>
    context.providers.has(r.provider),
  );
  const record =
    records.find((r) => r.provider === context.defaultProvider) ?? (records.length === 1 ? records[0] : undefined);
  if (!record) {
    throw new ByokError(
      "KEY_NOT_FOUND",
      records.length === 0
        ? "The user has no API key yet; add one first (POST /byok/keys or byok.registerKey)."
        : `The user has keys for several providers (${records.map((r) => r.provider).join(", ")}); pass \`provider\` to pick one.`,
    );
  }
  return { id: record.provider, provider: providerFor(context, record.provider), record };
}

function keyNotFound(provider: string): ByokError {
  return new ByokError(
    "KEY_NOT_FOUND",
    `The user has no ${provider} key; add one first (POST /byok/keys or byok.registerKey).`,
    { provider },
  );
}

function toProviderRequest(request: ChatRequest, provider: Provider): ProviderChatRequest {
  const out: ProviderChatRequest = { model: request.model ?? provider.defaultModel, ...toConversation(request) };
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.maxTokens !== undefined) out.maxTokens = request.maxTokens;
  return out;
}

/** `lastUsedAt` is written at most once per this interval per key: a store write on every chat would double the store traffic. */
export const TOUCH_INTERVAL_MS = 60_000;

/** Whether a record last used at `lastUsedAt` (ISO, or never) needs its `lastUsedAt` written now. */
export function needsTouch(lastUsedAt: string | undefined, now: number): boolean {
  if (lastUsedAt === undefined) return true;
  const last = Date.parse(lastUsedAt);
  return !(now - last < TOUCH_INTERVAL_MS); // also true for an unparsable date (NaN)
}

function failureCode(error: unknown): string {
  return ByokError.is(error) ? error.code : "ABORTED";
}

/** The checked user id, or UNAUTHENTICATED when there is none. */
function userOf(rawUserId: string | undefined): string {
  if (rawUserId === undefined)
    throw new ByokError("UNAUTHENTICATED", "No user on this request; sign the user in (getUserId returned nothing).");
  return checkUserId(rawUserId);
}

async function prepare(context: CoreContext, rawUserId: string | undefined, input: ChatRequest) {
  const request = checkChatRequest(input);
  const userId = userOf(rawUserId);
  if (request.signal?.aborted) throw request.signal.reason;
  const resolved = await resolveKey(context, userId, request.provider);
  await resolved.provider.load?.(); // before the deadline starts: a one-time SDK import is not upstream time
  const apiKey = context.vault.open(resolved.record.ciphertext, { userId, provider: resolved.id });
  return { request, userId, resolved, apiKey, providerRequest: toProviderRequest(request, resolved.provider) };
}

function succeeded(context: CoreContext, userId: string, resolved: Resolved, response: ChatResponse): void {
  const now = Date.now();
  if (needsTouch(resolved.record.lastUsedAt, now)) {
    void storeCall("touch", () => context.store.touch(userId, resolved.id, new Date(now).toISOString())).catch(
      (e: unknown) => debug("lastUsedAt update failed: %s", ByokError.is(e) ? e.code : "error"),
    );
  }
  context.emit("chat.completed", { userId, provider: resolved.id, model: response.model, usage: response.usage });
}

function failed(context: CoreContext, userId: string, provider: string, model: string, error: unknown): void {
  const code = failureCode(error);
  if (code === "KEY_REJECTED") context.emit("key.rejected", { userId, provider });
  context.emit("chat.failed", { userId, provider, model, code });
}

/** `AiClient.chat` for `rawUserId`; `link` lets the router cancel it without a signal of its own. */
export async function runChat(
  context: CoreContext,
  rawUserId: string | undefined,
  input: ChatRequest,
  link?: AbortLink,
): Promise<ChatResponse> {
  const { request, userId, resolved, apiKey, providerRequest } = await prepare(context, rawUserId, input);
  const deadline = startDeadline(resolved.provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, request.signal, link);
  try {
    // A signal that fired during the key lookup: some SDKs only listen for a *future* abort and would send the request anyway.
    deadline.signal.throwIfAborted();
    const result = await resolved.provider.doChat(providerRequest, { apiKey, signal: deadline.signal });
    const response: ChatResponse = {
      text: result.text,
      provider: resolved.id,
      model: result.model,
      finishReason: result.finishReason,
      usage: result.usage,
    };
    succeeded(context, userId, resolved, response);
    return response;
  } catch (error) {
    const translated = deadline.translate(error, resolved.id);
    failed(context, userId, resolved.id, providerRequest.model, translated);
    throw translated;
  } finally {
    deadline.dispose(false); // doChat has settled: nothing upstream is left to cancel
  }
}

/** `AiClient.stream` for `rawUserId`; `link` as in {@link runChat}. */
export function runStream(
  context: CoreContext,
  rawUserId: string | undefined,
  input: ChatRequest,
  link?: AbortLink,
): ChatStream {
  let settle!: { resolve: (r: ChatResponse) => void; reject: (e: unknown) => void };
  const response = new Promise<ChatResponse>((resolve, reject) => (settle = { resolve, reject }));
  response.catch(() => undefined); // the iterator reports the same error; an unread `response` must not crash the app
  async function* run(): AsyncGenerator<{ text: string }> {
    let prepared: Awaited<ReturnType<typeof prepare>>;
    try {
      prepared = await prepare(context, rawUserId, input);
    } catch (error) {
      settle.reject(error);
      throw error;
    }
    const { request, userId, resolved, apiKey, providerRequest } = prepared;
    const deadline = startDeadline(resolved.provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, request.signal, link);
    let text = "";
    let done = false;
    try {
      deadline.signal.throwIfAborted(); // as in runChat
      for await (const part of resolved.provider.doStream(providerRequest, { apiKey, signal: deadline.signal })) {
        deadline.refresh();
        if (part.type === "text") {
          if (part.text.length === 0) continue;
          text += part.text;
          yield { text: part.text };
        } else {
          const result: ChatResponse = {
            text,
            provider: resolved.id,
            model: part.model,
            finishReason: part.finishReason,
            usage: part.usage,
          };
          done = true;
          succeeded(context, userId, resolved, result);
          settle.resolve(result);
        }
      }
      if (!done)
        throw new ByokError("PROVIDER_ERROR", `The ${resolved.id} stream ended before it finished; try again.`, {
          provider: resolved.id,
        });
    } catch (error) {
      const translated = deadline.translate(error, resolved.id);
      failed(context, userId, resolved.id, providerRequest.model, translated);
      settle.reject(translated);
      throw translated;
    } finally {
      if (!done) {
        // The consumer stopped early (break/return): settle `response` and let dispose() cancel the upstream call.
        settle.reject(new DOMException("The stream was closed before it finished.", "AbortError"));
      }
      deadline.dispose(!done); // cancels the upstream call only when the stream was left early
    }
  }
  let iterated = false;
  return {
    response,
    [Symbol.asyncIterator]() {
      if (iterated) throw new ByokError("INVALID_REQUEST", "A ChatStream can be iterated only once.");
      iterated = true;
      return run();
    },
  };
}

/** Creates the AiClient for `userId` (`undefined`: every call rejects UNAUTHENTICATED). Cheap: no I/O until a method runs. */
export function createAiClient(context: CoreContext, rawUserId: string | undefined): AiClient {
  const user = (): string => userOf(rawUserId);
  return {
    chat: (input) => runChat(context, rawUserId, input),
    stream: (input) => runStream(context, rawUserId, input),

    keys: async (): Promise<KeyInfo[]> => listKeys(context, user()),
    models: async (provider) => listModels(context, user(), provider),

    async has(provider) {
      const userId = user();
      if (provider === undefined)
        return (await storeCall("list", () => context.store.list(userId))).some((r) =>
          context.providers.has(r.provider),
        );
      providerFor(context, checkProviderId(provider));
      return (await storeCall("get", () => context.store.get(userId, provider))) !== undefined;
    },
  };
}
