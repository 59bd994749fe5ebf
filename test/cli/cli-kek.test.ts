// The built byok-ai bin with a key service from the environment: env master key → Vault transit → AWS KMS on Redis.
import { BYOK, generateMasterKey, RedisStore } from "../../lib";
import { type FakeAwsKms, type FakeVaultTransit, startFakeAwsKms, startFakeVaultTransit } from "../../lib/testing";
import { keyIdFor } from "../../lib/vault/vault";
import { CLI_BIN, type CliRun, runCli } from "../helpers/built-cli";
import { REDIS_URL, uniqueName } from "../helpers/services";

const OLD = generateMasterKey();
const USERS = 5;
const run = (args: string[], env: Record<string, string>): Promise<CliRun> => runCli(CLI_BIN, args, env);
const json = (r: CliRun) => JSON.parse(r.stdout) as Record<string, unknown>;

describe("byok-ai rotate and verify with a key service", () => {
  const prefix = `${uniqueName("clikek")}:`;
  let store: RedisStore;
  let vault: FakeVaultTransit;
  let kms: FakeAwsKms;
  let vaultEnv: Record<string, string>;
  let kmsEnv: Record<string, string>;
  beforeAll(async () => {
    [vault, kms] = await Promise.all([startFakeVaultTransit(), startFakeAwsKms()]);
    vaultEnv = { BYOK_VAULT_ADDR: vault.url, BYOK_VAULT_TOKEN: vault.token, BYOK_VAULT_KEY: "byok" };
    kmsEnv = {
      BYOK_AWS_KMS_KEY_ID: "alias/byok",
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIAFAKEFAKEFAKE",
      AWS_SECRET_ACCESS_KEY: "fake-secret-access-key",
    };
    store = new RedisStore({ url: REDIS_URL, prefix });
    const byok = new BYOK({ masterKey: OLD, store, providers: { gemini: { baseUrl: "http://127.0.0.1:9" } } });
    for (let i = 0; i < USERS; i++)
      await byok.registerKey({ userId: `kek-${i}`, provider: "gemini", apiKey: `AIza-cli-kek-${i}`, validate: false });
  });
  afterAll(async () => {
    for (let i = 0; i < USERS; i++) await store.deleteUser(`kek-${i}`);
    await store.close();
    await Promise.all([vault.close(), kms.close()]);
  });

  it("moves every record from BYOK_MASTER_KEY to Vault transit, and verify counts them under the Vault key", async () => {
    const env = { REDIS_URL, BYOK_MASTER_KEY: OLD, ...vaultEnv };
    const rotate = await run(["rotate", "--prefix", prefix, "--json"], env);
    expect([rotate.code, json(rotate)]).toEqual([0, expect.objectContaining({ scanned: USERS, rotated: USERS })]);
    const verify = await run(["verify", "--prefix", prefix, "--json"], env);
    expect(json(verify)).toMatchObject({
      byKeyId: { "vault-transit:transit/byok": USERS, [keyIdFor(Buffer.from(OLD, "base64"))]: 0 },
      unreadable: [],
    });
    expect(rotate.stdout + rotate.stderr + verify.stdout + verify.stderr).not.toContain(vault.token);
  });

  it("moves them on from Vault to AWS KMS (both set), after which the KMS key alone reads them all", async () => {
    const rotate = await run(["rotate", "--prefix", prefix, "--json"], { REDIS_URL, ...vaultEnv, ...kmsEnv });
    expect([rotate.code, json(rotate)]).toEqual([0, expect.objectContaining({ scanned: USERS, rotated: USERS })]);
    const verify = await run(["verify", "--prefix", prefix, "--json"], { REDIS_URL, ...kmsEnv });
    expect([verify.code, json(verify)]).toEqual([
      0,
      expect.objectContaining({ byKeyId: { "aws-kms:alias/byok": USERS }, unreadable: [] }),
    ]);
  });

  it("exits 2 naming the missing Vault variable", async () => {
    const r = await run(["verify", "--prefix", prefix], { REDIS_URL, BYOK_VAULT_ADDR: vault.url, BYOK_VAULT_KEY: "k" });
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining("missing BYOK_VAULT_TOKEN")]);
  });

  it("exits 2 with KEY_SERVICE_UNAVAILABLE when the key service is down", async () => {
    kms.faults.down = true;
    try {
      const r = await run(["verify", "--prefix", prefix], { REDIS_URL, ...kmsEnv });
      expect([r.code, r.stderr]).toEqual([2, expect.stringContaining("KEY_SERVICE_UNAVAILABLE")]);
    } finally {
      kms.faults.down = false;
    }
  });
});
