// Types of ensure-built.mjs, for its TypeScript callers (jest's globalSetup).

/**
 * Runs tsup unless every file package.json promises is newer than every source.
 *
 * @param root the repository root
 * @param options `types: false` skips the .d.ts build and does not empty dist/
 * @returns whether it built
 */
export function ensureBuilt(root: string, options: { types: boolean }): boolean;
