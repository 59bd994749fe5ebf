// Runs the example: `npm run example`. Builds byok-ai's JavaScript first if dist/ is missing or stale (no type
// declarations: about a second), reads its settings from the environment and listens on PORT (default 3000).
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../scripts/ensure-built.mjs";
import { optionsFromEnv } from "./config.mjs";

ensureBuilt(fileURLToPath(new URL("..", import.meta.url)), { types: false });
// Imported only now: app.mjs imports byok-ai by name, which resolves to the dist/ just built.
const { createExampleApp } = await import("./app.mjs");

const options = optionsFromEnv(process.env);
let example;
try {
  example = await createExampleApp(options);
} catch (error) {
  console.error(`Cannot start the example: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

const server = example.app.listen(options.port, () => {
  const base = `http://localhost:${server.address().port}`;
  console.log(`byok-ai example on ${base}  (demo login: ${base}/ , keys: ${base}/keys , chat: ${base}/chat)`);
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections?.();
  example.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
