// Express, loaded when byokRouter is built: byok-ai's root entry imports no Express, so the fetch handler runs without it.
import { createRequire } from "node:module";

/**
 * The app's `express` (a peer), loaded on first use. CommonJS builds (and ts-jest, which resolves it through
 * its registry) use `require`; in the ESM build tsup's `require` shim throws "Dynamic require of …", and
 * Node's own `createRequire` loads Express (CommonJS in both majors) from byok-ai's location.
 */
export function loadExpress(): typeof import("express") {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("express") as typeof import("express");
  } catch (error) {
    if (!String((error as Error | undefined)?.message).startsWith("Dynamic require of")) throw error;
  }
  return createRequire(__filename)("express") as typeof import("express");
}
