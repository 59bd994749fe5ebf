// Handler of POST {basePath}/chat: req.ai.chat or req.ai.stream, cancelled through its signal when the client goes away.
import type { Request } from "express";
import type { ChatRequest } from "../core/types.js";
import { asyncRoute } from "./async-route.js";
import type { MessageFor } from "./error-messages.js";
import { sendJson } from "./send-json.js";
import { clientGone } from "./request-user.js";
import { sendChatStream } from "./sse.js";

/** `stream: true`, or no `stream` field and `Accept: text/event-stream`. */
function wantsStream(req: Request, stream: boolean | undefined): boolean {
  return stream ?? (req.headers.accept ?? "").toLowerCase().includes("text/event-stream");
}

/**
 * `POST {basePath}/chat` for the signed-in user: an ordinary client of the public AiClient (`req.ai`),
 * which checks the request's fields and answers INVALID_REQUEST naming the bad ones.
 */
export function chatRoute(messageFor: MessageFor) {
  return asyncRoute(async (req, res) => {
    const { stream, ...fields } = req.body as ChatRequest & { stream?: boolean };
    // req.ai is bound to the request: a client that disconnects aborts the upstream call.
    const signal = clientGone(req, res);
    try {
      if (wantsStream(req, stream)) {
        // Errors before the first chunk propagate to the JSON error handler with their status.
        await sendChatStream(res, req.ai.stream(fields), messageFor);
      } else {
        sendJson(res, 200, await req.ai.chat(fields));
      }
    } catch (error) {
      if (signal.aborted) return; // nobody is left to answer
      throw error;
    }
  });
}
