// Jest globalSetup: builds dist/ once, before any test file runs, so tests that use the built package (the example,
// the CLI, the packed tarball) find it on a fresh clone, and no test has to build (and empty dist/) while others run.
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../scripts/ensure-built.mjs";

export default function globalSetup() {
  ensureBuilt(fileURLToPath(new URL("..", import.meta.url)), { types: true });
}
