// Minimal byok-ai example: offline by default (fake Gemini), one demo user, chat over HTTP.
import { createServer } from "node:http";
import { BYOK, MemoryStore, generateMasterKey } from "byok-ai";
import { startFakeGemini } from "byok-ai/testing";

const port = Number(process.env.PORT ?? 3000);
const fake = process.env.GEMINI_BASE_URL ? undefined : await startFakeGemini();
if (fake) console.log(`Offline mode: a fake Gemini API runs at ${fake.url} (set GEMINI_BASE_URL to use a real one).`);
const masterKey = process.env.BYOK_MASTER_KEY ?? generateMasterKey();
if (!process.env.BYOK_MASTER_KEY) console.warn("No BYOK_MASTER_KEY set: generated one for this run; stored keys will not survive a restart.");

const byok = new BYOK({ masterKey, store: new MemoryStore(), providers: { gemini: { baseUrl: process.env.GEMINI_BASE_URL ?? fake.url } } });
await byok.registerKey({ userId: "demo", provider: "gemini", apiKey: process.env.DEMO_GEMINI_KEY ?? "AIza-demo-key-for-the-fake" });

createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  const prompt = url.searchParams.get("prompt") ?? "Hello from byok-ai";
  try {
    const answer = await byok.use("demo").chat({ prompt });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer, null, 2));
  } catch (error) {
    res.writeHead(error.status ?? 500, { "content-type": "application/json" }).end(JSON.stringify({ error }));
  }
}).listen(port, () => console.log(`byok-ai example on http://localhost:${port}/?prompt=hello`));
