// Handler of POST {basePath}/chat: one JSON ChatResponse or an SSE stream, aborted upstream when the client goes away.
import type { Request, Response } from "express";
import { runChat, runStream } from "../core/ai-client.js";
import type { CoreContext } from "../core/context.js";
import type { AbortLink } from "../core/deadline.js";
import type { ChatRequest } from "../core/types.js";
import { asyncRoute } from "./async-route.js";
import { forRequest } from "./request-id.js";
import type { MessageFor } from "./error-messages.js";
import { userIdOf } from "./request-user.js";
import { sendJson } from "./send-json.js";
import { sendChatStream } from "./sse.js";

/** `stream: true`, or no `stream` field and `Accept: text/event-stream`. */
function wantsStream(req: Request, stream: boolean | undefined): boolean {
  return stream ?? (req.headers.accept ?? "").toLowerCase().includes("text/event-stream");
}

/**
 * Watches for the client going away before its answer was sent, from now on: `link` hands that to
 * the provider call's deadline (no AbortSignal of its own), and `gone` tells the route nobody is
 * left to answer.
 */
function clientWatch(res: Response): { link: AbortLink; readonly gone: boolean } {
  let gone = false;
  let abort: ((reason: unknown) => void) | undefined;
  const reason = () => new DOMException("The client disconnected.", "AbortError");
  res.on("close", () => {
    if (res.writableFinished) return;
    gone = true;
    abort?.(reason());
  });
  return {
    link(fn) {
      if (gone) fn(reason());
      else abort = fn;
      return () => (abort = undefined);
    },
    get gone() {
      return gone;
    },
  };
}

/** `POST {basePath}/chat` for the signed-in user. */
export function chatRoute(context: CoreContext, messageFor: MessageFor) {
  return asyncRoute(async (req, res) => {
    const { stream, ...request } = req.body as ChatRequest & { stream?: boolean };
    const userId = userIdOf(req);
    const client = clientWatch(res);
    try {
      if (wantsStream(req, stream)) {
        // Errors before the first chunk propagate to the JSON error handler with their status.
        await sendChatStream(res, runStream(forRequest(context, req), userId, request, client.link), messageFor);
      } else {
        sendJson(res, 200, await runChat(forRequest(context, req), userId, request, client.link));
      }
    } catch (error) {
      if (client.gone) return; // nobody is left to answer
      throw error;
    }
  });
}
