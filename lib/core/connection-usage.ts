// Metering for ai.connection(): a request's estimate from its JSON body, and the usage its answer states (JSON or SSE).
import { isArrayBuffer } from "node:util/types";
import { type CallEnd, DEFAULT_MAX_OUTPUT_TOKENS, type Estimate, estimateInputTokens, type Meter } from "./metering.js";
import type { ProviderConnectionSpec, Usage } from "./types.js";

/** An SSE line longer than this is passed on unread (no usage event is that long). */
const MAX_SSE_LINE = 1 << 20;
/** The longest model name kept from a request. */
const MAX_MODEL_LENGTH = 128;

/** How the API behind a connection states usage and reads requests (see `ProviderConnectionSpec`). */
export type ApiReaders = Pick<ProviderConnectionSpec, "readUsage" | "readRequest">;

/** What a reader answered is an object (from whatever realm the provider's code made it in). */
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/**
 * The usage a response body (or one stream event) states, merged over what earlier events stated,
 * as the API's `readUsage` reads it; `before` when it states none, has no reader, or the reader throws.
 */
export function usageFrom(readers: ApiReaders, body: unknown, before?: Usage): Usage | undefined {
  let usage: Usage | undefined;
  try {
    usage = readers.readUsage?.(body, before);
  } catch {
    return before;
  }
  if (!isObject(usage)) return before;
  const inputTokens = count(usage.inputTokens) ?? before?.inputTokens ?? 0;
  const outputTokens = count(usage.outputTokens) ?? before?.outputTokens ?? 0;
  const out: Usage = { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
  for (const part of PARTS) {
    const n = count(usage[part]) ?? before?.[part];
    if (n !== undefined) out[part] = n;
  }
  const costUsd = usage.costUsd;
  if (typeof costUsd === "number" && Number.isFinite(costUsd) && costUsd >= 0) out.costUsd = costUsd;
  else if (before?.costUsd !== undefined) out.costUsd = before.costUsd;
  return out;
}

/** The parts of a total a reader may state (see `Usage`), each kept only when it is a whole count. */
const PARTS = ["cachedInputTokens", "cacheWriteTokens", "reasoningTokens"] as const;

/** What the API's `readRequest` says of a request: only a non-empty model name and a count are kept. */
function requestFacts(readers: ApiReaders, json: unknown, path: string): { model?: string; maxOutputTokens?: number } {
  let facts: { model?: unknown; maxOutputTokens?: unknown } | undefined;
  try {
    facts = readers.readRequest?.(json, path);
  } catch {
    return {};
  }
  if (!isObject(facts)) return {};
  const model = typeof facts.model === "string" && facts.model ? facts.model.slice(0, MAX_MODEL_LENGTH) : undefined;
  const maxOutputTokens = count(facts.maxOutputTokens);
  return { ...(model ? { model } : {}), ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }) };
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
 * (a JSON text is what every SDK sends), as the API's `readRequest` reads it; the worst case (the
 * default output, see {@link DEFAULT_MAX_OUTPUT_TOKENS}) for an {@link UNREAD} body; `undefined` for a
 * request without a body (a model listing), which reserves nothing.
 */
export function estimateRequest(
  readers: ApiReaders,
  body: string | typeof UNREAD | undefined,
  path: string,
): { estimate?: Estimate; model?: string } {
  if (body === undefined || body === UNREAD) {
    const { model } = requestFacts(readers, undefined, path);
    const named = model ? { model } : {};
    if (body === undefined) return named;
    return { estimate: { inputTokens: 0, outputTokens: DEFAULT_MAX_OUTPUT_TOKENS }, ...named };
  }
  const { model, maxOutputTokens } = requestFacts(readers, parseJson(body), path);
  return {
    estimate: { inputTokens: estimateInputTokens([body]), outputTokens: maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS },
    ...(model ? { model } : {}),
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
 * fetch's own realm, which the built-in readers (isPlainObject) would not recognise where the app
 * runs in another (a vm, a test runner).
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
function sseUsageReader(readers: ApiReaders): { push(bytes: Uint8Array): void; end(): Usage | undefined } {
  const decoder = new TextDecoder();
  let line = "";
  let usage: Usage | undefined;
  const read = (text: string) => {
    if (text.startsWith("data:")) usage = usageFrom(readers, parseJson(text.slice(5)), usage); // "[DONE]" is not JSON: no usage
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
export function meterResponse(
  response: Response,
  meter: Meter,
  model: string | undefined,
  readers: ApiReaders,
): Response {
  const named = model === undefined ? {} : { model };
  const end = (outcome: CallEnd) => void meter.end({ ...named, ...outcome });
  const type = response.headers.get("content-type") ?? "";
  if (!response.ok || !response.body) {
    end(response.ok ? { answered: true } : {});
    return response;
  }
  if (/^application\/json\b/i.test(type)) {
    void readJson(response.clone()).then((body) => {
      const usage = usageFrom(readers, body);
      end(usage ? { usage } : { answered: true });
    });
    return response;
  }
  if (!/^text\/event-stream\b/i.test(type)) {
    end({ answered: true });
    return response;
  }
  return new Response(
    meteredStream(response.body, readers, (usage) => end(usage ? { usage } : { started: true })),
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
function meteredStream(
  body: ReadableStream<Uint8Array>,
  readers: ApiReaders,
  done: (usage: Usage | undefined) => void,
) {
  const source = body.getReader();
  const reader = sseUsageReader(readers);
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
