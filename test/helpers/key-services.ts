// Each built-in key-encryption key over its fake service, for tests parametrised by KEK.
import { KMSClient } from "@aws-sdk/client-kms";
import { awsKms, type KeyEncryptionKey, localKey, vaultTransit } from "../../lib";
import { type FakeKeyService, startFakeAwsKms, startFakeVaultTransit } from "../../lib/testing";

/** A KEK, its fake service (none for localKey), the secrets that must never reach the app, and cleanup. */
export interface KekSetup {
  kek: KeyEncryptionKey;
  /** The same key with the KEK's default time limit: for a test's setup, which no small `timeoutMs` may cover. */
  patient: KeyEncryptionKey;
  service?: FakeKeyService;
  /** Renderings of the key service's secrets (key material, token) a leak hunt looks for. */
  secrets: string[];
  /**
   * Another KEK on the same service (another Vault key, another KMS key), for rotation between two; with
   * `{ patient: true }`, without the time limit (for a step that checks the outcome, not the limit).
   */
  another(options?: { patient?: boolean }): KeyEncryptionKey;
  close(): Promise<void>;
}

const renderingsOf = (bytes: Buffer) => [bytes.toString("base64"), bytes.toString("hex"), bytes.toString("base64url")];

/** A KMSClient pointed at the fake, with static fake credentials and no retries beyond the SDK's. */
export const kmsClientFor = (url: string) =>
  new KMSClient({
    endpoint: url,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIAFAKEFAKEFAKE", secretAccessKey: "fake-secret-access-key" },
  });

export const KEK_KINDS = ["localKey", "vaultTransit", "awsKms"] as const;
export type KekKind = (typeof KEK_KINDS)[number];

/** Starts the fake service of `kind` and a KEK on it. `timeoutMs` is passed to the KEK. */
export async function startKek(kind: KekKind, options: { timeoutMs?: number } = {}): Promise<KekSetup> {
  const timeout = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  if (kind === "localKey") {
    const master = Buffer.alloc(32, 5);
    return {
      kek: localKey(master),
      patient: localKey(master),
      secrets: renderingsOf(master),
      another: () => localKey(Buffer.alloc(32, 6)),
      close: async () => undefined,
    };
  }
  if (kind === "vaultTransit") {
    const fake = await startFakeVaultTransit({ keys: ["byok", "byok-v2"] });
    const at = (keyName: string, limit = timeout) =>
      vaultTransit({ url: fake.url, token: fake.token, keyName, ...limit });
    return {
      kek: at("byok"),
      patient: at("byok", {}),
      service: fake,
      secrets: [...renderingsOf(fake.keyMaterial("byok")), ...renderingsOf(fake.keyMaterial("byok-v2")), fake.token],
      another: (o = {}) => at("byok-v2", o.patient ? {} : timeout),
      close: () => fake.close(),
    };
  }
  const fake = await startFakeAwsKms();
  const client = kmsClientFor(fake.url);
  const second = fake.createKey("alias/byok-2");
  return {
    kek: awsKms({ keyId: fake.keyId, client, ...timeout }),
    patient: awsKms({ keyId: fake.keyId, client }),
    service: fake,
    secrets: [...renderingsOf(fake.keyMaterial(fake.keyId)), ...renderingsOf(fake.keyMaterial(second))],
    another: (o = {}) => awsKms({ keyId: "alias/byok-2", client, ...(o.patient ? {} : timeout) }),
    close: async () => {
      client.destroy();
      await fake.close();
    },
  };
}
