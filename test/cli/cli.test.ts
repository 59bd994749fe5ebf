// The built byok-ai bin as a subprocess: keygen, --help, rotate and verify on real Redis and PostgreSQL, exit statuses, progress.
import { Pool } from "pg";
import { version } from "../../package.json";
import { BYOK, generateMasterKey, PostgresStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { keyIdFor } from "../../lib/vault/vault";
import { CLI_BIN, type CliRun, runCli, runCliOnTty } from "../helpers/built-cli";
import { CANARY_KEY } from "../helpers/canary";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

const [OLD, NEW, STRANGER] = [generateMasterKey(), generateMasterKey(), generateMasterKey()];
const idOf = (key: string) => keyIdFor(Buffer.from(key, "base64"));
const keys = { BYOK_MASTER_KEY: NEW, BYOK_PREVIOUS_MASTER_KEYS: `${OLD}, ${generateMasterKey()}` };
const USERS = 30;

const run = (args: string[], env?: Record<string, string>): Promise<CliRun> => runCli(CLI_BIN, args, env);

/** USERS users with a gemini and an openai key each, registered through the library under `masterKey`. */
async function seed(
  store: KeyStore,
  masterKey: string,
  users = USERS,
  apiKey = (i: number) => `AIza-cli-seed-${i}-key`,
): Promise<string[]> {
  const byok = new BYOK({ masterKey, store });
  const ids = Array.from({ length: users }, (_, i) => `cli-user-${i}:${uniqueName("u")}`);
  await Promise.all(
    ids.flatMap((userId, i) =>
      ["gemini", "openai"].map((provider) =>
        byok.registerKey({ userId, provider, apiKey: apiKey(i), validate: false }),
      ),
    ),
  );
  return ids;
}

const json = (r: CliRun) => JSON.parse(r.stdout) as Record<string, unknown>;

describe("byok-ai keygen", () => {
  it("prints a new base64 master key of 32 bytes (44 characters), different each time", async () => {
    const [a, b] = await Promise.all([run(["keygen"]), run(["keygen"])]);
    for (const r of [a, b]) {
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      expect(Buffer.from(r.stdout.trim(), "base64")).toHaveLength(32);
    }
    expect(a.stdout).not.toBe(b.stdout);
  });
});

describe("byok-ai --help", () => {
  it.each([[["--help"]], [["rotate", "--help"]], [["verify", "--help"]]])(
    "%j explains the rotation procedure in 4 steps and the exit statuses",
    async (args) => {
      const r = await run(args);
      expect(r.code).toBe(0);
      for (const step of [
        "1. Generate a new key",
        "2. Deploy",
        "3. Run  npx byok-ai rotate",
        "4. Run  npx byok-ai verify",
      ])
        expect(r.stdout).toContain(step);
      expect(r.stdout).toMatch(/BYOK_PREVIOUS_MASTER_KEYS/);
      expect(r.stdout).toMatch(/2 +could not run: .*\n.*STORE_UNAVAILABLE/);
    },
  );
});

describe("byok-ai --version", () => {
  it("prints the package version and exits 0", async () => {
    for (const flag of ["--version", "-V"])
      expect(await run([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });
});

describe("byok-ai rotate and verify on one record", () => {
  const prefix = `${uniqueName("cli1")}:`;
  let store: RedisStore;
  beforeAll(async () => {
    store = new RedisStore({ url: REDIS_URL, prefix });
    await new BYOK({ masterKey: OLD, store }).registerKey({
      userId: "only-user",
      provider: "gemini",
      apiKey: "AIza-one-record-key",
      validate: false,
    });
  });
  afterAll(async () => {
    await store.deleteUser("only-user");
    await store.close();
  });

  it("says 1 record, not 1 records", async () => {
    const rotate = await run(["rotate", "--prefix", prefix], { ...keys, REDIS_URL });
    expect(rotate.stdout).toContain(`Rotated 1 of 1 record in Redis (prefix "${prefix}")`);
    const verify = await run(["verify", "--prefix", prefix], { ...keys, REDIS_URL });
    expect(verify.stdout).toContain("Verified 1 record in");
    expect(verify.stdout).toContain(`  ${idOf(NEW)} (current): 1 record\n  ${idOf(OLD)} (previous #1): 0 records\n`);
    expect(verify.stdout).toContain("  unreadable: 0 records");
  });

  it("works on the store --store names when both REDIS_URL and DATABASE_URL are set", async () => {
    const both = { ...keys, REDIS_URL, DATABASE_URL };
    const r = await run(["verify", "--store", "redis", "--prefix", prefix, "--json"], both);
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ store: `Redis (prefix "${prefix}")`, scanned: 1 });
    const table = uniqueName("cli_none");
    const p = await run(["verify", "--store", "postgres", "--table", table], both);
    expect([p.code, p.stderr]).toEqual([
      2,
      expect.stringMatching(/^byok-ai: STORE_UNAVAILABLE: .*table does not exist/),
    ]);
  });
});

describe("byok-ai rotate and verify on Redis", () => {
  const prefix = `${uniqueName("cli")}:`;
  const env = { ...keys, REDIS_URL };
  let store: RedisStore;
  beforeAll(async () => {
    store = new RedisStore({ url: REDIS_URL, prefix });
    await seed(store, OLD);
  });
  afterAll(async () => {
    // A whole page of deletions at once queues on one connection: the limit a loaded machine needs for that.
    const cleanup = new RedisStore({ url: REDIS_URL, prefix, callTimeoutMs: 5000 });
    for await (const batch of cleanup.scan()) await Promise.all(batch.map((r) => cleanup.deleteUser(r.userId)));
    await Promise.all([cleanup.close(), store.close()]);
  });

  it("verify counts every record under the old key before rotation and exits 0", async () => {
    const r = await run(["verify", "--prefix", prefix, "--json"], env);
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ scanned: 60, byKeyId: { [idOf(NEW)]: 0, [idOf(OLD)]: 60 }, unreadable: [] });
  });

  it("rotate re-encrypts every record, prints plain progress lines on stderr without a TTY, a summary, and exits 0", async () => {
    const r = await run(["rotate", "--prefix", prefix, "--batch-size", "25"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `Rotated 60 of 60 records in Redis (prefix "${prefix}") (0 skipped: already current or changed meanwhile; 0 failed).\n`,
    );
    expect(r.stderr.split("\n").filter(Boolean)).toEqual(
      [25, 50, 60].map((n) => `Rotating: scanned ${n}, rotated ${n}, skipped 0, failed 0`),
    );
  });

  it("verify then counts every record under the new key, none under the old one, and exits 0", async () => {
    const r = await run(["verify", "--prefix", prefix], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Verified 60 records in Redis (prefix "${prefix}").`);
    expect(r.stdout).toContain(`  ${idOf(NEW)} (current): 60 records\n  ${idOf(OLD)} (previous #1): 0 records\n`);
    expect(r.stdout).toContain("  unreadable: 0 records");
    const j = await run(["verify", "--prefix", prefix, "--json"], env);
    expect(j.stderr).toBe("");
    expect(json(j)).toEqual({
      store: `Redis (prefix "${prefix}")`,
      scanned: 60,
      byKeyId: { [idOf(NEW)]: 60, [idOf(OLD)]: 0, [idOf(keys.BYOK_PREVIOUS_MASTER_KEYS.split(", ")[1]!)]: 0 },
      keyIds: expect.any(Array),
      unreadable: [],
    });
  });

  it("rotate --json prints one JSON summary and no progress; a second run rotates nothing", async () => {
    const r = await run(["rotate", "--prefix", prefix, "--json"], env);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(json(r)).toEqual({ store: `Redis (prefix "${prefix}")`, scanned: 60, rotated: 0, skipped: 60, failed: 0 });
  });

  it("on a terminal, shows a live cli-progress line and still prints the summary", async () => {
    const r = await runCliOnTty(CLI_BIN, ["rotate", "--prefix", prefix, "--batch-size", "20"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("\u001b[");
    expect(r.stdout).toMatch(/Rotating: scanned 60, rotated 0, skipped 60, failed 0/);
    expect(r.stdout).toContain(`Rotated 0 of 60 records in Redis (prefix "${prefix}")`);
  });

  it("lists a record under an unknown key by user id and provider, never a key, and exits 1 (verify and rotate)", async () => {
    const [stranger] = await seed(store, STRANGER, 1, () => CANARY_KEY);
    const ciphertext = (await store.get(stranger!, "gemini"))!.ciphertext;
    const verify = await run(["verify", "--prefix", prefix], env);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain("  unreadable: 2 records");
    expect(verify.stdout).toContain(`    user ${JSON.stringify(stranger)} provider gemini (key id ${idOf(STRANGER)})`);
    expect(verify.stdout).toContain(`    user ${JSON.stringify(stranger)} provider openai`);
    const verifyJson = await run(["verify", "--prefix", prefix, "--json"], env);
    expect(verifyJson.code).toBe(1);
    expect(json(verifyJson).unreadable).toEqual(
      expect.arrayContaining([{ userId: stranger, provider: "openai", keyId: idOf(STRANGER) }]),
    );
    expect(verify.stdout).toMatch(/probably missing from BYOK_PREVIOUS_MASTER_KEYS/);
    const rotate = await run(["rotate", "--prefix", prefix, "--json"], env);
    expect(rotate.code).toBe(1);
    expect(json(rotate)).toMatchObject({ scanned: 62, rotated: 0, failed: 2 });
    const rotateText = await run(["rotate", "--prefix", prefix], env);
    expect(rotateText.code).toBe(1);
    expect(rotateText.stdout).toContain("2 records could not be decrypted by any known master key");
    expect(rotateText.stdout).toMatch(
      /The master key they were written under is probably missing from BYOK_PREVIOUS_MASTER_KEYS: add it there/,
    );
    for (const r of [verify, verifyJson, rotate, rotateText]) {
      for (const secret of [CANARY_KEY, ciphertext, ciphertext.split(".")[3]!, NEW, OLD, STRANGER])
        expect(r.stdout + r.stderr).not.toContain(secret);
    }
    expect((await store.get(stranger!, "gemini"))!.ciphertext).toBe(ciphertext);
  });
});

describe("byok-ai rotate and verify on PostgreSQL", () => {
  const table = uniqueName("cli");
  const env = { ...keys, DATABASE_URL };
  let pool: Pool;
  beforeAll(async () => {
    pool = new Pool({ connectionString: DATABASE_URL });
    const store = new PostgresStore({ pool, table });
    await store.migrate();
    await seed(store, OLD, 20);
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  it("rotate re-encrypts every row and verify then finds all of them under the new key, both exiting 0", async () => {
    const r = await run(["rotate", "--table", table], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Rotated 40 of 40 records in PostgreSQL (table "${table}")`);
    const v = await run(["verify", "--table", table, "--json"], env);
    expect(v.code).toBe(0);
    expect(json(v)).toMatchObject({ scanned: 40, byKeyId: { [idOf(NEW)]: 40, [idOf(OLD)]: 0 }, unreadable: [] });
  });

  it("names the missing table and exits 2 when --table names no table", async () => {
    const r = await run(["verify", "--table", `${table}_missing`], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/STORE_UNAVAILABLE: .*table does not exist/);
  });
});

describe("byok-ai usage and configuration errors", () => {
  const BAD_KEY = "this-is-not-a-master-key-0123456789";
  it.each<[string, string[], Record<string, string>, RegExp]>([
    [
      "no store in the environment",
      ["verify"],
      { BYOK_MASTER_KEY: NEW },
      /Set REDIS_URL \(RedisStore\) or DATABASE_URL/,
    ],
    [
      "both REDIS_URL and DATABASE_URL",
      ["verify"],
      { BYOK_MASTER_KEY: NEW, REDIS_URL, DATABASE_URL },
      /Both REDIS_URL and DATABASE_URL are set; choose the store to work on with --store redis or --store postgres/,
    ],
    [
      "--store redis without REDIS_URL",
      ["verify", "--store", "redis"],
      { DATABASE_URL, BYOK_MASTER_KEY: NEW },
      /--store redis needs REDIS_URL/,
    ],
    [
      "--store with an unknown kind",
      ["verify", "--store", "mysql"],
      { REDIS_URL, BYOK_MASTER_KEY: NEW },
      /^byok-ai: option '--store <kind>' argument 'mysql' is invalid\. Allowed choices are redis, postgres\./,
    ],
    ["no master key", ["rotate"], { REDIS_URL }, /Set BYOK_MASTER_KEY/],
    [
      "a malformed master key",
      ["rotate"],
      { REDIS_URL, BYOK_MASTER_KEY: BAD_KEY },
      /BYOK_MASTER_KEY must decode to 32 bytes.*byok-ai keygen/,
    ],
    [
      "a malformed previous key",
      ["rotate"],
      { REDIS_URL, BYOK_MASTER_KEY: NEW, BYOK_PREVIOUS_MASTER_KEYS: `${OLD},${BAD_KEY}` },
      /BYOK_PREVIOUS_MASTER_KEYS entry 1 must decode/,
    ],
    [
      "--table with REDIS_URL",
      ["rotate", "--table", "t"],
      { REDIS_URL, BYOK_MASTER_KEY: NEW },
      /--table is for PostgreSQL/,
    ],
    [
      "--prefix with DATABASE_URL",
      ["rotate", "--prefix", "p:"],
      { DATABASE_URL, BYOK_MASTER_KEY: NEW },
      /--prefix is for Redis/,
    ],
    ["a bad prefix", ["verify", "--prefix", "a{b}"], { REDIS_URL, BYOK_MASTER_KEY: NEW }, /prefix must be 1 to 64/],
    [
      "a bad --batch-size",
      ["verify", "--batch-size", "0"],
      { REDIS_URL, BYOK_MASTER_KEY: NEW },
      /--batch-size must be a whole number/,
    ],
    ["an unknown command", ["rotat"], {}, /^byok-ai: unknown command 'rotat'\n\(Did you mean rotate\?\)/],
    ["an unknown flag", ["rotate", "--dry-run"], {}, /^byok-ai: unknown option '--dry-run'\n/],
  ])("exits 2 with a clear `byok-ai: <message>` for %s", async (_name, args, env, message) => {
    const r = await run(args, env);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^byok-ai: /);
    expect(r.stderr).not.toMatch(/^error:/m);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toContain(BAD_KEY);
  });

  it.each([
    ["Redis", { REDIS_URL: "redis://127.0.0.1:1" }],
    ["PostgreSQL", { DATABASE_URL: "postgres://postgres@127.0.0.1:1/test" }],
  ])("fails fast with STORE_UNAVAILABLE and exit 2 when %s cannot be reached", async (_name, env) => {
    const started = performance.now();
    const r = await run(["verify"], { ...env, BYOK_MASTER_KEY: NEW });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^byok-ai: STORE_UNAVAILABLE: .* Check REDIS_URL \/ DATABASE_URL and --prefix \/ --table\.\n$/,
    );
  });
});
