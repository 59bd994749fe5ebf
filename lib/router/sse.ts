// Writes a ChatStream as Server-Sent Events: chunk events, then done or error; honours backpressure and disconnects.
import type { ServerResponse } from "node:http";
import { type MessageFor } from "./error-messages.js";
import { errorAnswer, toHttpError } from "./send-error.js";
import type { ChatStream } from "../core/types.js";

/** Headers of a byok SSE answer: no caching, no proxy buffering, no compression (`no-transform`). */
export const SSE_HEADERS = Object.freeze({
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-store, no-transform",
  "X-Accel-Buffering": "no",
  Connection: "keep-alive",
});

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** What the client sees for a failure after the stream started: the code and its end-user message only. */
function errorPayload(error: unknown, messageFor: MessageFor): { code: string; message: string } {
  const { code, message } = errorAnswer(toHttpError(error), messageFor);
  return { code, message };
}

/** Writes one frame; waits for `drain` when the socket's buffer is full, so a slow reader holds back the upstream. */
async function write(res: ServerResponse, text: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  if (res.write(text)) return true;
  await new Promise<void>((resolve) => {
    const go = () => {
      res.off("drain", go).off("close", go);
      resolve();
    };
    res.on("drain", go).on("close", go);
  });
  return !res.destroyed;
}

/**
 * Sends `stream` as SSE. The first chunk is read before any header is written, so failures that
 * happen before the stream starts (no key, rejected key, upstream 429…) reject here and the caller
 * answers them as ordinary JSON errors with their status.
 *
 * @param messageFor - the end-user message of an `error` event
 * @param onStarted - called once headers are about to be written (e.g. to set extra headers)
 */
export async function sendChatStream(
  res: ServerResponse,
  stream: ChatStream,
  messageFor: MessageFor,
  onStarted?: () => void,
): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]();
  let next = await iterator.next(); // errors before the first byte propagate to the JSON error handler
  onStarted?.();
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  try {
    while (!next.done) {
      if (!(await write(res, frame("chunk", { text: next.value.text })))) {
        await iterator.return?.(undefined); // the reader is gone: stop reading, which aborts the upstream call
        return;
      }
      next = await iterator.next();
    }
    await write(res, frame("done", await stream.response));
  } catch (error) {
    if (!res.destroyed) await write(res, frame("error", errorPayload(error, messageFor)));
  } finally {
    if (!res.writableEnded) res.end();
  }
}
