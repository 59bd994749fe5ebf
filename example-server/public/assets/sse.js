// Reads Server-Sent Events from a fetch Response (EventSource cannot POST): yields { event, data } per frame.

/**
 * Parses `event:` / `data:` lines of an SSE body as it arrives. `data` is the frame's data lines
 * joined with "\n", parsed as JSON when possible.
 * @param {Response} response a fetch Response whose body is text/event-stream
 */
export async function* readSse(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "message";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? ""; // an unfinished line waits for the next read
      for (const line of lines) {
        if (line === "") {
          if (data.length > 0) yield { event, data: parse(data.join("\n")) };
          [event, data] = ["message", []];
        } else if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        // ":" comments, "id:" and "retry:" lines are ignored
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
