// Loads an optional peer dependency on first use, or tells at once whether it is installed; a missing one names the npm install.
import { createRequire } from "node:module";
import { ByokError } from "../errors.js";

/**
 * Node's own `require`, resolving from byok-ai's location: `__filename` is the source file under ts-jest,
 * dist/index.cjs, or (tsup's shim) dist/index.mjs, and inside an app's bundle the file byok-ai was bundled from.
 */
const requireFromHere = createRequire(__filename);

// CommonJS builds (and ts-jest) have `require`; the ESM build uses import(). Either way the app's own copy loads.
// In the ESM build, tsup turns `require` into a shim that throws "Dynamic require of … is not supported".
async function loadAsBuilt(name: string): Promise<unknown> {
  if (typeof require === "function") {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(name) as unknown;
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith("Dynamic require of")) throw error;
    }
  }
  return import(name);
}

/**
 * Loads `name` as the build does, else with Node's own `require`. Bundled into an app (Next.js bundles its server
 * routes, byok-ai included, unless told otherwise), `require` and `import()` of a name known only at run time are the
 * bundler's stand-ins, which throw; `createRequire` stays Node's, so the app's copy still loads. A package that is
 * missing or broken throws again there, with its own error.
 */
async function load(name: string): Promise<unknown> {
  try {
    return await loadAsBuilt(name);
  } catch {
    return requireFromHere(name) as unknown;
  }
}

/** The error that names the `npm install` to run. */
export function missingPeer(name: string, forWhat: string): ByokError {
  return new ByokError(
    "CONFIG_INVALID",
    `${forWhat} needs the "${name}" package, which is not installed; run \`npm install ${name}\`.`,
  );
}

/**
 * Whether `name` can be found from byok-ai's own location, as {@link loadOptionalPeer} would
 * look for it (a pnpm install links peers there too). Synchronous, so constructors can check it;
 * loads nothing. A package that is present but cannot be resolved for `require` (no "require"
 * export) counts as installed: its loading, later, says what is wrong.
 */
export function isPeerInstalled(name: string): boolean {
  try {
    requireFromHere.resolve(name);
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== "MODULE_NOT_FOUND";
  }
}

/**
 * @throws ByokError CONFIG_INVALID naming `npm install <name>` unless {@link isPeerInstalled}
 * @param forWhat - what needs it, for the message (e.g. "RedisStore")
 */
export function requirePeerInstalled(name: string, forWhat: string): void {
  if (!isPeerInstalled(name)) throw missingPeer(name, forWhat);
}

/**
 * Loads an optional peer (ioredis, pg, openai, @anthropic-ai/sdk, @google/genai) the first time it is needed.
 * @param name - the package
 * @param forWhat - what needs it, for the message (e.g. "RedisStore")
 * @throws ByokError CONFIG_INVALID naming `npm install <name>` when it is not installed
 */
export async function loadOptionalPeer<T>(name: string, forWhat: string): Promise<T> {
  try {
    return (await load(name)) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw missingPeer(name, forWhat);
    throw error;
  }
}

/** A loader that imports an optional peer once, and retries after a failure (the app may install it). */
export function lazyPeer<T>(name: string, forWhat: string): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= loadOptionalPeer<T>(name, forWhat).catch((error: unknown) => {
      pending = undefined;
      throw error;
    }));
}
