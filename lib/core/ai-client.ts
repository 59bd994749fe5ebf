// AiClient: chat, stream, keys, has and connection for one user, with key lookup, decryption, deadlines and events.
import { ByokError, type ByokErrorCode } from "../errors.js";
import { type CoreContext, DEFAULT_TIMEOUT_MS, providerFor, storeCall } from "./context.js";
import { listKeys } from "./keys.js";
import { checkKey, noteKeyOutcome } from "./key-health.js";
import { startDeadline } from "./deadline.js";
import { type Operation, startOperation } from "./events.js";
import { listModels } from "./models.js";
import type {
  AiClient,
  ChatRequest,
  ChatResponse,
  ChatStream,
  KeyInfo,
  Provider,
  ProviderChatRequest,
  Usage,
} from "./types.js";
import { checkChatRequest, checkProviderId, toConversation } from "./validate.js";
import { openConnection } from "./connection.js";
import { type Resolved, resolveKey, touchIfDue, userOf } from "./key-choice.js";

function toProviderRequest(request: ChatRequest, provider: Provider): ProviderChatRequest {
  const out: ProviderChatRequest = { model: request.model ?? provider.defaultModel, ...toConversation(request) };
  if (request.temperature !== undefined) out.temperature = request.temperature;
  if (request.maxTokens !== undefined) out.maxTokens = request.maxTokens;
  return out;
}

/** A ByokError's code; anything else a call rejects with is the caller's own abort reason. */
function failureCode(error: unknown): ByokErrorCode {
  return ByokError.is(error) ? error.code : "ABORTED";
}

/** Finds the provider and key record a chat needs (for `userId` and the requested provider, if any). */
type KeyLookup = (userId: string, provider: string | undefined) => Promise<Resolved>;

async function prepare(context: CoreContext, rawUserId: string | undefined, input: ChatRequest, lookup: KeyLookup) {
  const request = checkChatRequest(input);
  const userId = userOf(rawUserId);
  if (request.signal?.aborted) throw request.signal.reason;
  const resolved = await lookup(userId, request.provider);
  await resolved.provider.load?.(); // before the deadline starts: a one-time SDK import is not upstream time
  const apiKey = await context.vault.open(resolved.record.ciphertext, { userId, provider: resolved.id });
  return { request, userId, resolved, apiKey, providerRequest: toProviderRequest(request, resolved.provider) };
}

function succeeded(
  context: CoreContext,
  operation: Operation,
  userId: string,
  resolved: Resolved,
  response: ChatResponse,
): void {
  touchIfDue(context, userId, resolved.id, resolved.record.lastUsedAt);
  noteKeyOutcome(context, resolved.record, "ok");
  const { model, usage } = response;
  context.emit("chat.completed", operation, { userId, provider: resolved.id, model, usage });
}

/** `usage`: what the provider had reported before a stream broke or was aborted, if anything. */
function failed(
  context: CoreContext,
  operation: Operation,
  { userId, resolved, model }: { userId: string; resolved: Resolved; model: string },
  error: unknown,
  usage?: Usage,
): void {
  const code = failureCode(error);
  const provider = resolved.id;
  if (code === "KEY_REJECTED") {
    noteKeyOutcome(context, resolved.record, "invalid");
    context.emit("key.rejected", operation, { userId, provider });
  }
  context.emit("chat.failed", operation, { userId, provider, model, code, ...(usage ? { usage } : {}) });
}

/** `AiClient.chat` for `rawUserId`. */
async function runChat(
  context: CoreContext,
  rawUserId: string | undefined,
  input: ChatRequest,
  lookup: KeyLookup,
): Promise<ChatResponse> {
  const operation = startOperation(context.requestId);
  const { request, userId, resolved, apiKey, providerRequest } = await prepare(context, rawUserId, input, lookup);
  const deadline = startDeadline(resolved.provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, request.signal);
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
    succeeded(context, operation, userId, resolved, response);
    return response;
  } catch (error) {
    const translated = deadline.translate(error, resolved.id);
    failed(context, operation, { userId, resolved, model: providerRequest.model }, translated);
    throw translated;
  } finally {
    deadline.dispose(false); // doChat has settled: nothing upstream is left to cancel
  }
}

