// Loads an optional peer dependency on first use; a missing one fails with the npm install to run.
import { ByokError } from "../errors.js";

// CommonJS builds (and ts-jest) have `require`; the ESM build uses import(). Either way the app's own copy loads.
// In the ESM build, tsup turns `require` into a shim that throws "Dynamic require of … is not supported".
async function load(name: string): Promise<unknown> {
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
 * Loads an optional peer (ioredis, pg, openai, @anthropic-ai/sdk) the first time it is needed.
 * @param name - the package
 * @param forWhat - what needs it, for the message (e.g. "RedisStore")
 * @throws ByokError CONFIG_INVALID naming `npm install <name>` when it is not installed
 */
export async function loadOptionalPeer<T>(name: string, forWhat: string): Promise<T> {
  try {
    return (await load(name)) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new ByokError(
        "CONFIG_INVALID",
        `${forWhat} needs the "${name}" package, which is not installed; run \`npm install ${name}\`.`,
      );
    }
    throw error;
  }
}
