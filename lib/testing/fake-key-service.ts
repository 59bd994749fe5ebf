// The loopback HTTP server behind the fake key services (Vault transit, AWS KMS): fault knobs and a record of every call.
import { createServer, type IncomingMessage } from "node:http";
import { listenOnLoopback } from "./loopback-server.js";

/** Faults a fake key service plays; change them at any time, they apply to the next request. */
export interface KeyServiceFaults {
  /** Reset every connection without an answer, as a service that cannot be reached. */
  down: boolean;
  /** Accept requests and never answer them, as a hung service. */
  hang: boolean;
  /** Refuse every call as the service does for a token or role without permission. */
  deny: boolean;
  /** Fail every decrypt as the service does when the context does not match the one wrapped with. */
  wrongContext: boolean;
  /** Answer every decrypt with success but a plaintext that is not a 32-byte data key, as a broken service or proxy. */
  garbled: boolean;
}

/** One call the fake answered. */
export interface KeyServiceCall {
  /** `encrypt`, `decrypt` (Vault) or `Encrypt`, `Decrypt`, `GenerateDataKey`, `ReEncrypt` (KMS). */
  operation: string;
  status: number;
  /** The answer's body, as sent (a test can check what the app received). */
  responseBody: string;
}

/** What every fake key service has. */
export interface FakeKeyService {
  /** Base URL (`http://127.0.0.1:<port>`). */
  readonly url: string;
  /** The faults to play (all off at first). */
  readonly faults: KeyServiceFaults;
  /** Every answered call, in order. */
  readonly calls: KeyServiceCall[];
  /** Stops the server, dropping hung requests. */
  close(): Promise<void>;
}

/** A handler's answer. */
export interface KeyServiceAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * Starts a server on 127.0.0.1 and a random port that answers through `handle` unless a fault says
 * otherwise (`down`, `hang`; `deny` and `wrongContext` are the handler's to play).
 */
export async function startKeyServiceServer(
  handle: (
    request: IncomingMessage,
    body: string,
    faults: KeyServiceFaults,
  ) => KeyServiceAnswer & { operation: string },
): Promise<FakeKeyService> {
  const faults: KeyServiceFaults = { down: false, hang: false, deny: false, wrongContext: false, garbled: false };
  const calls: KeyServiceCall[] = [];
  const server = createServer((request, response) => {
    if (faults.down) {
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (faults.hang) return;
      const { operation, status, body, headers } = handle(request, Buffer.concat(chunks).toString("utf8"), faults);
      const text = JSON.stringify(body);
      calls.push({ operation, status, responseBody: text });
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(text);
    });
  });
  // As a real service's load balancer does (60 s and more), not Node's 5 s: @aws-sdk's http.Agent reuses an idle
  // socket without reading the Keep-Alive hint, so a socket Node closed at 5 s resets the request that took it, and on
  // a busy machine enough of those at once use up the SDK's retry quota. close() still drops idle sockets at once.
  server.keepAliveTimeout = 65_000;
  const { url, close } = await listenOnLoopback(server);
  return { url, faults, calls, close };
}
