// A real node:http server that plays an AI provider's API for tests: scripted replies, recorded requests, faults.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { FinishReason, Usage } from "../core/types.js";
import { sampleJson } from "./fake-json.js";
import { listenOnLoopback } from "./loopback-server.js";

/** A tool (function) call the fake model asks for. */
export interface FakeToolCall {
  /** The tool's name, as the request declared it. */
  name: string;
  /** The tool's input: an object, or its JSON text. Defaults to `{}`. */
  arguments?: unknown;
  /** The call's id. Defaults to `call_1`, `call_2`… */
  id?: string;
}

/**
 * What the fake answers to one call. Everything is optional: `{}` is a normal answer that echoes
 * the last user message (`"Echo: <message>"`).
 */
export interface FakeReply {
  /**
   * Answer text. Defaults to `"Echo: " + the last user message`; to `""` when `toolCalls` are set;
   * and, when the request asks for JSON output with a schema, to JSON that fits the schema with
   * every string set to that echo. Script structured output with JSON text: `{ text: '{"a":1}' }`.
   */
  text?: string;
  /**
   * The model asks for these tool calls (after `text`, if any), in the vendor's own format. The
   * finish reason defaults to the vendor's "tool use" one.
   */
  toolCalls?: FakeToolCall[];
  /** Stream deltas. Defaults to `text` split after each space. */
  chunks?: string[];
  /** Defaults to `"stop"`. */
  finishReason?: FinishReason;
  /**
   * Token counts, in byok-ai's meaning of them (see `Usage`: `inputTokens` includes cache reads and writes,
   * `outputTokens` includes reasoning), sent in the vendor's own fields (Anthropic's `input_tokens` without the
   * cache, Gemini's `candidatesTokenCount` without thoughts…). `cachedInputTokens`, `cacheWriteTokens`,
   * `reasoningTokens` and `costUsd` are sent only when set, and only where the vendor's API has them. Default:
   * input = words in the request's last user message, output = number of chunks.
   */
  usage?: Partial<Usage>;
  /** Model named in the answer. Defaults to the requested model. */
  model?: string;
  /** Answer with this HTTP status and the vendor's error body instead. */
  status?: number;
  /** Error message for `status` (and for `errorAfterChunks`). */
  message?: string;
  /** `Retry-After` seconds sent with `status` (429). */
  retryAfter?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Streams: wait this long between chunks. */
  chunkDelayMs?: number;
  /** Answer 200 with a body that is not JSON. */
  garbage?: boolean;
  /** Never answer (until the client gives up). */
  hang?: boolean;
  /** Destroy the connection without answering. */
  reset?: boolean;
  /** Streams: cut the connection after this many chunks. */
  dropAfterChunks?: number;
  /** Streams: send the vendor's in-stream error event after this many chunks. */
  errorAfterChunks?: number;
  /**
   * Refuse the call the way the vendor documents it, with its own status, body and headers:
   * `"invalid"` (its bad-key answer), `"quota"` (out of quota or credit: OpenAI's and Azure's 429
   * `insufficient_quota`, Anthropic's 400 "credit balance is too low", Gemini's 429
   * `RESOURCE_EXHAUSTED` naming a per-day quota, OpenRouter's 402) or `"rate_limit"` (its 429, with
   * `retryAfter` as the vendor sends it: a `Retry-After` header, or Gemini's `RetryInfo`). Takes
   * precedence over `status`.
   */
  refuse?: FakeRefusal;
  /**
   * The vendor's error type in the error body of `status` (OpenAI's and Anthropic's `error.type`,
   * Gemini's `ErrorInfo` reason) and in the in-stream error of `errorAfterChunks` (e.g. Anthropic's
   * `"rate_limit_error"`). Defaults to the vendor's type for the status, or a server error.
   */
  errorType?: string;
}

/** The refusals {@link FakeReply.refuse} scripts. */
export type FakeRefusal = "invalid" | "quota" | "rate_limit";

/** One request the fake received. */
export interface FakeRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** What the call was: key validation, chat, stream, or anything else. */
  op: "validate" | "chat" | "stream" | "other";
  /** The API key the request carried (the fake's view of the auth header). */
  apiKey: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** Set when the client went away before the answer ended (an aborted request). */
  aborted: boolean;
  /** `performance.now()` when the client went away. */
  abortedAt?: number;
}

