// Installs the packed tarball into fresh CommonJS and ESM apps and runs the README's usage against the fake Gemini.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { version as typescriptVersion } from "typescript";
import { packBuiltPackage } from "../helpers/built-package";

/** `npm install` of `packages` into the app in `dir`, as a user would, quietly. */
function npmInstall(dir: string, packages: string[]): void {
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...packages], {
    cwd: dir,
    stdio: "pipe",
  });
}

/** Type-checks `files` in `dir` with the app's TypeScript: strict, skipLibCheck off, so our .d.ts are checked too. */
function typecheck(dir: string, resolution: "node16" | "nodenext", files: string[]): string {
  const tsc = join(dir, "node_modules/typescript/bin/tsc");
  const args = ["--noEmit", "--strict", "--skipLibCheck", "false", "--module", resolution, "--moduleResolution"];
  return execFileSync("node", [tsc, ...args, resolution, "--target", "es2022", "--types", "node", ...files], {
    cwd: dir,
    encoding: "utf8",
    stdio: "pipe",
  });
}

const KEY = "AIza-package-test-key-0001";
const usage = (imports: string) => `${imports}
const main = async () => {
  const fake = await startFakeGemini();
  const byok = new BYOK({ masterKey: generateMasterKey(), store: new MemoryStore(), providers: { gemini: { baseUrl: fake.url } } });
  await byok.registerKey({ userId: "user-1", provider: "gemini", apiKey: "${KEY}" });
  const response = await byok.use("user-1").chat({ prompt: "hello package" });
  console.log(JSON.stringify({ text: response.text, keys: fake.requests.map((r) => r.apiKey), isError: typeof ByokError.is }));
  await byok.close();
  await fake.close();
};
main();
`;

const typed = `import { BYOK, MemoryStore, type ChatResponse, type KeyInfo } from "byok-ai";
import { startFakeGemini, type FakeUpstream } from "byok-ai/testing";
import { upstreamError, type KeyStore } from "byok-ai/extend";
export const store: KeyStore = new MemoryStore();
export const refused: string = upstreamError("mine", { status: 401 }).code;
export async function check(fake: FakeUpstream): Promise<[KeyInfo, ChatResponse]> {
  const byok = new BYOK({ masterKey: "x".repeat(44), store: new MemoryStore() });
  const info = await byok.registerKey({ userId: "u", provider: "gemini", apiKey: "k".repeat(10) });
  // @ts-expect-error prompt must be a string
  await byok.use("u").chat({ prompt: 1 });
  return [info, await byok.use("u").chat({ prompt: "x" })];
}
export const started: Promise<FakeUpstream> = startFakeGemini();
`;

