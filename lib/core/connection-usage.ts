// Metering for ai.connection(): a request's estimate from its JSON body, and the usage its answer states (JSON or SSE).
import { isArrayBuffer } from "node:util/types";
import { type CallEnd, DEFAULT_MAX_OUTPUT_TOKENS, type Estimate, estimateInputTokens, type Meter } from "./metering.js";
import type { Usage } from "./types.js";
import { isPlainObject } from "./validate.js";

/** Fields of one vendor usage object, as each API names them: OpenAI Chat Completions, OpenAI Responses and Anthropic, Gemini. */
const INPUT_FIELDS = ["prompt_tokens", "input_tokens", "promptTokenCount"] as const;
const OUTPUT_FIELDS = ["completion_tokens", "output_tokens", "candidatesTokenCount"] as const;
/** Fields that name the output limit of a request body, per API. */
const MAX_OUTPUT_FIELDS = ["max_tokens", "max_completion_tokens", "max_output_tokens"] as const;
/** An SSE line longer than this is passed on unread (no usage event is that long). */
const MAX_SSE_LINE = 1 << 20;

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/** The first counted field of `object` among `names`. */
function firstCount(object: Record<string, unknown>, names: readonly string[]): number | undefined {
  for (const name of names) {
    const n = count(object[name]);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** Where a body keeps its usage: `usage` (OpenAI, Anthropic), `usageMetadata` (Gemini), or inside `message` / `response` (stream events). */
function usageObjectOf(body: Record<string, unknown>): Record<string, unknown> | undefined {
  for (const holder of [body, body.message, body.response]) {
    if (!isPlainObject(holder)) continue;
    const found = holder.usage ?? holder.usageMetadata;
    if (isPlainObject(found)) return found;
  }
  return undefined;
}

/**
 * The usage a response body (or one stream event) states, merged over what earlier events stated:
 * Anthropic reports input tokens at the stream's start and output tokens at its end.
 */
export function usageFrom(body: unknown, before?: Usage): Usage | undefined {
  const usage = isPlainObject(body) ? usageObjectOf(body) : undefined;
  if (!usage) return before;
  const inputTokens = firstCount(usage, INPUT_FIELDS) ?? before?.inputTokens ?? 0;
  const outputTokens = firstCount(usage, OUTPUT_FIELDS) ?? before?.outputTokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/**
 * A request body metering leaves unread: a stream (reading it first would consume what the provider
 * must get, or wait on a source that is still writing), or a Request body past {@link MAX_READ_BODY_BYTES}.
 */
export const UNREAD = Symbol("unread body");

/** The most of a Request's body read, from a clone, to estimate it; a longer one counts as {@link UNREAD}. */
const MAX_READ_BODY_BYTES = 32 * 1024 * 1024;

/**
 * The text of a request body, to estimate it: `undefined` for none. Strings, bytes, blobs and form
 * parameters are decoded (each can be read again when it is sent); a Request's body is read from
 * `copy`, its clone; a stream, form data or an iterable is {@link UNREAD}.
 */
export async function bodyText(
  body: RequestInit["body"],
  copy: Request | undefined,
): Promise<string | typeof UNREAD | undefined> {
  if (copy?.body) return (await readText(copy.body, MAX_READ_BODY_BYTES)) ?? UNREAD;
  if (body == null) return undefined;
  if (typeof body === "string") return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof Blob) return body.text();
  if (ArrayBuffer.isView(body) || isArrayBuffer(body)) return new TextDecoder().decode(body);
  return UNREAD;
}

/**
 * What a request through the connection reserves, and the model it names: from the text of its body
 * (a JSON text is what every SDK sends); the worst case (the default output, see
 * {@link DEFAULT_MAX_OUTPUT_TOKENS}) for an {@link UNREAD} body; `undefined` for a request without a
 * body (a model listing), which reserves nothing.
 */
export function estimateRequest(
  body: string | typeof UNREAD | undefined,
  path: string,
): { estimate?: Estimate; model?: string } {
  // Gemini names the model in the path: …/models/<model>:generateContent.
  const inPath = /\/models\/([^/:]+):/.exec(path)?.[1];
  const pathModel = inPath === undefined ? {} : { model: decodeURIComponent(inPath).slice(0, 128) };
  if (body === undefined) return pathModel;
  if (body === UNREAD) return { estimate: { inputTokens: 0, outputTokens: DEFAULT_MAX_OUTPUT_TOKENS }, ...pathModel };
  const json = parseJson(body);
  const fields = isPlainObject(json) ? json : {};
  const config = isPlainObject(fields.generationConfig) ? fields.generationConfig : {};
  const outputTokens =
    firstCount(fields, MAX_OUTPUT_FIELDS) ?? count(config.maxOutputTokens) ?? DEFAULT_MAX_OUTPUT_TOKENS;
  return {
    estimate: { inputTokens: estimateInputTokens([body]), outputTokens },
    ...(typeof fields.model === "string" && fields.model ? { model: fields.model.slice(0, 128) } : pathModel),
  };
}

/** The JSON a text holds, `undefined` when it holds none (an HTML error page with a JSON content type). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The JSON a copy of a response holds (a clone: the app reads the original), `undefined` past
 * `maxBytes` or when it holds none. Parsed here, not by `Response.json()`, whose objects come from
 * fetch's own realm, which isPlainObject would not recognise where the app runs in another (a vm, a
 * test runner).
 */
export async function readJson(copy: Response, maxBytes = Infinity): Promise<unknown> {
  const text = copy.body ? await readText(copy.body, maxBytes) : undefined;
  return text === undefined ? undefined : parseJson(text);
}

/** The UTF-8 text of a body that is a copy (only it is consumed), `undefined` past `maxBytes` or when it fails. */
async function readText(copy: ReadableStream<Uint8Array>, maxBytes: number): Promise<string | undefined> {
  const reader = copy.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) return undefined;
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString("utf8");
  } catch {
    return undefined;
  } finally {
    reader.cancel().catch(() => undefined); // stops this copy only; the original flows on
  }
}