/** The final answer once defaults are filled in. */
export interface ResolvedReply {
  text: string;
  chunks: string[];
  /** `arguments` as JSON text. */
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: FinishReason;
  usage: Usage;
  model: string;
}

/** How one vendor's HTTP API looks; the fake server does the rest. */
export interface FakeProtocol {
  /**
   * Which call a request is, and for which model; `undefined`: 404. `format` answers this route
   * when it differs from the protocol's main one (OpenAI's Responses API beside Chat Completions).
   */
  route(
    method: string,
    url: URL,
    body: unknown,
  ): { op: FakeRequest["op"]; model: string; format?: Pick<FakeProtocol, "chatBody" | "streamFrames"> } | undefined;
  /** The key a request carries. */
  apiKey(request: IncomingMessage, url: URL): string | undefined;
  /** The last user message of a chat body, for the default echo. */
  lastUserText(body: unknown): string;
  /** The JSON schema a chat body asks the answer to follow (`{}` for "any JSON"); `undefined` for plain text. */
  jsonSchema?(body: unknown): unknown;
  /** Status, body and headers of the vendor's "invalid key" answer (some vendors echo part of the key). */
  rejectedKey(apiKey: string | undefined): FakeAnswer;
  /**
   * Checks what a key alone cannot: a request signature over the raw body (AWS SigV4), or a token the
   * fake minted and may have let expire. Runs before `acceptKey`; an answer refuses the request with it.
   */
  verify?(
    request: IncomingMessage,
    url: URL,
    rawBody: Buffer,
  ): FakeAnswer | undefined | Promise<FakeAnswer | undefined>;
  /**
   * The vendor's documented answer to an out-of-quota key (`"quota"`) or a rate-limited one
   * (`"rate_limit"`, waiting `retryAfter` seconds when given). Without it, `"quota"` is a 429 with
   * `errorBody`'s `insufficient_quota` type and `"rate_limit"` a plain 429.
   */
  refusal?(kind: Exclude<FakeRefusal, "invalid">, retryAfter?: number): FakeAnswer;
  /** The vendor's error body for a status; `type` is {@link FakeReply.errorType}. */
  errorBody(status: number, message: string, retryAfter?: number, type?: string): unknown;
  /** Headers sent with `errorBody` besides `Retry-After` (AWS names the error type in `x-amzn-errortype`). */
  errorHeaders?(status: number, type?: string): Record<string, string>;
  /** Content type of a stream. Defaults to `text/event-stream` (SSE). */
  streamContentType?: string;
  /** Success body of a validation call (`url`: which one, for a vendor with several). */
  validateBody(model: string, url: URL): unknown;
  /**
   * Answers a request that needs no key (OpenRouter's code exchange and authorization page), before
   * any key check; `undefined` for every other request.
   */
  keyless?(method: string, url: URL, body: unknown): { status: number; body?: unknown; location?: string } | undefined;
  /** Success body of a chat call. */
  chatBody(reply: ResolvedReply): unknown;
  /** Stream frames (SSE text, or binary ones): one per chunk, the closing frame(s), and an in-stream error. */
  streamFrames(reply: ResolvedReply): {
    /** Sent before the first chunk (or before `end` when there is none). */
    start?(): FakeStreamFrame;
    chunk(text: string, index: number): FakeStreamFrame;
    end(): FakeStreamFrame;
    error(message: string, type?: string): FakeStreamFrame;
  };
}

/** One or more stream frames: SSE text, or the bytes of a binary framing (AWS event streams). */
export type FakeStreamFrame = string | Uint8Array;

/** A status, JSON body and headers the fake answers with. */
export interface FakeAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Options shared by every fake. */
export interface FakeUpstreamOptions {
  /**
   * Which keys the fake accepts. Defaults to every key except those that start with `bad` or
   * `invalid` (case-insensitive), which get the vendor's "invalid key" answer.
   */
  acceptKey?: (apiKey: string) => boolean;
  /** Answer used when no reply is queued. Defaults to `{}` (echo). */
  defaultReply?: FakeReply;
}

