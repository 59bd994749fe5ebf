// Writes a JSON answer straight to the socket: byok answers are `no-store`, so Express's res.json (ETag, freshness, settings lookups) buys nothing.
import type { ServerResponse } from "node:http";

/** Answers `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(payload));
  res.end(payload);
}
