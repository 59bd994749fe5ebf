// startFakeProviders(): which fakes start and which built-ins its `providers` option offers, chosen or installed.
import { execFileSync } from "node:child_process";
import { BYOK, generateMasterKey } from "../../lib";
import { startFakeProviders } from "../../lib/testing";
import { ROOT } from "../helpers/node-process";

/**
 * Runs startFakeProviders() from the built package in a child Node whose resolver cannot find `hidden`, as in an
 * app that never installed them (node_modules stays as it is), and returns the built-ins a BYOK then offers.
 */
function offeredWithout(hidden: string[]): { providers: Record<string, unknown>; offered: string[] } {
  const script = `
const Module = require("node:module");
const hidden = new Set(${JSON.stringify(hidden)});
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (hidden.has(request)) throw Object.assign(new Error("Cannot find module " + request), { code: "MODULE_NOT_FOUND" });
  return resolve.call(this, request, ...rest);
};
const { BYOK, generateMasterKey } = require("./dist/index.cjs");
const { startFakeProviders } = require("./dist/testing.cjs");
startFakeProviders().then(async (fakes) => {
  const byok = new BYOK({ masterKey: generateMasterKey(), providers: fakes.providers });
  console.log(JSON.stringify({ providers: fakes.providers, offered: byok.providers }));
  await byok.close();
  await fakes.close();
});
`;
  return JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" }));
}

describe("startFakeProviders", () => {
  it("starts only the chosen fakes, and its providers offer exactly those built-ins, every other one off", async () => {
    const fakes = await startFakeProviders({ only: ["openai", "openrouter"] });
    try {
      expect(Object.keys(fakes).sort()).toEqual(["close", "openai", "openrouter", "providers"]);
      expect(fakes.providers).toEqual({
        gemini: false,
        openai: { baseUrl: fakes.openai.url },
        anthropic: false,
        bedrock: false,
        vertex: false,
        openrouter: { baseUrl: `${fakes.openrouter.url}/api/v1`, authUrl: fakes.openrouter.authUrl },
        "azure-openai": false,
      });
      const byok = new BYOK({ masterKey: generateMasterKey(), providers: fakes.providers });
      expect(byok.providers).toEqual(["openai", "openrouter"]);
      await byok.close();
    } finally {
      await fakes.close();
    }
  });

  it("points every built-in at its fake when every SDK is installed", async () => {
    const fakes = await startFakeProviders();
    try {
      expect(fakes.providers).toEqual({
        gemini: { baseUrl: fakes.gemini.url },
        openai: { baseUrl: fakes.openai.url },
        anthropic: { baseUrl: fakes.anthropic.url },
        bedrock: { baseUrl: fakes.bedrock.url },
        vertex: { baseUrl: fakes.vertex.url, authUrl: `${fakes.vertex.url}/token` },
        openrouter: { baseUrl: `${fakes.openrouter.url}/api/v1`, authUrl: fakes.openrouter.authUrl },
        "azure-openai": { userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true } },
      });
    } finally {
      await fakes.close();
    }
  });

  it("offers only the built-ins whose SDK is installed, so an app with only openai starts", () => {
    const { providers, offered } = offeredWithout([
      "@google/genai",
      "@anthropic-ai/sdk",
      "@aws-sdk/client-bedrock-runtime",
    ]);
    expect(Object.keys(providers)).toEqual(["openai", "openrouter", "azure-openai"]);
    expect(offered).toEqual(["openai", "openrouter", "azure-openai"]);
  });

  it("refuses an empty only with a TypeError that lists the built-ins", async () => {
    await expect(startFakeProviders({ only: [] })).rejects.toThrow(
      new TypeError(
        "startFakeProviders: only must list built-in providers (gemini, openai, anthropic, bedrock, vertex, openrouter, azure-openai).",
      ),
    );
  });
});