/** `AiClient.stream` for `rawUserId`. */
function runStream(
  context: CoreContext,
  rawUserId: string | undefined,
  input: ChatRequest,
  lookup: KeyLookup,
): ChatStream {
  let settle!: { resolve: (r: ChatResponse) => void; reject: (e: unknown) => void };
  const response = new Promise<ChatResponse>((resolve, reject) => (settle = { resolve, reject }));
  response.catch(() => undefined); // the iterator reports the same error; an unread `response` must not crash the app
  async function* run(): AsyncGenerator<{ text: string }> {
    const operation = startOperation(context.requestId);
    let prepared: Awaited<ReturnType<typeof prepare>>;
    try {
      prepared = await prepare(context, rawUserId, input, lookup);
    } catch (error) {
      settle.reject(error);
      throw error;
    }
    const { request, userId, resolved, apiKey, providerRequest } = prepared;
    const deadline = startDeadline(resolved.provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, request.signal);
    const call = { userId, resolved, model: providerRequest.model };
    let text = "";
    let done = false;
    let reported = false; // chat.completed or chat.failed went out
    let usage: Usage | undefined; // the latest usage the provider reported mid-stream
    try {
      deadline.signal.throwIfAborted(); // as in runChat
      for await (const part of resolved.provider.doStream(providerRequest, { apiKey, signal: deadline.signal })) {
        deadline.refresh();
        if (part.type === "text") {
          if (part.text.length === 0) continue;
          text += part.text;
          yield { text: part.text };
        } else if (part.type === "usage") {
          usage = part.usage;
        } else {
          const result: ChatResponse = {
            text,
            provider: resolved.id,
            model: part.model,
            finishReason: part.finishReason,
            usage: part.usage,
          };
          done = reported = true;
          succeeded(context, operation, userId, resolved, result);
          settle.resolve(result);
        }
      }
      if (!done)
        throw new ByokError("PROVIDER_ERROR", `The ${resolved.id} stream ended before it finished; try again.`, {
          provider: resolved.id,
        });
    } catch (error) {
      const translated = deadline.translate(error, resolved.id);
      reported = true;
      failed(context, operation, call, translated, usage);
      settle.reject(translated);
      throw translated;
    } finally {
      if (!done) {
        // The consumer stopped early (break/return): settle `response` and let dispose() cancel the upstream call.
        const closed = new DOMException("The stream was closed before it finished.", "AbortError");
        if (!reported) failed(context, operation, call, closed, usage); // chat.failed ABORTED, with the usage so far
        settle.reject(closed);
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

/** @internal The key of {@link KeyLookupHook}'s method. */
export const START_KEY_LOOKUP = Symbol("byok-ai.startKeyLookup");

/** @internal What the router's clients have beyond the public AiClient. */
export interface KeyLookupHook {
  [START_KEY_LOOKUP](provider: string | undefined): void;
}

/**
 * @internal Starts, now, the key lookup that this client's next `chat` or `stream` for `provider`
 * will need, so that the store read runs while the router counts the request against its rate limit
 * (both commands in flight together: one store round trip instead of two, one after the other). The
 * next call for that provider takes the lookup over; a request stopped in between (429) leaves it
 * unused. It reads the store only: nothing reaches the provider until `chat`/`stream` runs.
 */
export function startKeyLookup(client: AiClient, provider: string | undefined): void {
  (client as Partial<KeyLookupHook>)[START_KEY_LOOKUP]?.(provider);
}

/** Creates the AiClient for `userId` (`undefined`: every call rejects UNAUTHENTICATED). Cheap: no I/O until a method runs. */
export function createAiClient(context: CoreContext, rawUserId: string | undefined): AiClient & KeyLookupHook {
  const user = (): string => userOf(rawUserId);
  let started: { provider: string | undefined; lookup: Promise<Resolved> } | undefined;
  const lookup: KeyLookup = (userId, provider) => {
    const early = started;
    started = undefined; // taken once: a later call reads the store afresh
    return early && early.provider === provider ? early.lookup : resolveKey(context, userId, provider);
  };
  return {
    chat: (input) => runChat(context, rawUserId, input, lookup),
    stream: (input) => runStream(context, rawUserId, input, lookup),

    keys: async (): Promise<KeyInfo[]> => listKeys(context, user()),
    connection: (provider) => openConnection(context, rawUserId, provider),
    checkKey: async (provider) => checkKey(context, user(), provider),
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

    [START_KEY_LOOKUP](provider) {
      const early = (async () => resolveKey(context, user(), provider))();
      early.catch(() => undefined); // unused when the request stops first (429); the chat reports it otherwise
      started = { provider, lookup: early };
    },
  };
}
