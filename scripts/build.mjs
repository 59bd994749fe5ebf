// Builds dist/: tsup (tsup.config.ts), then gives the CommonJS build declaration files of its own (.d.cts), so that
// `require("byok-ai")` gets CommonJS types and `import` ES module types (.d.mts), as publint and arethetypeswrong ask.
// Run from the repository root: `node scripts/build.mjs [--silent] [--no-types]`.
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "tsup";

/**
 * Renames dist/'s `.d.ts` files (tsup's declarations for the CommonJS build: its declaration worker ignores
 * tsup.config.ts's `outExtension`) to `.d.cts`, and their imports of each other from `./x.js` to `./x.cjs`.
 */
function cjsDeclarations(dist) {
  for (const name of readdirSync(dist).filter((n) => n.endsWith(".d.ts"))) {
    const text = readFileSync(join(dist, name), "utf8").replace(/(from '\.\/[^']+)\.js'/g, "$1.cjs'");
    writeFileSync(join(dist, name.replace(/\.d\.ts$/, ".d.cts")), text);
    rmSync(join(dist, name));
  }
}

const silent = process.argv.includes("--silent");
const types = !process.argv.includes("--no-types");
// `--no-types` (the example runs JavaScript only) skips the declarations, seconds faster, and keeps dist/'s others.
await build(types ? { silent } : { silent, dts: false, clean: false });
if (types) cjsDeclarations("dist");
