// Run by fetch-path-modules.test.ts as `node fetch-path-probe.mjs cjs|esm`: loads the BUILT byok-ai (dist/) in that
// format, answers requests through byokHandler alone, and prints one JSON line with the packages loaded by then, and
// again once byokRouter is built (the control: the probe does see Express when something loads it).
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";

const format = process.argv[2];
const require = createRequire(import.meta.url);
const dist = new URL("../../dist/", import.meta.url);
const load = (entry) =>
  format === "cjs" ? require(new URL(`${entry}.cjs`, dist).pathname) : import(new URL(`${entry}.mjs`, dist).href);

/**
 * The packages under node_modules with a file in Node's CommonJS module cache, as "name" or "@scope/name". Express and
 * its dependencies are CommonJS, and an ES module importing one loads it through that same cache.
 */
function loadedPackages() {
  const names = new Set();
  for (const file of Object.keys(require.cache)) {
    const match = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/](?!.*[\\/]node_modules[\\/])/.exec(file);
    if (match) names.add(match[1].replace(/\\/g, "/"));
  }
  return [...names].sort();
}

const { BYOK, MemoryStore, byokHandler, byokRouter } = await load("index");
const { startFakeProviders } = await load("testing");
const fakes = await startFakeProviders();
const byok = new BYOK({ masterKey: randomBytes(32), store: new MemoryStore(), providers: fakes.providers });
const handler = byokHandler({ byok, getUserId: async (request) => request.headers.get("x-user") ?? undefined });
const ask = async (method, path, body) => {
  const headers = { "x-user": "u1", "content-type": "application/json", accept: "text/event-stream" };
  const response = await handler(
    new Request(`http://localhost/byok${path}`, { method, headers, body: body && JSON.stringify(body) }),
  );
  return [response.status, await response.text()];
};
const answers = [
  await ask("POST", "/keys", { provider: "gemini", apiKey: "AIzaPROBE-0123456789abcdefXYZW" }),
  await ask("POST", "/chat", { prompt: "hello" }),
].map(([status, body]) => [status, body.slice(0, 14)]);
const fetchPath = loadedPackages();
byokRouter({ byok });
const withRouter = loadedPackages();
await byok.close();
await fakes.close();
process.stdout.write(`${JSON.stringify({ answers, fetchPath, withRouter })}\n`);
