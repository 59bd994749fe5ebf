// Builds the library, the testing kit and the extension kit as ESM + CJS with bundled declarations (run through scripts/build.mjs), and the CLI (the bin) as CJS only.
import { defineConfig, type Options } from "tsup";

const common: Options = {
  // The declarations come out as .d.mts (ESM) and .d.ts, which scripts/build.mjs renames to .d.cts (CommonJS).
  outExtension: ({ format }) => ({ js: format === "esm" ? ".mjs" : ".cjs" }),
  target: "node20",
  platform: "node",
  sourcemap: false,
  splitting: false,
  // `__filename` in the ESM build (lib/core/optional-peer.ts resolves optional peers from it).
  shims: true,
  // Peers and optional peers stay external (egoist/tsup#998): the app's own copy is used.
  external: ["express", "ioredis", "pg", "openai", "@anthropic-ai/sdk", "@google/genai", "@aws-sdk/client-kms"],
};

export default defineConfig([
  {
    ...common,
    entry: { index: "lib/index.ts", testing: "lib/testing/index.ts", extend: "lib/extend.ts" },
    format: ["esm", "cjs"],
    dts: true,
    // Both builds run at once: this one empties dist/ but leaves the CLI build's file alone.
    clean: ["!cli.cjs"],
  },
  // package.json's bin runs dist/cli.cjs; nothing imports the CLI, so it has no ESM build.
  { ...common, entry: { cli: "lib/cli/main.ts" }, format: ["cjs"], clean: false },
]);
