// Builds the three entry points (library, testing kit, CLI) as ESM + CJS with bundled .d.ts files.
import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "lib/index.ts", testing: "lib/testing/index.ts", cli: "lib/cli/main.ts" },
  format: ["esm", "cjs"],
  dts: { entry: { index: "lib/index.ts", testing: "lib/testing/index.ts" } },
  outExtension: ({ format }) => ({ js: format === "esm" ? ".mjs" : ".cjs" }),
  target: "node20",
  platform: "node",
  clean: true,
  sourcemap: false,
  splitting: false,
  // Peers and optional peers stay external (egoist/tsup#998): the app's own copy is used.
  external: ["express", "ioredis", "pg", "openai", "@anthropic-ai/sdk", "@google/generative-ai"],
});