/** Reads `data:` lines of an SSE byte stream as it passes, keeping the latest usage they state. */
function sseUsageReader(): { push(bytes: Uint8Array): void; end(): Usage | undefined } {
  const decoder = new TextDecoder();
  let line = "";
  let usage: Usage | undefined;
  const read = (text: string) => {
    if (text.startsWith("data:")) usage = usageFrom(parseJson(text.slice(5)), usage); // "[DONE]" is not JSON: no usage
  };
  return {
    push(bytes) {
      const lines = (line + decoder.decode(bytes, { stream: true })).split(/\r?\n/);
      line = lines.pop()!;
      if (line.length > MAX_SSE_LINE) line = "";
      for (const text of lines) read(text);
    },
    end() {
      read(line + decoder.decode());
      return usage;
    },
  };
}

/**
 * The response the app gets, metered: a JSON answer is read from a clone once it is complete; an SSE
 * answer is read as the app reads it, and ends the meter when it ends (or is cut short, from what it
 * stated so far). Any other successful answer counts as a request without tokens.
 */
export function meterResponse(response: Response, meter: Meter, model: string | undefined): Response {
  const named = model === undefined ? {} : { model };
  const end = (outcome: CallEnd) => void meter.end({ ...named, ...outcome });
  const type = response.headers.get("content-type") ?? "";
  if (!response.ok || !response.body) {
    end(response.ok ? { answered: true } : {});
    return response;
  }
  if (/^application\/json\b/i.test(type)) {
    void readJson(response.clone()).then((body) => {
      const usage = usageFrom(body);
      end(usage ? { usage } : { answered: true });
    });
    return response;
  }
  if (!/^text\/event-stream\b/i.test(type)) {
    end({ answered: true });
    return response;
  }
  return new Response(
    meteredStream(response.body, (usage) => end(usage ? { usage } : { started: true })),
    {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    },
  );
}

/**
 * `body` as the app reads it, passed on unchanged while its SSE usage is read; `done` once, when it
 * ends, breaks or the app cancels it, with the usage it stated so far.
 */
function meteredStream(body: ReadableStream<Uint8Array>, done: (usage: Usage | undefined) => void) {
  const source = body.getReader();
  const reader = sseUsageReader();
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done(reader.end());
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await source.read();
        if (ended) {
          finish();
          controller.close();
          return;
        }
        reader.push(value);
        controller.enqueue(value);
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    async cancel(reason) {
      finish();
      await source.cancel(reason);
    },
  });
}
