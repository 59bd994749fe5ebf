// Runs the benchmarks (`npm run bench`, or `npm run bench -- vault overhead`): TypeScript benches are bundled with esbuild first.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { build } from "esbuild";

const all = ["vault", "overhead", "layers", "memory", "rotate"].filter((name) => existsSync(`bench/${name}.ts`));
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
mkdirSync(".tmp/bench", { recursive: true });
console.log(
  `machine: ${process.platform} ${process.arch}, node ${process.version}, ${(await import("node:os")).cpus().length} cpus (${(await import("node:os")).cpus()[0]?.model ?? "?"})`,
);
for (const name of chosen) {
  if (!all.includes(name)) throw new Error(`unknown bench "${name}"; choose from ${all.join(", ")}`);
  const outfile = `.tmp/bench/${name}.cjs`;
  await build({
    entryPoints: [`bench/${name}.ts`],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    outfile,
    packages: "external",
    logLevel: "warning",
  });
  console.log(`\n=== ${name}`);
  execFileSync(process.execPath, ["--expose-gc", outfile], { stdio: "inherit" });
}
