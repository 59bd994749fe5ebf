// A fake of Cohere's Chat API v2 for tests, built on startFakeUpstream from byok-ai/testing: a real HTTP server on
// 127.0.0.1 answering POST /v2/chat (JSON, or SSE events with `stream: true`) and GET /v1/models (key validation)
// with bearer auth, and refusing as Cohere does. test/readme/cohere-provider.test.ts runs examples/cohere-provider.ts
// against it through the provider conformance suite.
import type { FinishReason } from "byok-ai";
import { type FakeProtocol, type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from "byok-ai/testing";

type Reply = Parameters<FakeProtocol["chatBody"]>[0];

// Cohere reports no content-filter reason: the conformance options leave it out (finishReasons).
const FINISH: Record<FinishReason, string> = {
  stop: "COMPLETE",
  length: "MAX_TOKENS",
  other: "TOOL_CALL",
  content_filter: "ERROR",
};
const usage = ({ usage: u }: Reply) => ({
  billed_units: { input_tokens: u.inputTokens, output_tokens: u.outputTokens },
  tokens: { input_tokens: u.inputTokens, output_tokens: u.outputTokens },
});
/** One SSE event as Cohere sends it: its type as the event name and in the data. */
const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const TRIAL = "You are using a Trial key, which is limited to";

export const cohereProtocol: FakeProtocol = {
  route(method, url, body) {
    if (method === "GET" && url.pathname === "/v1/models") return { op: "validate", model: "" };
    if (method !== "POST" || url.pathname !== "/v2/chat") return undefined;
    const { model, stream } = (body ?? {}) as { model?: unknown; stream?: unknown };
    return { op: stream === true ? "stream" : "chat", model: typeof model === "string" ? model : "" };
  },
  apiKey: (request) => /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1],
  lastUserText(body) {
    const messages = (body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
    const last = messages.filter((m) => m.role === "user").at(-1)?.content;
    return typeof last === "string" ? last : "";
  },
  rejectedKey: () => ({ status: 401, body: { id: "fake-401", message: "invalid api token" } }),
  // A trial key's monthly limit is its quota; its per-minute limit is a rate limit.
  refusal(kind, retryAfter) {
    if (kind === "quota") return { status: 429, body: { id: "fake-429", message: `${TRIAL} 1000 API calls / month.` } };
    const headers: Record<string, string> = retryAfter === undefined ? {} : { "retry-after": String(retryAfter) };
    return { status: 429, body: { id: "fake-429", message: `${TRIAL} 20 API calls / minute.` }, headers };
  },
  errorBody: (status, message) => ({ id: `fake-${status}`, message }),
  validateBody: () => ({ models: [{ name: "command-a-03-2025", endpoints: ["chat"] }] }),
  chatBody: (r) => ({
    id: "fake-chat",
    finish_reason: FINISH[r.finishReason],
    message: { role: "assistant", content: [{ type: "text", text: r.text }] },
    usage: usage(r),
  }),
  streamFrames: (r) => ({
    start: () =>
      event("message-start", { id: "fake-chat", delta: { message: { role: "assistant" } } }) +
      event("content-start", { index: 0, delta: { message: { content: { type: "text", text: "" } } } }),
    chunk: (text) => event("content-delta", { index: 0, delta: { message: { content: { text } } } }),
    end: () =>
      event("content-end", { index: 0 }) +
      event("message-end", { delta: { finish_reason: FINISH[r.finishReason], usage: usage(r) } }),
    error: (message) => event("message-end", { delta: { finish_reason: "ERROR", error: message } }),
  }),
};

/** Starts a fake Cohere API on 127.0.0.1: point the provider at it with `createCohereProvider({ baseUrl: fake.url })`. */
export function startFakeCohere(options?: FakeUpstreamOptions): Promise<FakeUpstream> {
  return startFakeUpstream(cohereProtocol, options);
}
