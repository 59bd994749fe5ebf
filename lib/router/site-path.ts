// The one rule for where the connect flow may send a user back (returnTo): a path on this site, never another origin.

/** Longest `returnTo` accepted, in characters. */
export const MAX_SITE_PATH = 2048;
const BASE = "http://site.invalid";
// Backslashes (browsers read `/\evil` as `//evil`), whitespace and control characters (the URL parser drops
// tabs and newlines, so `/\t/evil` would become `//evil`).
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be refused
const REFUSED = /[\\\s\u0000-\u001f\u007f]/;

/**
 * `value` as a path on this site, normalised and percent-encoded (safe in a `Location` header), or `undefined`
 * when it is not one: it must start with a single `/` (not `//`, not `/\`), hold no backslash, whitespace or
 * control character, be at most 2,048 characters, and still be a path of the same origin once resolved
 * (`/..//evil.example` resolves to `//evil.example`: refused). `https://…`, `//host` and `javascript:` are
 * never paths.
 */
export function sitePath(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > MAX_SITE_PATH || !value.startsWith("/")) return undefined;
  if (value.startsWith("//") || REFUSED.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return undefined;
  }
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (url.origin !== BASE || !path.startsWith("/") || path.startsWith("//") || path.length > MAX_SITE_PATH)
    return undefined;
  return path;
}
