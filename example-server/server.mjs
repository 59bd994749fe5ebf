// Runs the example: `npm run example`. Reads its settings from the environment and listens on PORT (default 3000).
import { createExampleApp } from "./app.mjs";
import { optionsFromEnv } from "./config.mjs";

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
