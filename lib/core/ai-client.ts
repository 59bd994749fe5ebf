// AiClient: chat, stream, keys, has and connection for one user, with key lookup, decryption, deadlines and events.
import { ByokError, type ByokErrorCode } from "../errors.js";
import { callSignal, type CoreContext, DEFAULT_TIMEOUT_MS, providerFor, sealContextOf } from "./context.js";
import { listKeys } from "./keys.js";
import { checkKey, noteKeyOutcome } from "./key-health.js";
import { keyVerdictOf } from "./key-verdict.js";
import { isPlatformRecord } from "./platform-keys.js";
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
import {
  checkChatRequest,
  checkObject,
  checkProviderId,
  checkRequestId,
  checkSignal,
  checkTeamId,
  invalid,
  toConversation,
} from "./validate.js";
import { openConnection } from "./connection.js";
import { estimateChat, type MeterSubject, priceUsage, readUsage, startMeter } from "./metering.js";
import type { Cost } from "./pricing.js";
import {
  hasKey,
  KeyChain,
  keyNaming,
  type Resolved,
  resolveChain,
  servingKey,
  touchIfDue,
  userOf,
  whoCalled,
} from "./key-choice.js";

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

/** Checks the request and finds the key chain; a lookup that finds no key is reported as `chat.failed`. */
async function prepare(context: CoreContext, operation: Operation, rawUserId: string | undefined, input: ChatRequest) {
  const checked = checkChatRequest(input);
  const userId = userOf(rawUserId);
  const request: ChatRequest = { ...checked, signal: callSignal(context, checked.signal) };
  if (request.signal?.aborted) throw request.signal.reason;
  const choice = await resolveChain(context, userId, request.provider, request.model).catch((error: unknown) => {
    if (ByokError.is(error) && error.code === "KEY_NOT_FOUND") {
      const provider = request.provider ?? context.defaultProvider;
      const model = request.model ?? context.providers.get(provider)?.defaultModel ?? "";
      context.emit("chat.failed", operation, { userId, provider, model, code: error.code });
    }
    throw error;
  });
  await choice.provider.load?.(); // before the deadline starts: a one-time SDK import is not upstream time
  const providerRequest = toProviderRequest(request, choice.provider);
  const candidates = choice.candidates.slice(0, context.maxAttempts);
  return { request, userId, candidates, providerRequest };
}

type Prepared = Awaited<ReturnType<typeof prepare>>;

/** One key's turn: its budget reserved (per the scopes of whose key it is) and the key opened for the call. */
async function engage(context: CoreContext, operation: Operation, prepared: Prepared, resolved: Resolved) {
  const { userId, providerRequest } = prepared;
  const { pricing } = resolved.provider;
  const platform = isPlatformRecord(resolved.record);
  const subject: MeterSubject = {
    ...whoCalled(userId, resolved),
    provider: resolved.id,
    model: providerRequest.model,
    ...(pricing ? { pricing } : {}),
    ...(platform ? { platform } : {}),
  };
  const meter = await startMeter(context, subject, estimateChat(providerRequest)).catch((error: unknown) => {
    if (ByokError.is(error) && error.code === "BUDGET_EXCEEDED")
      context.emit("chat.failed", operation, { ...subject, ...keyNaming(resolved), code: error.code });
    throw error;
  });
  let apiKey: string;
  try {
    apiKey = platform
      ? context.platformKeys.reveal(resolved.id)!
      : await context.vault.open(resolved.record.ciphertext, sealContextOf(resolved.record));
  } catch (error) {
    await meter.end({}); // nothing was sent: the reservation is released
    throw error;
  }
  return { meter, subject, call: { apiKey, endpoint: resolved.record.endpoint } };
}

/** A finished call's usage with its cost (see {@link priceUsage}), for its response, its event and its meter. */
function priced(context: CoreContext, subject: MeterSubject, model: string, usage: Usage) {
  const { usage: withCost, cost } = priceUsage(context, { ...subject, model }, usage);
  return { usage: withCost, cost: cost ?? null };
}

/** What an event says of a call's price: the table's version when the table priced it. */
const priceFields = (cost: Cost | null | undefined) => (cost?.version ? { priceVersion: cost.version } : {});

/**
 * Whether a failure of one key's turn moves the call to the next key: the provider refused the key itself (a
 * verdict of invalid, out of quota or rate limited), or the key does not decrypt (found before anything was sent).
 */
