// An Express app with byok-ai that shuts down cleanly on SIGTERM (what Kubernetes, systemd, Docker and most PaaS
// send before they kill a process) and on Ctrl-C: it stops taking requests, lets those in flight finish, closes the
// store's own Redis connection, and exits. docs/deployment.md ("Graceful shutdown") shows the shutdown part;
// test/readme/examples.test.ts runs this file and sends it SIGTERM.
//
//   BYOK_MASTER_KEY=$(npx byok-ai keygen) REDIS_URL=redis://127.0.0.1:6379 node examples/graceful-shutdown.mjs
import express from "express";
import { BYOK, RedisStore, byokErrorHandler, byokRouter } from "byok-ai";

const byok = new BYOK({
  masterKey: process.env.BYOK_MASTER_KEY ?? "", // when unset: CONFIG_INVALID, saying how to make one
  store: new RedisStore({ url: process.env.REDIS_URL }),
});
const app = express();
// A stand-in for your login: the user named by a header. Never do this in a real app.
app.use(byokRouter({ byok, getUserId: (req) => req.get("x-demo-user") }));
app.use(byokErrorHandler());

const server = app.listen(Number(process.env.PORT ?? 3000));

/** How long requests in flight (a long chat stream) may take to finish before their connections are cut. */
const DRAIN_MS = 10_000;
let stopping = false;

/**
 * Stops taking requests, waits for those in flight, closes byok's store connections, then exits.
 * @param {string} signal
 */
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down`);
  // Connections still busy after DRAIN_MS are closed, so a stream that never ends cannot hold the exit.
  setTimeout(() => server.closeAllConnections(), DRAIN_MS).unref();
  try {
    // close() stops accepting connections, closes idle keep-alive ones, and calls back when the last one ends.
    await new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve(undefined))));
    await byok.close(); // the store's own connection (RedisStore/PostgresStore from a url); never one you passed in
    process.exit(0);
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}
// A listener replaces Node's default action for the signal (exit at once), so it must end the process itself:
// `process.on("SIGTERM", () => void byok.close())` alone would keep the server running and never exit.
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

server.on("listening", () => {
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  console.log(`listening on http://127.0.0.1:${port}`);
});
