// A fake's HTTP server on a free loopback port, closed at once however many idle client connections it holds.
import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Listens on 127.0.0.1 (a free port): the server's base URL, and a `close` that drops open connections first. */
export async function listenOnLoopback(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