function failsOver(error: unknown): boolean {
  return keyVerdictOf(error) !== undefined || (ByokError.is(error) && error.code === "KEY_UNREADABLE");
}

/**
 * Runs `turn` with each candidate key in order until one serves: a key refused before anything reached the caller
 * (see {@link failsOver}) has its status noted, emits `key.failover`, and the next key takes its place. Any other
 * failure, or the last key's, is the call's.
 */
async function withFailover<T>(
  context: CoreContext,
  operation: Operation,
  prepared: Prepared,
  turn: (resolved: Resolved, last: boolean) => Promise<T>,
): Promise<T> {
  const { candidates, userId, providerRequest } = prepared;
  for (let i = 0; ; i++) {
    const resolved = candidates[i]!;
    const last = i === candidates.length - 1;
    try {
      return await turn(resolved, last);
    } catch (error) {
      if (last || !failsOver(error) || prepared.request.signal?.aborted) throw error;
      noteKeyOutcome(context, operation, userId, resolved, { error });
      context.emit("key.failover", operation, {
        ...whoCalled(userId, resolved),
        ...keyNaming(resolved),
        provider: resolved.id,
        hint: resolved.record.hint,
        model: providerRequest.model,
        code: failureCode(error),
      });
    }
  }
}

function succeeded(
  context: CoreContext,
  operation: Operation,
  userId: string,
  resolved: Resolved,
  response: ChatResponse,
  cost: Cost | null,
): void {
  touchIfDue(context, resolved.record, resolved.record.lastUsedAt);
  noteKeyOutcome(context, operation, userId, resolved, "ok");
  const { model, usage } = response;
  context.emit("chat.completed", operation, {
    ...whoCalled(userId, resolved),
    ...keyNaming(resolved),
    provider: resolved.id,
    model,
    usage,
    ...priceFields(cost),
  });
}

/** `usage`: what the provider had reported before a stream broke or was aborted, if anything. */
function failed(
  context: CoreContext,
  operation: Operation,
  { userId, resolved, model }: { userId: string; resolved: Resolved; model: string },
  error: unknown,
  usage?: { usage: Usage; cost: Cost | null },
): void {
  const code = failureCode(error);
  const provider = resolved.id;
  const who = whoCalled(userId, resolved);
  noteKeyOutcome(context, operation, userId, resolved, { error });
  if (code === "KEY_REJECTED") context.emit("key.rejected", operation, { ...who, provider });
  context.emit("chat.failed", operation, {
    ...who,
    ...keyNaming(resolved),
    provider,
    model,
    code,
    ...(usage ? { usage: usage.usage, ...priceFields(usage.cost) } : {}),
  });
}

/** `AiClient.chat` for `rawUserId`. */
async function runChat(context: CoreContext, rawUserId: string | undefined, input: ChatRequest): Promise<ChatResponse> {
  const operation = startOperation(context.requestId);
  const prepared = await prepare(context, operation, rawUserId, input);
  const { request, userId, providerRequest } = prepared;
  return withFailover(context, operation, prepared, async (resolved, last) => {
    const { meter, call, subject } = await engage(context, operation, prepared, resolved);
    const deadline = startDeadline(resolved.provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, request.signal);
    let sent = false; // the request went to the provider: from here on, an abort leaves it billing the prompt
    try {
      // A signal that fired during the key lookup: some SDKs only listen for a *future* abort and would send the request anyway.
      deadline.signal.throwIfAborted();
      sent = true;
      const result = await resolved.provider.doChat(providerRequest, { ...call, signal: deadline.signal });
      const { usage, cost } = priced(context, subject, result.model, result.usage);
      const response: ChatResponse = {
        text: result.text,
        provider: resolved.id,
        model: result.model,
        finishReason: result.finishReason,
        usage,
        key: servingKey(resolved),
      };
      void meter.end({ model: response.model, usage, cost });
      succeeded(context, operation, userId, resolved, response, cost);
      return response;
    } catch (error) {
      // A chat the caller aborted once it was sent counts, as a cut stream does, from its reservation (no
      // answer, no figures); one that failed was not served: its reservation is released.
      await meter.end({ started: sent && request.signal?.aborted === true });
      const translated = deadline.translate(error, resolved.id);
      if (last || !failsOver(translated))
        failed(context, operation, { userId, resolved, model: providerRequest.model }, translated);
      throw translated;
    } finally {
      deadline.dispose(false); // doChat has settled: nothing upstream is left to cancel
    }
  });
}

