// OpenAI's Responses API (POST /v1/responses, the AI SDK's default) for the fake: JSON and SSE answers, tool calls.
import type { FakeProtocol, ResolvedReply } from "./fake-upstream.js";

type Part = { type?: string; text?: unknown };
type Turn = { role?: string; content?: unknown };

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? (content as Part[]).map((p) => (typeof p?.text === "string" ? p.text : "")).join("")
      : "";

/** The last user message of a Chat Completions (`messages`) or Responses (`input`) body, text parts joined. */
export function lastUserText(body: unknown): string {
  const b = body as { messages?: Turn[]; input?: unknown } | undefined;
  if (typeof b?.input === "string") return b.input;
  const turns = Array.isArray(b?.input) ? (b.input as Turn[]) : (b?.messages ?? []);
  return textOf([...turns].reverse().find((t) => t?.role === "user")?.content);
}

const MESSAGE_ID = "msg_fake";
const usage = (r: ResolvedReply) => ({
  input_tokens: r.usage.inputTokens,
  input_tokens_details: { cached_tokens: r.usage.cachedInputTokens ?? 0 },
  output_tokens: r.usage.outputTokens,
  output_tokens_details: { reasoning_tokens: r.usage.reasoningTokens ?? 0 },
  total_tokens: r.usage.totalTokens,
});
const INCOMPLETE: Partial<Record<ResolvedReply["finishReason"], string>> = {
  length: "max_output_tokens",
  content_filter: "content_filter",
};
const messageItem = (text: string, status = "completed") => ({
  type: "message",
  id: MESSAGE_ID,
  status,
  role: "assistant",
  content: status === "completed" ? [{ type: "output_text", text, annotations: [], logprobs: [] }] : [],
});
const callItems = (r: ResolvedReply) =>
  r.toolCalls.map((c, i) => ({
    type: "function_call",
    id: `fc_fake_${i + 1}`,
    call_id: c.id,
    name: c.name,
    arguments: c.arguments,
    status: "completed",
  }));
const hasMessage = (r: ResolvedReply) => r.text !== "" || r.toolCalls.length === 0;

function response(r: ResolvedReply, done: boolean) {
  const reason = INCOMPLETE[r.finishReason];
  return {
    id: "resp_fake",
    object: "response",
    created_at: 0,
    status: !done ? "in_progress" : reason ? "incomplete" : "completed",
    model: r.model,
    output: done ? [...(hasMessage(r) ? [messageItem(r.text)] : []), ...callItems(r)] : [],
    error: null,
    incomplete_details: done && reason ? { reason } : null,
    parallel_tool_calls: true,
    tool_choice: "auto",
    tools: [],
    usage: done ? usage(r) : null,
  };
}

/** The Responses API's answers; the route `/responses` of {@link openaiProtocol} uses it. */
export const responsesFormat: Pick<FakeProtocol, "chatBody" | "streamFrames"> = {
  chatBody: (r) => response(r, true),
  streamFrames(r) {
    let sequence = 0;
    const event = (type: string, data: object) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`;
    const text = { item_id: MESSAGE_ID, output_index: 0, content_index: 0 };
    return {
      start: () =>
        event("response.created", { response: response(r, false) }) +
        event("response.in_progress", { response: response(r, false) }),
      chunk: (delta, index) =>
        (index === 0
          ? event("response.output_item.added", { output_index: 0, item: messageItem("", "in_progress") }) +
            event("response.content_part.added", { ...text, part: { type: "output_text", text: "", annotations: [] } })
          : "") + event("response.output_text.delta", { ...text, delta, logprobs: [] }),
      end() {
        let out = "";
        if (r.chunks.length > 0) {
          const part = { type: "output_text", text: r.text, annotations: [] };
          out +=
            event("response.output_text.done", { ...text, text: r.text, logprobs: [] }) +
            event("response.content_part.done", { ...text, part }) +
            event("response.output_item.done", { output_index: 0, item: messageItem(r.text) });
        }
        const first = r.chunks.length > 0 ? 1 : 0;
        callItems(r).forEach((item, i) => {
          const at = { item_id: item.id, output_index: first + i };
          out +=
            event("response.output_item.added", {
              output_index: first + i,
              item: { ...item, arguments: "", status: "in_progress" },
            }) +
            event("response.function_call_arguments.delta", { ...at, delta: item.arguments }) +
            event("response.function_call_arguments.done", { ...at, arguments: item.arguments }) +
            event("response.output_item.done", { output_index: first + i, item });
        });
        const final = response(r, true);
        return (
          out + event(final.status === "completed" ? "response.completed" : "response.incomplete", { response: final })
        );
      },
      error: (message, type) => event("error", { code: type ?? "server_error", message, param: null }),
    };
  },
};