describe("the packed byok-ai package", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "byok-package-"));
    const tarball = packBuiltPackage(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "app", private: true }));
    // The Quickstart's install: the Gemini SDK is an optional peer.
    npmInstall(dir, [tarball, "@google/genai@^2.32", `typescript@${typescriptVersion}`, "@types/node@20"]);
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (file: string) => JSON.parse(execFileSync("node", [file], { cwd: dir, encoding: "utf8" }));

  it("works from ESM (import), and the upstream sees exactly the registered key", () => {
    writeFileSync(
      join(dir, "app.mjs"),
      usage(
        `import { BYOK, ByokError, MemoryStore, generateMasterKey } from "byok-ai";\nimport { startFakeGemini } from "byok-ai/testing";`,
      ),
    );
    expect(run("app.mjs")).toEqual({ text: "Echo: hello package", keys: [KEY, KEY], isError: "function" });
  });

  it("works from CommonJS (require), and the upstream sees exactly the registered key", () => {
    writeFileSync(
      join(dir, "app.cjs"),
      usage(
        `const { BYOK, ByokError, MemoryStore, generateMasterKey } = require("byok-ai");\nconst { startFakeGemini } = require("byok-ai/testing");`,
      ),
    );
    expect(run("app.cjs")).toEqual({ text: "Echo: hello package", keys: [KEY, KEY], isError: "function" });
  });

  // An app that uses Redis and PostgreSQL installs them; skipLibCheck stays off so our .d.ts are checked.
  it("ships types that check under TypeScript's node16 resolution, for ESM and CommonJS", () => {
    npmInstall(dir, ["@types/express@5", "ioredis@6", "pg@8", "@types/pg@8"]);
    writeFileSync(join(dir, "check.mts"), typed);
    writeFileSync(join(dir, "check.cts"), typed);
    expect(() => typecheck(dir, "node16", ["check.mts", "check.cts"])).not.toThrow();
  });

  it("serves a BYOK made from import through the router loaded with require (an ESM app with one CommonJS dependency)", () => {
    npmInstall(dir, ["express@5"]);
    writeFileSync(
      join(dir, "dual.mjs"),
      `import { createRequire } from "node:module";
import { once } from "node:events";
import { BYOK, generateMasterKey } from "byok-ai";
import { startFakeGemini } from "byok-ai/testing";
const require = createRequire(import.meta.url);
const { byokRouter, BYOK: RequiredBYOK } = require("byok-ai");
const express = require("express");
const fake = await startFakeGemini();
const byok = new BYOK({ masterKey: generateMasterKey(), providers: { gemini: { baseUrl: fake.url } } });
const app = express();
app.use((req, _res, next) => ((req.user = { id: "u1" }), next()));
app.use(byokRouter({ byok }));
const server = app.listen(0, "127.0.0.1");
await once(server, "listening");
const base = "http://127.0.0.1:" + server.address().port;
const post = (path, body) =>
  fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const created = await post("/byok/keys", { provider: "gemini", apiKey: "${KEY}" });
const chat = await (await post("/byok/chat", { prompt: "dual" })).json();
const missing = await (await post("/byok/chat", { prompt: "x", provider: "openai" })).json(); // its SDK is not installed
console.log(JSON.stringify({ copies: RequiredBYOK !== BYOK, created: created.status, text: chat.text, missing: missing.error.code }));
server.close();
await fake.close();
`,
    );
    expect(run("dual.mjs")).toEqual({ copies: true, created: 201, text: "Echo: dual", missing: "UNKNOWN_PROVIDER" });
  });

  it("installs a byok-ai bin whose keygen prints a 32-byte base64 master key", () => {
    const key = execFileSync(join(dir, "node_modules/.bin/byok-ai"), ["keygen"], { cwd: dir, encoding: "utf8" }).trim();
    expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(key).toHaveLength(44);
  });
});

/** An app that installed byok-ai (and express, its one required peer) but none of the optional peers. */
const NO_PEERS_TYPED = `import { BYOK, MemoryStore, RedisStore, PostgresStore, byokRouter, type ChatResponse, type ModelInfo } from "byok-ai";
import { startFakeProviders } from "byok-ai/testing";
import express from "express";
export async function check(): Promise<[ChatResponse, ModelInfo[]]> {
  const fakes = await startFakeProviders();
  const byok = new BYOK({ masterKey: "x".repeat(44), store: new MemoryStore(), providers: fakes.providers });
  express().use(byokRouter({ byok }));
  const stores = [new RedisStore({ url: "redis://localhost" }), new PostgresStore({ connectionString: "postgres://x" })];
  void stores;
  return [await byok.use("u").chat({ prompt: "x" }), await byok.use("u").models()];
}
`;

const NO_PEERS_RUN = `const { BYOK, RedisStore, PostgresStore, generateMasterKey } = require("byok-ai");
const failure = (run) => { try { run(); return "constructed"; } catch (e) { return e.code + " " + e.message; } };
const rejection = (p) => p.then(() => "resolved", (e) => e.code + " " + e.message);
(async () => {
  const byok = new BYOK({ masterKey: generateMasterKey() });
  const out = {
    offered: byok.toJSON().providers,
    redis: failure(() => new RedisStore({ url: "redis://127.0.0.1:1" })),
    postgres: failure(() => new PostgresStore({ connectionString: "postgres://127.0.0.1/test" })),
    configured: failure(() => new BYOK({ masterKey: generateMasterKey(), providers: { openai: {} } })),
    compatible: failure(() => new BYOK({ masterKey: generateMasterKey(), providers: { groq: { kind: "openai-compatible", baseUrl: "https://api.groq.com/openai/v1", defaultModel: "m" } } })),
  };
  for (const provider of ["gemini", "openai", "anthropic"])
    out[provider] = await rejection(byok.registerKey({ userId: "u", provider, apiKey: "sk-test-12345678" }));
  out.bedrock = await rejection(byok.registerKey({ userId: "u", provider: "bedrock", credential: { apiKey: "ABSK12345678", region: "us-east-1" } }));
  out.bedrockConfigured = failure(() => new BYOK({ masterKey: generateMasterKey(), providers: { bedrock: {} } }));
  out.vertex = await rejection(byok.registerKey({ userId: "u", provider: "vertex", credential: { serviceAccount: {}, location: "us-central1" } }));
  process.stdout.write(JSON.stringify(out));
})();
`;