/** `AiClient.stream` for `rawUserId`. */
function runStream(context: CoreContext, rawUserId: string | undefined, input: ChatRequest): ChatStream {
  let settle!: { resolve: (r: ChatResponse) => void; reject: (e: unknown) => void };
  const response = new Promise<ChatResponse>((resolve, reject) => (settle = { resolve, reject }));
  response.catch(() => undefined); // the iterator reports the same error; an unread `response` must not crash the app
  async function* run(): AsyncGenerator<{ text: string }> {
    const operation = startOperation(context.requestId);
    let prepared: Prepared;
    try {
      prepared = await prepare(context, operation, rawUserId, input);
    } catch (error) {
      settle.reject(error);
      throw error;
    }
    // Each key's turn runs until its first part: a key refused before it fails over; from the first part on the
    // stream is the caller's, and nothing fails over.
    let parts: AsyncGenerator<{ text: string }>;
    try {
      parts = await withFailover(context, operation, prepared, async (resolved, last) => {
        const turn = streamWith(context, operation, prepared, resolved, last, settle);
        return prepend(await turn.next(), turn);
      });
    } catch (error) {
      settle.reject(error);
      throw error;
    }
    yield* parts;
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

/** `first` (already taken from `rest`), then the rest of `rest`; a finished `first` ends it. Left early, it closes `rest`. */
async function* prepend<T>(first: IteratorResult<T>, rest: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    if (first.done) return;
    yield first.value;
    yield* rest;
  } finally {
    await rest.return(undefined); // runs `rest`'s own cleanup when the consumer stopped at the first value
  }
}

/**
 * One key's stream: its text deltas, until the provider's last part settles `settle` with the answer. A failure of
 * a key that may fail over (not `last`, refused before any part) is thrown without reporting it: the next key's
 * turn follows.
 */
async function* streamWith(
  context: CoreContext,
  operation: Operation,
  prepared: Prepared,
  resolved: Resolved,
  last: boolean,
  settle: { resolve: (r: ChatResponse) => void; reject: (e: unknown) => void },
): AsyncGenerator<{ text: string }> {
  const { request, userId, providerRequest } = prepared;
  const { meter, call, subject } = await engage(context, operation, prepared, resolved);
  const deadline = startDeadline(resolved.provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, request.signal);
  const failure = { userId, resolved, model: providerRequest.model };
  let text = "";
  let done = false;
  let reported = false; // chat.completed or chat.failed went out
  let usage: Usage | undefined; // the latest usage the provider reported mid-stream
  let started = false; // the provider began answering: a stream cut short from here on has cost something
  let sent = false; // the request went to the provider: an abort from here on leaves it billing the prompt
  try {
    deadline.signal.throwIfAborted(); // as in runChat
    sent = true;
    const stream = resolved.provider.doStream(providerRequest, { ...call, signal: deadline.signal });
    for await (const part of stream) {
      deadline.refresh();
      started = true;
      if (part.type === "text") {
        if (part.text.length === 0) continue;
        text += part.text;
        yield { text: part.text };
      } else if (part.type === "usage") {
        usage = part.usage;
      } else {
        const { usage: withCost, cost } = priced(context, subject, part.model, part.usage);
        const result: ChatResponse = {
          text,
          provider: resolved.id,
          model: part.model,
          finishReason: part.finishReason,
          usage: withCost,
          key: servingKey(resolved),
        };
        done = reported = true;
        void meter.end({ model: part.model, usage: withCost, cost });
        succeeded(context, operation, userId, resolved, result, cost);
        settle.resolve(result);
      }
    }
    if (!done)
      throw new ByokError("PROVIDER_ERROR", `The ${resolved.id} stream ended before it finished; try again.`, {
        provider: resolved.id,
      });
  } catch (error) {
    // As runChat: aborted by the caller once sent, it counts even before the first part came back.
    const so = usage && priced(context, subject, providerRequest.model, usage);
    await meter.end({ ...so, started: started || (sent && request.signal?.aborted === true) });
    const translated = deadline.translate(error, resolved.id);
    reported = true;
    if (started || last || !failsOver(translated)) {
      failed(context, operation, failure, translated, so);
      settle.reject(translated);
    }
    throw translated;
  } finally {
    if (!done && !reported) {
      // The consumer stopped early (break/return): settle `response` and let dispose() cancel the upstream call.
      const closed = new DOMException("The stream was closed before it finished.", "AbortError");
      const so = usage && priced(context, subject, providerRequest.model, usage);
      await meter.end({ ...so, started });
      failed(context, operation, failure, closed, so); // chat.failed ABORTED, with the usage so far
      settle.reject(closed);
    }
    deadline.dispose(!done); // cancels the upstream call only when the stream was left early
  }
}

/** Options of `byok.use(userId, options)`. */
export interface UseOptions {
  /**
   * Whether this client's key chain may end in the app's own `platformKeys` (after the user's and the team's keys).
   * Defaults to `false`.
   */
  platform?: boolean;
  /**
   * The team whose keys this client may use, for every provider the user has no own key for. The
   * app decides membership: pass it on every call (the router asks `getTeamId` on each request).
   */
  teamId?: string;
  /** The id every event of this client's calls carries (the router passes the request's `X-Request-Id`). Defaults to a new UUID per call. */
  requestId?: string;
  /** Aborts every call made through this client, as a call's own `signal` does. Defaults to none. */
  signal?: AbortSignal;
}

/**
 * The option under which the router hands `use()` the key records it read ahead (a {@link KeyChain}).
 * Not public API: a symbol of this copy of byok-ai, which no app (and no other copy) can name.
 */
export const KEY_CHAIN = Symbol("byok-ai.keyChain");

/** `use()`'s options as the router passes them: with the request's {@link KeyChain}. */
export type RouterUseOptions = UseOptions & { [KEY_CHAIN]?: KeyChain };

const USE_FIELDS = new Set(["teamId", "requestId", "signal", "platform"]);
const USAGE_RANGE_FIELDS = new Set(["from", "to"]);

/** What `use()`'s options set on the client's context. */
interface ClientOptions {
  platform?: boolean;
  teamId?: string;
  requestId?: string;
  signal?: AbortSignal;
  keyChain?: KeyChain;
}

function checkUseOptions(options: RouterUseOptions): ClientOptions {
  const fields = checkObject(options, USE_FIELDS, "use(userId, options)");
  const out: ClientOptions = {};
  if (fields.teamId !== undefined) out.teamId = checkTeamId(fields.teamId);
  if (fields.platform !== undefined) {
    if (typeof fields.platform !== "boolean") throw invalid("platform must be a boolean.", ["platform"]);
    out.platform = fields.platform;
  }
  const requestId = checkRequestId(fields.requestId);
  const signal = checkSignal(fields.signal);
  if (requestId !== undefined) out.requestId = requestId;
  if (signal !== undefined) out.signal = signal;
  const chain = options[KEY_CHAIN];
  if (chain instanceof KeyChain) out.keyChain = chain;
  return out;
}

/**
 * Creates the AiClient for `userId` (`undefined`: every call rejects UNAUTHENTICATED). Cheap: no I/O
 * until a method runs.
 */
export function createAiClient(base: CoreContext, rawUserId: string | undefined, options: UseOptions): AiClient {
  const context: CoreContext = { ...base, ...checkUseOptions(options) };
  const user = (): string => userOf(rawUserId);
  return {
    chat: async (input) => runChat(context, rawUserId, input),
    stream: (input) => runStream(context, rawUserId, input),

    async keys(): Promise<KeyInfo[]> {
      const { teamId } = context;
      const [own, team] = await Promise.all([
        listKeys(context, user()),
        teamId === undefined ? [] : listKeys(context, { teamId }),
      ]);
      return [...own, ...team];
    },
    connection: async (provider) => openConnection(context, rawUserId, provider),
    checkKey: async (provider) => checkKey(context, user(), provider),
    models: async (provider) => listModels(context, user(), provider),
    async usage(range = {}) {
      const { from, to } = checkObject(range, USAGE_RANGE_FIELDS, "ai.usage(range)");
      return readUsage(context, { userId: user(), from, to });
    },

    async has(provider) {
      const userId = user();
      if (provider !== undefined) providerFor(context, checkProviderId(provider));
      return hasKey(context, userId, provider);
    },
  };
}