/** A running fake provider. */
export interface FakeUpstream {
  /** Base URL to put in the provider's `baseUrl` option. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: FakeRequest[];
  /** Queues replies for the next calls (validation calls included), first in first out. */
  enqueue(...replies: FakeReply[]): void;
  /** Forgets queued replies and recorded requests. */
  reset(): void;
  /** Stops the server and cuts open connections. */
  close(): Promise<void>;
}

/** Keys starting with `bad` or `invalid` are refused; everything else is accepted. */
export const defaultAcceptKey = (apiKey: string): boolean => !/^(bad|invalid)/i.test(apiKey);

/** Waits `ms`, or less if the client goes away first: no timer outlives the request it delays. */
const pause = (ms: number, response: ServerResponse) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    response.once("close", () => (clearTimeout(timer), resolve()));
  });

function resolveReply(reply: FakeReply, protocol: FakeProtocol, body: unknown, model: string): ResolvedReply {
  const prompt = protocol.lastUserText(body);
  const toolCalls = (reply.toolCalls ?? []).map((call, i) => ({
    id: call.id ?? `call_${i + 1}`,
    name: call.name,
    arguments: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {}),
  }));
  const schema = protocol.jsonSchema?.(body);
  const echo = `Echo: ${prompt}`;
  const text =
    reply.text ??
    (reply.chunks
      ? reply.chunks.join("")
      : toolCalls.length > 0
        ? ""
        : schema !== undefined
          ? JSON.stringify(sampleJson(schema, echo))
          : echo);
  // A tool-call-only answer streams no text at all; any other answer streams at least one (maybe empty) chunk.
  const chunks = reply.chunks ?? text.match(/\S+\s*|\s+/g) ?? (toolCalls.length > 0 ? [] : [""]);
  const inputTokens = reply.usage?.inputTokens ?? prompt.match(/\S+/g)?.length ?? 0;
  const outputTokens = reply.usage?.outputTokens ?? Math.max(chunks.length, 1);
  return {
    text,
    chunks,
    toolCalls,
    // "other" is what each vendor's "tool use" reason maps to (tool_calls, tool_use).
    finishReason: reply.finishReason ?? (toolCalls.length > 0 ? "other" : "stop"),
    model: reply.model ?? model,
    usage: {
      ...reply.usage,
      inputTokens,
      outputTokens,
      totalTokens: reply.usage?.totalTokens ?? inputTokens + outputTokens,
    },
  };
}

/** The body's bytes (for signatures over them), and its JSON (or its text when it is not JSON). */
async function readBody(request: IncomingMessage): Promise<{ raw: Buffer; body: unknown }> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  const raw = Buffer.concat(parts);
  const text = raw.toString("utf8");
  if (!text) return { raw, body: undefined };
  try {
    return { raw, body: JSON.parse(text) as unknown };
  } catch {
    return { raw, body: text };
  }
}

const joinFrames = (a: FakeStreamFrame, b: FakeStreamFrame): FakeStreamFrame =>
  typeof a === "string" && typeof b === "string" ? a + b : Buffer.concat([Buffer.from(a), Buffer.from(b)]);

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

/** @internal A `retry-after` header of `retryAfter` seconds, none without it. */
export const retryAfterHeader = (retryAfter: number | undefined): Record<string, string> =>
  retryAfter === undefined ? {} : { "retry-after": String(retryAfter) };

/** The vendor's answer for {@link FakeReply.refuse}. */
function refusalOf(
  protocol: FakeProtocol,
  kind: FakeRefusal,
  apiKey: string | undefined,
  retryAfter: number | undefined,
): FakeAnswer {
  if (kind === "invalid") return protocol.rejectedKey(apiKey);
  if (protocol.refusal) return protocol.refusal(kind, retryAfter);
  return kind === "quota"
    ? { status: 429, body: protocol.errorBody(429, "Quota exceeded.", undefined, "insufficient_quota") }
    : {
        status: 429,
        body: protocol.errorBody(429, "Rate limit exceeded.", retryAfter),
        headers: retryAfterHeader(retryAfter),
      };
}

