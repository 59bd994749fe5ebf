// The fakes' default answer to a structured-output request: a value that fits the requested JSON schema.
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  minItems?: number;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
};

const asSchema = (value: unknown): Schema => (typeof value === "object" && value !== null ? (value as Schema) : {});

/**
 * A value that fits `schema` (the JSON-schema subset the SDKs send for structured output):
 * every string is `text`, numbers are 0, booleans false, arrays hold `minItems` items, objects
 * have every listed property. So an unscripted `generateObject` call still gets an answer that
 * parses and carries the echo of the prompt.
 */
export function sampleJson(schema: unknown, text: string): unknown {
  const s = asSchema(schema);
  if ("const" in s) return s.const;
  if (s.enum?.length) return s.enum[0];
  const variant = s.anyOf?.[0] ?? s.oneOf?.[0] ?? s.allOf?.[0];
  if (variant) return sampleJson(variant, text);
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const type = types.find((t) => t !== "null") ?? (s.properties ? "object" : types[0]);
  switch (type?.toLowerCase()) {
    case "string":
      return text;
    case "number":
    case "integer":
      return 0;
    case "boolean":
      return false;
    case "null":
      return null;
    case "array":
      return Array.from({ length: s.minItems ?? 0 }, () => sampleJson(s.items, text));
    default:
      return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, sampleJson(v, text)]));
  }
}
