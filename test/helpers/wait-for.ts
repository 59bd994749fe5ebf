// Waits for a condition instead of sleeping a fixed time: fast on an idle machine, patient on a loaded one.

/** Resolves once `check()` is true; rejects naming `what` after `ms`. */
export async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
