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

/**
 * The SSE frames of `stream`, framework-free. The first chunk is read before this resolves, so failures
 * that happen before the stream starts (no key, rejected key, upstream 429…) reject here and the caller
 * answers them as ordinary JSON errors with their status. Returning the iterator early (the reader went
 * away) stops reading, which aborts the upstream call.
 *
 * @param messageFor - the end-user message of an `error` event
 */
export async function chatFrames(stream: ChatStream, messageFor: MessageFor): Promise<AsyncGenerator<string>> {
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* frames(): AsyncGenerator<string> {
    try {
      for (let next = first; !next.done; next = await iterator.next()) yield frame("chunk", { text: next.value.text });
      yield frame("done", await stream.response);
    } catch (error) {
      yield frame("error", errorPayload(error, messageFor));
    } finally {
      await iterator.return?.(undefined);
    }
  }
  return frames();
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

/** Writes {@link chatFrames} to a Node response, with the SSE headers, honouring backpressure and disconnects. */
export async function sendFrames(res: ServerResponse, frames: AsyncGenerator<string>): Promise<void> {
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
  try {
    for await (const text of frames) if (!(await write(res, text))) break; // break returns the generator
  } finally {
    if (!res.writableEnded) res.end();
  }
}
