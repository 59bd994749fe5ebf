// The byok-ai tarball as `npm pack` makes it, from the dist/ that jest's globalSetup built.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(__dirname, "../..");

/**
 * Packs the repository into `destination` and returns the tarball's path. `--ignore-scripts` skips `prepack`
 * (a tsup build that first empties dist/): other test files import dist/ meanwhile, and globalSetup has
 * already built it from the current sources.
 */
export function packBuiltPackage(destination: string): string {
  execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", destination, "--silent"], {
    cwd: root,
    stdio: "pipe",
  });
  const tarball = readdirSync(destination).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack wrote no .tgz into ${destination}`);
  return join(destination, tarball);
}
