// Structured credentials (several fields: a cloud's key id, secret and region): the core's generic checks, then the provider's.
import { ByokError } from "../errors.js";
import type { Credential, Provider, ProviderCredentialSpec } from "./types.js";
import { clientFieldNames, invalid, isPlainObject } from "./validate.js";

/** Longest string field of a credential (a session token is about 1 kB, a private key 2 kB). */
export const MAX_CREDENTIAL_STRING = 8192;
/** Largest credential, as the JSON text that is sealed (a service-account file is 2–3 kB). */
export const MAX_CREDENTIAL_BYTES = 12_288;
/** What a region or location may look like (`eu-west-1`, `us-central1`): it is bound into the ciphertext and shown. */
const REGION = /^[A-Za-z0-9._-]{1,64}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A credential checked and normalised: the plaintext to seal, and what is stored beside it. */
export interface CheckedCredential {
  /** The JSON text of the normalised credential: sealed as one unit, and each call's `apiKey`. */
  plaintext: string;
  /** `…` plus the last 4 characters of its hint field, or `…` when it has none. */
  hint: string;
  /** The region or location it names, if the provider says. */
  region?: string;
}

/** The name a credential field is refused under: `credential.<field>`. */
const fieldName = (name: string) => `credential.${name}`;

/** INVALID_REQUEST naming `credential.<field>` for each of `names` (never a value). */
const refused = (message: string, names: string[]) => invalid(message, names.map(fieldName));

/** A field of type `"object"`: a plain object, or the JSON text of one; `undefined` when it is neither. */
function objectOf(value: unknown): object | undefined {
  if (isPlainObject(value)) return value;
  if (typeof value !== "string" || value.length > MAX_CREDENTIAL_BYTES) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of `input` as the spec types them. @throws ByokError INVALID_REQUEST naming the fields that are not */
function typedFields(spec: ProviderCredentialSpec, input: Record<string, unknown>): Credential {
  const unknown = Object.keys(input).filter((name) => !Object.prototype.hasOwnProperty.call(spec.fields, name));
  if (unknown.length) {
    const named = clientFieldNames(unknown);
    throw refused(
      `Unknown credential field(s): ${named.text}. This provider's credential takes: ${Object.keys(spec.fields).join(", ")}.`,
      named.fields,
    );
  }
  const missing = Object.entries(spec.fields)
    .filter(([name, field]) => field.required && input[name] === undefined)
    .map(([name]) => name);
  if (missing.length) throw refused(`The credential needs ${missing.join(", ")}.`, missing);
  const out: Credential = {};
  const bad: string[] = [];
  for (const [name, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if (spec.fields[name]!.type === "object") {
      const object = objectOf(value);
      if (object === undefined) bad.push(name);
      else out[name] = object;
    } else if (
      typeof value !== "string" ||
      value.length === 0 ||
      value.length > MAX_CREDENTIAL_STRING ||
      CONTROL.test(value)
    )
      bad.push(name);
    else out[name] = value;
  }
  if (bad.length)
    throw refused(
      `Invalid credential field(s): ${bad.join(", ")} (strings of 1 to ${MAX_CREDENTIAL_STRING} characters without control characters; objects as JSON objects).`,
      bad,
    );
  return out;
}

/** `…` and the last 4 characters of the provider's hint text, else of the first hint field the credential has (a string), else `…`. */
function hintOf(spec: ProviderCredentialSpec, credential: Credential): string {
  if (spec.hint) {
    const text = spec.hint(credential);
    return typeof text === "string" && text.length >= 4 ? `\u2026${text.slice(-4)}` : "\u2026";
  }
  for (const [name, field] of Object.entries(spec.fields)) {
    const value = credential[name];
    if (field.hint && typeof value === "string") return `\u2026${value.slice(-4)}`;
  }
  return "\u2026";
}

/**
 * Checks a credential for `provider`: its fields (known, required ones there, each of its type), then the
 * provider's own `check`, then its size and its region.
 * @throws ByokError INVALID_REQUEST naming `credential` or `credential.<field>`, never a value
 */
export async function checkCredential(provider: Provider, input: unknown): Promise<CheckedCredential> {
  const spec = provider.credential;
  if (!spec) throw invalid("This provider takes an apiKey, not a credential; pass apiKey instead.", ["credential"]);
  if (!isPlainObject(input))
    throw invalid("credential must be an object of the fields the provider's credential takes.", ["credential"]);
  let credential = typedFields(spec, input);
  if (spec.check) {
    try {
      credential = await spec.check(credential);
    } catch (error) {
      if (ByokError.is(error)) throw error;
      throw invalid("The credential was refused by the provider's check.", ["credential"]);
    }
  }
  const plaintext = JSON.stringify(credential);
  if (Buffer.byteLength(plaintext, "utf8") > MAX_CREDENTIAL_BYTES)
    throw invalid(`The credential is larger than ${MAX_CREDENTIAL_BYTES} bytes.`, ["credential"]);
  const checked: CheckedCredential = { plaintext, hint: hintOf(spec, credential) };
  const region = spec.region?.(credential);
  if (region !== undefined) {
    if (typeof region !== "string" || !REGION.test(region))
      throw invalid("The credential's region is not one this provider can use.", ["credential"]);
    checked.region = region;
  }
  return checked;
}
