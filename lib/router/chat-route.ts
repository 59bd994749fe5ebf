// Handler of POST {basePath}/chat: one JSON ChatResponse or an SSE stream, aborted upstream when the client goes away.
import type { Request, Response } from "express";
import { createAiClient } from "../core/ai-client.js";
import type { CoreContext } from "../core/context.js";
import type { AiClient, ChatRequest } from "../core/types.js";
import { asyncRoute } from "./async-route.js";
import { userIdOf } from "./request-user.js";
import { sendChatStream } from "./sse.js";

/** `stream: true`, or no `stream` field and `Accept: text/event-stream`. */
function wantsStream(req: Request, stream: boolean | undefined): boolean {
  return stream ?? (req.headers.accept ?? "").toLowerCase().includes("text/event-stream");
}

/** An AbortSignal that fires when the client disconnects before the answer was sent. */
export function abortOnDisconnect(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort(new DOMException("The client disconnected.", "AbortError"));
  });
  return controller.signal;
}

async function sendJsonChat(ai: AiClient, request: ChatRequest, res: Response): Promise<void> {
  const signal = abortOnDisconnect(res);
  try {
    res.status(200).json(await ai.chat({ ...request, signal }));
  } catch (error) {
    if (signal.aborted) return; // nobody is left to answer
    throw error;
  }
}

/** Server-Sent Events; errors before the first chunk propagate to the JSON error handler with their status. */
async function sendStreamChat(ai: AiClient, request: ChatRequest, res: Response): Promise<void> {
  const signal = abortOnDisconnect(res);
  try {
    await sendChatStream(res, ai.stream({ ...request, signal }));
  } catch (error) {
    if (signal.aborted) return; // nobody is left to answer
    throw error;
  }
}

/** `POST {basePath}/chat` for the signed-in user. */
export function chatRoute(context: CoreContext) {
  return asyncRoute(async (req, res) => {
    const { stream, ...request } = req.body as ChatRequest & { stream?: boolean };
    const ai = createAiClient(context, userIdOf(req));
    await (wantsStream(req, stream) ? sendStreamChat : sendJsonChat)(ai, request, res);
  });
}
