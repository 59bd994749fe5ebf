// A byok-ai provider for a vendor that is not built in: Cohere's Chat API v2 on plain fetch, no SDK. It proves keys,
// chats and streams, reads Cohere's refusals for key health, and serves ai.connection() with its usage metered.
// docs/extending.md walks through it; test/readme/cohere-provider.test.ts runs the provider conformance suite on it,
// against the fake in examples/cohere-fake.ts. Copy it into your app and pass it to BYOK:
//   new BYOK({ masterKey, providers: { cohere: createCohereProvider() } })
import type { FinishReason, Usage } from "byok-ai";
import {
  type KeyVerdict,
  type Provider,
  type ProviderCallContext,
  type ProviderChatRequest,
  type ProviderRefusal,
  upstreamError,
} from "byok-ai/extend";

/** Settings of {@link createCohereProvider}. */
export interface CohereProviderOptions {
  /** The id it is configured under in `new BYOK({ providers })`, named in its errors. Defaults to `"cohere"`. */
  id?: string;
  /** Where keys are sent. Defaults to `https://api.cohere.com`. */
  baseUrl?: string;
  /** Defaults to `"command-a-03-2025"`. */
  defaultModel?: string;
  /** Upstream time limit per call in ms. Defaults to byok-ai's 60 000. */
  timeoutMs?: number;
}

type CohereUsage = { tokens?: { input_tokens?: number; output_tokens?: number } };
/** A v2 chat answer, or the data of one of its stream's events (`content-delta`, `message-end`…). */
type CohereBody = {
  type?: string;
  message?: { content?: { type?: string; text?: string }[] };
  finish_reason?: string;
  usage?: CohereUsage;
  delta?: { message?: { content?: { text?: string } }; finish_reason?: string; usage?: CohereUsage };
};

const FINISH: Record<string, FinishReason> = { COMPLETE: "stop", STOP_SEQUENCE: "stop", MAX_TOKENS: "length" };
const finishOf = (reason: string | undefined): FinishReason => FINISH[reason ?? ""] ?? "other";

/** `usage.tokens` counts what the key pays for (`billed_units` leaves out what Cohere does not bill). */
function usageOf(usage: CohereUsage | undefined): Usage {
  const inputTokens = usage?.tokens?.input_tokens ?? 0;
  const outputTokens = usage?.tokens?.output_tokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/**
 * What a Cohere refusal says about the key beyond its status: a 429 whose message names a monthly limit is a
 * trial key's quota used up, not a rate limit. Its 401 (invalid) and 402 (billing: quota_exhausted) say it by status.
 */
export function readCohereRefusal({ status, body }: ProviderRefusal): KeyVerdict | undefined {
  const message = (body as { message?: unknown } | null | undefined)?.message;
  const monthly = status === 429 && typeof message === "string" && /\/\s*month\b/i.test(message);
  return monthly ? { status: "quota_exhausted" } : undefined;
}

/** The Cohere provider: `createCohereProvider({ baseUrl, defaultModel, timeoutMs })`. */
export function createCohereProvider(options: CohereProviderOptions = {}): Provider {
  const id = options.id ?? "cohere";
  const root = (options.baseUrl ?? "https://api.cohere.com").replace(/\/+$/, "");

  /** Turns a failure to reach or read Cohere into PROVIDER_ERROR; an abort passes through (byok-ai knows its cause). */
  const failed = (signal: AbortSignal, type: string) => (error: unknown) => {
    throw signal.aborted ? error : upstreamError(id, { type });
  };

  /** One request with the user's key; a refusal becomes a ByokError carrying what it says about the key. */
  async function send(path: string, { apiKey, signal }: ProviderCallContext, body?: unknown): Promise<Response> {
    const response = await fetch(`${root}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal,
    }).catch(failed(signal, "network"));
    if (response.ok) return response;
    const error: unknown = await response.json().catch(() => undefined);
    const refusal = { status: response.status, body: error, retryAfter: response.headers.get("retry-after") };
    const verdict = readCohereRefusal(refusal);
    const message = (error as { message?: unknown } | null | undefined)?.message;
    throw upstreamError(
      id,
      {
        status: refusal.status,
        retryAfter: refusal.retryAfter,
        ...(typeof message === "string" ? { message } : {}),
        ...(verdict ? { verdict } : {}),
      },
      apiKey,
    );
  }

  const chatBody = (request: ProviderChatRequest, stream: boolean) => ({
    model: request.model,
    messages: [...(request.system ? [{ role: "system", content: request.system }] : []), ...request.messages],
    ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
    ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
    stream,
  });

  function parseEvent(data: string): CohereBody {
    try {
      return JSON.parse(data) as CohereBody;
    } catch {
      throw upstreamError(id, { type: "unreadable" });
    }
  }

  /** The SSE events of a stream's body, parsed, in order. */
  async function* events(response: Response, signal: AbortSignal): AsyncGenerator<CohereBody> {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read().catch(failed(signal, "network"));
        if (done) return;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const data = /^data: ?(.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (data !== undefined) yield parseEvent(data);
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined); // a consumer that stops reading ends the upstream request
    }
  }

  return {
    specificationVersion: "v1",
    defaultModel: options.defaultModel ?? "command-a-03-2025",
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    readRefusal: readCohereRefusal,
    // For ai.connection(): the root the AI SDK's createCohere() takes as baseURL, bearer auth, and the usage a JSON
    // answer (`usage`) or a stream's `message-end` event (`delta.usage`) states.
    connection: {
      baseURL: `${root}/v2`,
      auth: "bearer",
      readUsage(body, before) {
        const usage = (body as CohereBody | null)?.usage ?? (body as CohereBody | null)?.delta?.usage;
        return usage?.tokens ? usageOf(usage) : before;
      },
      readRequest(body) {
        const { model, max_tokens } = (body ?? {}) as { model?: unknown; max_tokens?: unknown };
        return {
          ...(typeof model === "string" ? { model } : {}),
          ...(typeof max_tokens === "number" ? { maxOutputTokens: max_tokens } : {}),
        };
      },
    },

    async validateKey(context) {
      // Listing one model is free and needs a valid key.
      await (await send("/v1/models?page_size=1", context)).text().catch(failed(context.signal, "network"));
    },

    async doChat(request, context) {
      const response = await send("/v2/chat", context, chatBody(request, false));
      const data = (await response.json().catch(failed(context.signal, "unreadable"))) as CohereBody;
      const parts = data.message?.content ?? [];
      return {
        text: parts.map((part) => (part.type === "text" ? (part.text ?? "") : "")).join(""),
        model: request.model,
        finishReason: finishOf(data.finish_reason),
        usage: usageOf(data.usage),
      };
    },

    async *doStream(request, context) {
      const response = await send("/v2/chat", context, chatBody(request, true));
      for await (const event of events(response, context.signal)) {
        const text = event.type === "content-delta" ? event.delta?.message?.content?.text : undefined;
        if (text) yield { type: "text", text };
        if (event.type !== "message-end") continue;
        // Cohere ends a stream that failed mid-way with finish_reason "ERROR".
        if (event.delta?.finish_reason === "ERROR") throw upstreamError(id, { type: "stream_error" });
        yield {
          type: "finish",
          model: request.model,
          finishReason: finishOf(event.delta?.finish_reason),
          usage: usageOf(event.delta?.usage),
        };
        return;
      }
      throw upstreamError(id, { type: "stream_cut_short" }); // no message-end: the connection was cut
    },
  };
}