/** Starts a fake for `protocol` on 127.0.0.1 with a free port. */
export async function startFakeUpstream(
  protocol: FakeProtocol,
  options: FakeUpstreamOptions = {},
): Promise<FakeUpstream> {
  const acceptKey = options.acceptKey ?? defaultAcceptKey;
  const queue: FakeReply[] = [];
  const requests: FakeRequest[] = [];

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const { raw, body } = await readBody(request);
    const route = protocol.route(request.method ?? "GET", url, body);
    const record: FakeRequest = {
      method: request.method ?? "GET",
      path: url.pathname + url.search,
      op: route?.op ?? "other",
      apiKey: protocol.apiKey(request, url),
      headers: { ...request.headers },
      body,
      aborted: false,
    };
    requests.push(record);
    let finished = false;
    response.on("close", () => {
      if (!finished) [record.aborted, record.abortedAt] = [true, performance.now()];
    });
    const done = () => {
      finished = true;
    };
    const keyless = protocol.keyless?.(record.method, url, body);
    if (keyless) {
      if (keyless.location !== undefined) response.writeHead(keyless.status, { location: keyless.location }).end();
      else sendJson(response, keyless.status, keyless.body ?? {});
      return done();
    }
    if (!route)
      return (sendJson(response, 404, protocol.errorBody(404, "Not found"), protocol.errorHeaders?.(404)), done());
    const refused = await protocol.verify?.(request, url, raw);
    if (refused) return (sendJson(response, refused.status, refused.body, refused.headers), done());
    if (!record.apiKey || !acceptKey(record.apiKey)) {
      const rejected = protocol.rejectedKey(record.apiKey);
      return (sendJson(response, rejected.status, rejected.body, rejected.headers), done());
    }
    const reply = queue.shift() ?? options.defaultReply ?? {};
    if (reply.delayMs) await pause(reply.delayMs, response);
    if (response.destroyed) return;
    if (reply.hang) return; // answered never; the socket closes when the client aborts or the fake closes
    if (reply.reset) return void request.socket.destroy();
    if (reply.refuse) {
      const refused = refusalOf(protocol, reply.refuse, record.apiKey, reply.retryAfter);
      return (sendJson(response, refused.status, refused.body, refused.headers), done());
    }
    if (reply.status) {
      const headers = {
        ...protocol.errorHeaders?.(reply.status, reply.errorType),
        ...retryAfterHeader(reply.retryAfter),
      };
      return (
        sendJson(
          response,
          reply.status,
          protocol.errorBody(
            reply.status,
            reply.message ?? `Fake error ${reply.status}`,
            reply.retryAfter,
            reply.errorType,
          ),
          headers,
        ),
        done()
      );
    }
    if (reply.garbage) {
      response.writeHead(200, { "content-type": route.op === "stream" ? "text/event-stream" : "application/json" });
      return (response.end(route.op === "stream" ? "data: {not json\n\n" : "<html>definitely not json"), done());
    }
    const resolved = resolveReply(reply, protocol, body, route.model);
    if (route.op === "validate") return (sendJson(response, 200, protocol.validateBody(route.model, url)), done());
    const format = route.format ?? protocol;
    if (route.op !== "stream") return (sendJson(response, 200, format.chatBody(resolved)), done());

    const frames = format.streamFrames(resolved);
    let started = false;
    const start = () => (started ? "" : ((started = true), frames.start?.() ?? ""));
    response.writeHead(200, {
      "content-type": protocol.streamContentType ?? "text/event-stream",
      "cache-control": "no-cache",
    });
    for (const [index, chunk] of resolved.chunks.entries()) {
      if (index > 0 && reply.chunkDelayMs) await pause(reply.chunkDelayMs, response);
      if (reply.dropAfterChunks === index) return void request.socket.destroy();
      if (reply.errorAfterChunks === index)
        return (response.end(frames.error(reply.message ?? "Fake stream failure", reply.errorType)), done());
      if (response.destroyed) return;
      response.write(joinFrames(start(), frames.chunk(chunk, index)));
    }
    if (reply.dropAfterChunks !== undefined) return void request.socket.destroy();
    response.end(joinFrames(start(), frames.end()));
    done();
  };

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  const { url, close } = await listenOnLoopback(server);

  return {
    url,
    requests,
    enqueue: (...replies) => void queue.push(...replies),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
    },
    close,
  };
}
