// Metering for ai.connection(): a request's estimate from its JSON body, and the usage its answer states (JSON or SSE).
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
 * What a request through the connection reserves, and the model it names: from a JSON text body
 * (what every SDK sends); `undefined` for a request without one (a model listing), which reserves nothing.
 */
export function estimateRequest(body: unknown, path: string): { estimate?: Estimate; model?: string } {
  // Gemini names the model in the path: …/models/<model>:generateContent.
  const inPath = /\/models\/([^/:]+):/.exec(path)?.[1];
  if (typeof body !== "string") return inPath === undefined ? {} : { model: decodeURIComponent(inPath) };
  const json = parseJson(body);
  const fields = isPlainObject(json) ? json : {};
  const config = isPlainObject(fields.generationConfig) ? fields.generationConfig : {};
  const outputTokens =
    firstCount(fields, MAX_OUTPUT_FIELDS) ?? count(config.maxOutputTokens) ?? DEFAULT_MAX_OUTPUT_TOKENS;
  const model = typeof fields.model === "string" ? fields.model : inPath && decodeURIComponent(inPath);
  return {
    estimate: { inputTokens: estimateInputTokens([body]), outputTokens },
    ...(model ? { model: model.slice(0, 128) } : {}),
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
  const reader = copy.body?.getReader();
  if (!reader) return undefined;
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
    return parseJson(Buffer.concat(chunks).toString("utf8"));
  } catch {
    return undefined;
  } finally {
    reader.cancel().catch(() => undefined); // stops this copy only; the app's body flows on
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
