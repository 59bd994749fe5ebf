// Property-based fuzzing of every byok route: whatever the body, query string and headers, the answer is < 500, has the error shape or is a success, and an error never changes the store.
import fc from "fast-check";
import type { KeyStore } from "../../lib/extend";
import { CANARY_KEY } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, listen, loadKit } from "../helpers/router-harness";

/**
 * Runs per route and Express version. `npm test` sends 150 (300 generated requests per route in all, a few seconds);
 * `npm run test:fuzz` (in .ci/run) sets FUZZ_RUNS for thousands.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

const CODES = new Set([
  "INVALID_REQUEST",
  "UNKNOWN_PROVIDER",
  "UNAUTHENTICATED",
  "KEY_NOT_FOUND",
  "PAYLOAD_TOO_LARGE",
  "KEY_REJECTED",
  "PROVIDER_BAD_REQUEST",
  "RATE_LIMITED",
  "NO_TEAM", // GET /usage?team=1: the fuzzing app gives no request a team
]);
const FIELDS = ["prompt", "messages", "system", "provider", "model", "temperature", "maxTokens", "stream", "apiKey"];
const PROTO_KEYS = ["__proto__", "constructor", "prototype"];

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
/** Strings with any code point, lone surrogates included, and some that look meaningful. */
const oddString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", " ", "gemini", "openai", "user", "system", "\u0000", "\ud800", "\u202e", "%00", "../x"),
  printable,
);
/** Raw JSON number texts, including ones JSON.parse turns into Infinity or 0. */
const numberText = fc.oneof(
  fc.double().map((n) => (Number.isFinite(n) ? JSON.stringify(n) : "1e999")),
  fc.constantFrom("1e999", "-1e999", "1e-999", "9007199254740993", "-0", "0.5", "2", "200", "1000001"),
  fc.integer().map(String),
);
/** `depth` nested arrays or objects around a value: deep enough to overflow any recursive check. */
const deepText = fc
  .tuple(fc.integer({ min: 1, max: 7000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays
      ? `${"[".repeat(depth)}${"]".repeat(depth)}`
      : `${'{"a":'.repeat(Math.min(depth, 2500))}1${"}".repeat(Math.min(depth, 2500))}`,
  );

/** A JSON object as text from [key, value text] entries: keys like `__proto__` reach the wire as keys. */
const objectText = (entries: [string, string][]) =>
  `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;

/** Any JSON value as text, built by hand so that keys like `__proto__` reach the wire as keys. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthIdentifier: "json" },
    fc.constantFrom("null", "true", "false"),
    numberText,
    oddString.map((s) => JSON.stringify(s)),
    deepText,
    fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
    fc
      .array(
        fc.tuple(fc.oneof(fc.constantFrom(...FIELDS, ...PROTO_KEYS, "role", "content"), oddString), tie("value")),
        {
          maxLength: 4,
        },
      )
      .map(objectText),
  ),
})).value;

/** A message list, mostly well-formed, with odd roles, contents and extra fields. */
const messagesText = fc
  .array(
    fc.oneof(
      fc
        .tuple(fc.constantFrom("user", "assistant", "system", "admin", ""), oddString)
        .map(([role, content]) => JSON.stringify({ role, content })),
      fc.constantFrom("null", "[]", "{}", '"hi"', '{"role":"user"}', '{"role":"user","content":"a","__proto__":{}}'),
      jsonText,
    ),
    { maxLength: 4 },
  )
  .map((items) => `[${items.join(",")}]`);

/** Well-formed bodies of the routes, to mutate: most bugs hide behind an otherwise valid request. */
const VALID_BODIES: Record<string, string>[] = [
  { prompt: '"hi"' },
  { messages: '[{"role":"user","content":"hi"}]' },
  { prompt: '"hi"', provider: '"gemini"', temperature: "0.5", maxTokens: "20", stream: "false" },
  { provider: '"gemini"', apiKey: '"AIza-fuzz-key-0000"' },
  { provider: '"openai"' },
];

/** Values that broke checks before: null items, deep nesting, numbers JSON turns into Infinity. */
const nastyText = fc.constantFrom(
  "null",
  "[null]",
  "[[]]",
  "{}",
  "[{}]",
  `${"[".repeat(7000)}${"]".repeat(7000)}`,
  `[${"[".repeat(6000)}${"]".repeat(6000)}]`,
  "1e999",
  "-1e999",
  '{"__proto__":{"x":1}}',
  '[{"role":"user","content":"a","constructor":{"prototype":{}}}]',
);
const valueText = fc.oneof(
  { weight: 3, arbitrary: nastyText },
  { weight: 2, arbitrary: messagesText },
  { weight: 2, arbitrary: jsonText },
  { weight: 2, arbitrary: deepText },
  { weight: 1, arbitrary: numberText },
  { weight: 1, arbitrary: oddString.map((s) => JSON.stringify(s)) },
);

/** A valid body with one or two fields replaced or added (mostly its own fields): most bugs hide behind an otherwise valid request. */
const mutatedBody = fc
  .constantFrom(...VALID_BODIES)
  .chain((base) =>
    fc
      .array(
        fc.tuple(
          fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom(...Object.keys(base)) },
            { weight: 2, arbitrary: fc.constantFrom(...FIELDS, ...PROTO_KEYS) },
            { weight: 1, arbitrary: oddString },
          ),
          valueText,
        ),
        { minLength: 1, maxLength: 2 },
      )
      .map((changes) => objectText(Object.entries({ ...base, ...Object.fromEntries(changes) }))),
  );

/** A request body: mostly mutated valid ones, sometimes anything at all. */
const bodyText = fc.oneof(
  { weight: 6, arbitrary: mutatedBody },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS, ...PROTO_KEYS), oddString), jsonText), { maxLength: 5 })
      .map(objectText),
  },
  { weight: 1, arbitrary: jsonText },
  { weight: 1, arbitrary: printable },
  { weight: 1, arbitrary: fc.constant("") },
);

const queryText = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        "provider",
        "provider[]",
        "provider[a]",
        "__proto__[x]",
        "constructor[prototype]",
        "userId",
        "x",
        "from",
        "to",
        "team",
        "teamId",
        "returnTo",
        "state",
        "code",
      ),
      fc.oneof(
        oddString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "?"))),
        // Days and flags GET /usage reads, valid and nearly so.
        fc.constantFrom("2026-01-01", "2026-02-30", "1999-12-31", "9999-12-31", "2026-1-1", "1", "0", "true"),
      ),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&"));

const headers = fc.record(
  {
    "content-type": fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "application/json; charset=utf-16",
      "text/plain",
      "application/x-www-form-urlencoded",
      "application/vnd.api+json",
    ),
    accept: fc.oneof(fc.constantFrom("text/event-stream", "application/json", "*/*"), printable),
    "content-encoding": fc.constantFrom("identity", "gzip", "br", "x-unknown"),
    "x-request-id": printable,
  },
  { requiredKeys: ["content-type"] },
);

/** A MemoryStore that counts the calls that changed it. */
function countingStore(kit: ReturnType<typeof loadKit>): { store: KeyStore; writes: () => number } {
  let writes = 0;
  class Counting extends kit.lib.MemoryStore {
    override async put(...args: Parameters<KeyStore["put"]>) {
      writes++;
      return super.put(...args);
    }
    override async delete(userId: string, provider: string) {
      const removed = await super.delete(userId, provider);
      if (removed) writes++;
      return removed;
    }
    override async deleteUser(userId: string) {
      const removed = await super.deleteUser(userId);
      if (removed > 0) writes++;
      return removed;
    }
  }
  return { store: new Counting(), writes: () => writes };
}

describe.each(EXPRESS_VERSIONS)("byok routes under fuzzing on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  let server: Awaited<ReturnType<typeof listen>>;
  let writes: () => number;
  let victimBefore: unknown[];
  beforeAll(async () => {
    const counting = countingStore(kit);
    writes = counting.writes;
    f = await appFixture(kit, {
      store: counting.store,
      router: { rateLimit: { keys: { limit: 1e9 }, chat: { limit: 1e9 } }, connect: { openrouter: true } },
    });
    // The fuzzing user has a key, so well-formed chats reach the fake and succeed; another user's key
    // must come out untouched.
    await f.byok.registerKey({ userId: "fuzz", provider: "gemini", apiKey: CANARY_KEY });
    await f.byok.registerKey({ userId: "victim", provider: "gemini", apiKey: `${CANARY_KEY}-victim` });
    victimBefore = (await f.snapshot()).filter((r) => r.userId === "victim");
    server = await listen(f.app);
  });
  afterAll(async () => {
    await server.close();
    await f.close();
  });

  /** Sends one request; checks the answer's status and shape, and that an error wrote nothing. */
  async function check(method: string, path: string, query: string, head: Record<string, string>, body?: string) {
    const before = writes();
    const res = await fetch(`${server.url}${path}${query ? `?${query}` : ""}`, {
      method,
      headers: { "x-user": "fuzz", ...head },
      redirect: "manual", // the connect routes' answers are redirects: their status is the answer
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
    if (res.status >= 400) {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      expect(typeof parsed.error?.message).toBe("string");
      expect(CODES.has(String(parsed.error?.code))).toBe(true);
      expect(writes()).toBe(before);
    }
    expect(text).not.toContain(CANARY_KEY);
    for (const fake of [f.fakes.gemini, f.fakes.openai, f.fakes.anthropic])
      if (fake.requests.length > 100) fake.reset();
  }

  // FUZZ_SEED replays the seed a failure printed.
  const settings = {
    numRuns: RUNS,
    endOnFailure: true,
    seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
  };

  it("POST /keys answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(bodyText, queryText, headers, (body, query, head) =>
        check("POST", "/byok/keys", query, head, body),
      ),
      settings,
    );
  });

  it("GET /keys answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(queryText, headers, (query, head) => check("GET", "/byok/keys", query, head)),
      settings,
    );
  });

  it("DELETE /keys answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(bodyText, { nil: undefined }), queryText, headers, (body, query, head) =>
        check("DELETE", "/byok/keys", query, head, body),
      ),
      settings,
    );
  });

  it("POST /keys/check answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(bodyText, queryText, headers, (body, query, head) =>
        check("POST", "/byok/keys/check", query, head, body),
      ),
      settings,
    );
  });

  it("GET /models answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(queryText, headers, (query, head) => check("GET", "/byok/models", query, head)),
      settings,
    );
  });

  it("GET /usage answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(queryText, headers, (query, head) => check("GET", "/byok/usage", query, head)),
      settings,
    );
  });

  it("POST /chat answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(bodyText, queryText, headers, (body, query, head) =>
        check("POST", "/byok/chat", query, head, body),
      ),
      settings,
    );
  });

  it("GET /connect/openrouter answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(queryText, headers, (query, head) => check("GET", "/byok/connect/openrouter", query, head)),
      settings,
    );
  });

  it("GET /connect/openrouter/callback answers every generated request below 500 with the error shape", async () => {
    await fc.assert(
      fc.asyncProperty(queryText, headers, (query, head) =>
        check("GET", "/byok/connect/openrouter/callback", query, head),
      ),
      settings,
    );
  });

  it("leaves another user's key as it was", async () => {
    expect((await f.snapshot()).filter((r) => r.userId === "victim")).toEqual(victimBefore);
  });
});
