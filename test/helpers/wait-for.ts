// The suite's one poll helper: waits for a condition instead of sleeping a fixed time, fast on an idle machine and
// patient on a loaded one.

/**
 * Resolves once `check()` holds (it may be async, e.g. send a request), polling every `everyMs`; rejects naming
 * `what` once `ms` have passed. Resolves to how long it waited, in ms.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
  everyMs = 10,
): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return performance.now() - started;
}
