// Handler of POST {basePath}/chat: the request's AiClient chat, or its stream as SSE frames.
import type { ChatRequest } from "../core/types.js";
import type { MessageFor } from "./error-messages.js";
import type { RouteAnswer, RouteInput } from "./route-layer.js";
import { chatFrames } from "./sse.js";

/** `stream: true`, or no `stream` field and `Accept: text/event-stream`. */
function wantsStream(input: RouteInput, stream: boolean | undefined): boolean {
  return stream ?? (input.header("accept") ?? "").toLowerCase().includes("text/event-stream");
}

/**
 * `POST {basePath}/chat` for the signed-in user: an ordinary client of the public AiClient (bound to
 * the request: a client that disconnects aborts the upstream call), which checks the request's fields
 * and answers INVALID_REQUEST naming the bad ones.
 */
export function chatRoute(messageFor: MessageFor) {
  return async (input: RouteInput): Promise<RouteAnswer> => {
    const { stream, ...fields } = input.body as ChatRequest & { stream?: boolean };
    // Errors before the first chunk reject here, and are answered as JSON errors with their status.
    if (wantsStream(input, stream))
      return { status: 200, frames: await chatFrames(input.ai.stream(fields), messageFor) };
    return { status: 200, json: await input.ai.chat(fields) };
  };
}