describe("the packed byok-ai package in an app without the optional peers", () => {
  let dir: string;
  let tarball: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "byok-no-peers-"));
    tarball = packBuiltPackage(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bare-app", private: true }));
    // express is byok-ai's one required peer (npm installs it); @types/express is what a TypeScript app adds.
    const deps = [tarball, `typescript@${typescriptVersion}`, "@types/node@20", "express@5", "@types/express@5"];
    npmInstall(dir, deps);
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has none of the optional peers and no @google/generative-ai installed", () => {
    for (const name of [
      "ioredis",
      "pg",
      "openai",
      "@anthropic-ai/sdk",
      "@google/genai",
      "@google/generative-ai",
      "@aws-sdk/client-bedrock-runtime",
    ])
      expect([name, existsSync(join(dir, "node_modules", name))]).toEqual([name, false]);
  });

  it("ships LICENSE and the CJS CLI only, and depends on no @google/generative-ai", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n");
    expect(files).toContain("package/LICENSE");
    expect(files).toContain("package/dist/cli.cjs");
    expect(files).not.toContain("package/dist/cli.mjs");
    const manifest = execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" });
    expect(manifest).not.toContain("@google/generative-ai");
  });

  it.each([
    ["ESM (NodeNext)", "check.mts"],
    ["CommonJS (NodeNext)", "check.cts"],
  ])("ships types that compile in %s under strict with skipLibCheck off", (_label, file) => {
    writeFileSync(join(dir, file), NO_PEERS_TYPED);
    expect(() => typecheck(dir, "nodenext", [file])).not.toThrow();
  });

  it("does not offer a built-in whose SDK is absent, and fails at construction what needs a missing peer, printing nothing", () => {
    writeFileSync(join(dir, "peers.cjs"), NO_PEERS_RUN);
    const result = spawnSync("node", ["peers.cjs"], { cwd: dir, encoding: "utf8" });
    expect(result.stderr).toBe("");
    const out = JSON.parse(result.stdout) as Record<string, string | string[]>;
    expect(out.offered).toEqual([]);
    expect(out.redis).toMatch(/^CONFIG_INVALID .*npm install ioredis/);
    expect(out.postgres).toMatch(/^CONFIG_INVALID .*npm install pg/);
    expect(out.configured).toMatch(/^CONFIG_INVALID .*npm install openai/);
    expect(out.compatible).toMatch(/^CONFIG_INVALID .*npm install openai/);
    expect(out.gemini).toMatch(/^UNKNOWN_PROVIDER .*npm install @google\/genai/);
    expect(out.openai).toMatch(/^UNKNOWN_PROVIDER .*npm install openai/);
    expect(out.anthropic).toMatch(/^UNKNOWN_PROVIDER .*npm install @anthropic-ai\/sdk/);
    expect(out.bedrock).toMatch(/^UNKNOWN_PROVIDER .*npm install @aws-sdk\/client-bedrock-runtime/);
    expect(out.bedrockConfigured).toMatch(/^CONFIG_INVALID .*npm install @aws-sdk\/client-bedrock-runtime/);
    expect(out.vertex).toMatch(/^UNKNOWN_PROVIDER .*npm install @google\/genai/);
  });

  it("behaves the same from ESM", () => {
    writeFileSync(
      join(dir, "peers.mjs"),
      `import { BYOK, RedisStore, generateMasterKey } from "byok-ai";
let redis = "constructed";
try { new RedisStore({ url: "redis://127.0.0.1:1" }); } catch (e) { redis = e.code + " " + e.message; }
const gemini = await new BYOK({ masterKey: generateMasterKey() }).registerKey({ userId: "u", provider: "gemini", apiKey: "AIza-12345678" }).catch((e) => e.code + " " + e.message);
process.stdout.write(JSON.stringify({ redis, gemini }));
`,
    );
    const result = spawnSync("node", ["peers.mjs"], { cwd: dir, encoding: "utf8" });
    expect(result.stderr).toBe("");
    const out = JSON.parse(result.stdout) as Record<string, string>;
    expect(out.redis).toMatch(/^CONFIG_INVALID .*npm install ioredis/);
    expect(out.gemini).toMatch(/^UNKNOWN_PROVIDER .*npm install @google\/genai/);
  });
});
