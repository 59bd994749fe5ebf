// Installs the packed tarball into fresh CommonJS and ESM apps and runs the README's usage against the fake Gemini.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { version as typescriptVersion } from "typescript";
import { packBuiltPackage } from "../helpers/built-package";

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
    execFileSync(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        tarball,
        `typescript@${typescriptVersion}`,
        "@types/node@20",
      ],
      {
        cwd: dir,
        stdio: "pipe",
      },
    );
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

  it("names the npm install to run when an optional peer (ioredis, pg, openai, @anthropic-ai/sdk) is missing", () => {
    // The app installed byok-ai alone: every optional peer is absent.
    writeFileSync(
      join(dir, "peers.cjs"),
      `const { BYOK, RedisStore, PostgresStore, generateMasterKey } = require("byok-ai");
const codeOf = (p) => p.then(() => "resolved", (e) => e.code + " " + e.message);
(async () => {
  const byok = new BYOK({ masterKey: generateMasterKey() });
  console.log(JSON.stringify([
    await codeOf(new RedisStore({ url: "redis://127.0.0.1:6379" }).list("u")),
    await codeOf(new PostgresStore({ connectionString: "postgres://127.0.0.1/test" }).list("u")),
    await codeOf(byok.registerKey({ userId: "u", provider: "openai", apiKey: "sk-test-12345678" })),
    await codeOf(byok.registerKey({ userId: "u", provider: "anthropic", apiKey: "sk-ant-12345678" })),
  ]));
})();
`,
    );
    const [redis, pg, openai, anthropic] = run("peers.cjs") as string[];
    expect(redis).toMatch(/^CONFIG_INVALID .*npm install ioredis/);
    expect(pg).toMatch(/^CONFIG_INVALID .*npm install pg/);
    expect(openai).toMatch(/^CONFIG_INVALID .*npm install openai/);
    expect(anthropic).toMatch(/^CONFIG_INVALID .*npm install @anthropic-ai\/sdk/);
  });

  // The declarations name the peers' types (express, and ioredis/pg for the store options), as a
  // TypeScript app that uses them has installed; skipLibCheck stays off so our .d.ts are checked.
  it("ships types that check under TypeScript's node16 resolution, for ESM and CommonJS", () => {
    execFileSync(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "@types/express@5",
        "ioredis@6",
        "pg@8",
        "@types/pg@8",
      ],
      { cwd: dir, stdio: "pipe" },
    );
    writeFileSync(join(dir, "check.mts"), typed);
    writeFileSync(join(dir, "check.cts"), typed);
    const tsc = join(dir, "node_modules/typescript/bin/tsc");
    const args = [
      "--noEmit",
      "--strict",
      "--module",
      "node16",
      "--moduleResolution",
      "node16",
      "--target",
      "es2022",
      "--types",
      "node",
    ];
    expect(() =>
      execFileSync("node", [tsc, ...args, "check.mts", "check.cts"], { cwd: dir, stdio: "pipe" }),
    ).not.toThrow();
  });

  it("installs a byok-ai bin whose keygen prints a 32-byte base64 master key", () => {
    const key = execFileSync(join(dir, "node_modules/.bin/byok-ai"), ["keygen"], { cwd: dir, encoding: "utf8" }).trim();
    expect(Buffer.from(key, "base64")).toHaveLength(32);
    expect(key).toHaveLength(44);
  });
});
