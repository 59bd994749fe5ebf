// A usage or configuration mistake: the CLI prints its message and exits with status 2.

/** Thrown for anything the operator must fix in the command line or environment (exit status 2). */
export class UsageError extends Error {
  override name = "UsageError";
}
