// Small assertions on thrown ByokErrors: what a constructor throws, and how fast a call fails and with which code.
import { ByokError } from "../../lib";

/** The error `construct` throws (fails the test when it throws nothing). */
export function thrownBy(construct: () => unknown): ByokError {
  try {
    construct();
  } catch (e) {
    if (ByokError.is(e)) return e;
    throw new Error(`expected a ByokError, got ${String(e)}`);
  }
  throw new Error("expected a throw");
}

/** The ByokError code a promise rejects with, and how long it took. */
export async function failure(promise: Promise<unknown>): Promise<{ code: string; ms: number }> {
  const started = performance.now();
  const code = await promise.then(
    () => "resolved",
    (e: unknown) => (ByokError.is(e) ? e.code : `not a ByokError: ${String(e)}`),
  );
  return { code, ms: performance.now() - started };
}

/** The ByokError code a promise rejects with (`"resolved"` when it does not reject). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  return (await failure(promise)).code;
}

/** The ByokError a promise rejects with (fails the test when it resolves, or rejects with anything else). */
export const rejectionOf = (promise: Promise<unknown>): Promise<ByokError> =>
  promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => {
      if (!ByokError.is(e)) throw e;
      return e;
    },
  );
