// Test helper: runs the example app (createExampleApp) on 127.0.0.1:0 with quiet logs and slow-streaming fakes,
// prints {"url"} once listening, and shuts everything down when its stdin closes (so it never outlives the test).
import { createExampleApp } from "../../example-server/app.mjs";

const chunkDelayMs = Number(process.argv[2] ?? 150);
const { app, close } = await createExampleApp({ fakeReply: { chunkDelayMs }, log: () => {}, warn: () => {} });
const server = app.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
process.stdin.on("end", () => {
  server.close();
  server.closeAllConnections();
  close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.stdin.resume();
