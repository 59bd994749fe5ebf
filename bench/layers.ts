// Where a chat's CPU goes, layer by layer, in one process: the bare @google/genai client, byok-ai's Gemini provider, and byok.use().chat().
import { GoogleGenAI } from "@google/genai";
import { BYOK, createGeminiProvider, generateMasterKey, MemoryStore } from "../lib";
import { startFakeGemini } from "../lib/testing";
import { BENCH_KEY } from "./support";

const CALLS = Number(process.env.BENCH_CALLS ?? 1500);
const MODEL = "gemini-2.5-flash";

/** CPU µs per call of `run` (this process: the fake runs here too, the same for every layer). */
async function cpuPerCall(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await run(); // warm-up: JIT, connection pool
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) await run();
  const { user, system } = process.cpuUsage(start);
  return (user + system) / CALLS;
}

async function main(): Promise<void> {
  const fake = await startFakeGemini();
  const bare = new GoogleGenAI({
    apiKey: BENCH_KEY,
    vertexai: false,
    httpOptions: { baseUrl: fake.url, apiVersion: "v1beta" },
  });
  const provider = createGeminiProvider({ baseUrl: fake.url });
  await provider.load?.();
  const byok = new BYOK({
    masterKey: generateMasterKey(),
    store: new MemoryStore(),
    providers: { gemini: { baseUrl: fake.url } },
  });
  await byok.registerKey({ userId: "u", provider: "gemini", apiKey: BENCH_KEY, validate: false });
  const ai = byok.use("u");
  const layers: [string, () => Promise<unknown>][] = [
    ["(a) @google/genai, one client", () => bare.models.generateContent({ model: MODEL, contents: "Say hello" })],
    [
      "(b) byok-ai Gemini provider",
      () =>
        provider.doChat(
          { model: MODEL, messages: [{ role: "user", content: "Say hello" }] },
          { apiKey: BENCH_KEY, signal: new AbortController().signal },
        ),
    ],
    ["(c) byok.use().chat(), MemoryStore", () => ai.chat({ prompt: "Say hello" })],
  ];
  const results = new Map<string, number[]>();
  for (let round = 0; round < 3; round++)
    for (const [name, run] of layers) results.set(name, [...(results.get(name) ?? []), await cpuPerCall(run)]);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const base = median(results.get(layers[0]![0])!);
  console.log(
    `layers: ${CALLS} calls per layer and round, 3 interleaved rounds, medians; CPU of this process (fake included)`,
  );
  for (const [name] of layers) {
    const cpu = median(results.get(name)!);
    console.log(`  ${name.padEnd(38)} ${cpu.toFixed(0).padStart(6)} µs/call  +${(cpu - base).toFixed(0)} µs vs (a)`);
  }
  await byok.close();
  await fake.close();
}

void main();
