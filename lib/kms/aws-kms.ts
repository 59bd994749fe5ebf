// awsKms(): data keys wrapped by an AWS KMS key through @aws-sdk/client-kms (an optional peer, loaded on first use).
import type * as KmsSdk from "@aws-sdk/client-kms";
import { inspect } from "node:util";
import { checkDuration, checkOptionsObject, type KeysEnum } from "../core/option-checks.js";
import { lazyPeer, requirePeerInstalled } from "../core/optional-peer.js";
import { ByokError } from "../errors.js";
import {
  DEFAULT_KEY_SERVICE_TIMEOUT_MS,
  type KeyEncryptionKey,
  keyServiceUnavailable,
  withTimeout,
  wrappedKeyUnreadable,
} from "../vault/key-encryption.js";

/** The npm package awsKms() runs on. */
export const AWS_KMS_SDK = "@aws-sdk/client-kms";

/** What awsKms() needs of a `KMSClient`: its `send`. A `new KMSClient({...})` from `@aws-sdk/client-kms` fits. */
export interface KmsClientLike {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Options of {@link awsKms}. */
export interface AwsKmsOptions {
  /** The KMS key: key id, key ARN, alias name (`alias/byok`) or alias ARN (BYOK_AWS_KMS_KEY_ID). Use one spelling: it is the key's id in records. */
  keyId: string;
  /**
   * The `KMSClient` to send with (region, credentials, endpoint). Defaults to `new KMSClient({})`, which
   * reads the region and credentials the usual AWS ways (environment, shared config, instance role).
   */
  client?: KmsClientLike;
  /** Limit per KMS call (retries included), in milliseconds. Defaults to 500 (see docs/key-encryption.md). */
  timeoutMs?: number;
}

type Sdk = typeof KmsSdk;
const SERVICE = "AWS KMS";
const KNOWN: KeysEnum<AwsKmsOptions> = { keyId: true, client: true, timeoutMs: true };
const loadSdk = lazyPeer<Sdk>(AWS_KMS_SDK, "awsKms()");
/** Errors that mean "this ciphertext does not open with this key and context", not "KMS failed". */
const UNREADABLE = new Set(["InvalidCiphertextException", "IncorrectKeyException"]);

function configError(message: string): ByokError {
  return new ByokError("CONFIG_INVALID", `awsKms(): ${message}`);
}

class AwsKmsKey implements KeyEncryptionKey {
  readonly id: string;
  readonly #keyId: string;
  readonly #timeoutMs: number;
  #client: KmsClientLike | undefined;
  /** The own client's set-up (credentials and region), done once before the first call's time limit starts. */
  #setUp: Promise<unknown> | undefined;

  constructor(keyId: string, client: KmsClientLike | undefined, timeoutMs: number) {
    this.id = `aws-kms:${keyId}`;
    this.#keyId = keyId;
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  async wrap(dataKey: Uint8Array, context: Record<string, string>): Promise<string> {
    const output = (await this.#send("Encrypt", (sdk) => {
      return new sdk.EncryptCommand({ KeyId: this.#keyId, Plaintext: dataKey, EncryptionContext: context });
    })) as KmsSdk.EncryptCommandOutput;
    if (!output.CiphertextBlob) throw keyServiceUnavailable(SERVICE, "its Encrypt answer had no CiphertextBlob.");
    return Buffer.from(output.CiphertextBlob).toString("base64");
  }

  async unwrap(wrapped: string, context: Record<string, string>): Promise<Uint8Array> {
    const blob = Buffer.from(wrapped, "base64");
    if (blob.length === 0 || blob.toString("base64") !== wrapped) throw wrappedKeyUnreadable(SERVICE);
    const output = (await this.#send("Decrypt", (sdk) => {
      return new sdk.DecryptCommand({ KeyId: this.#keyId, CiphertextBlob: blob, EncryptionContext: context });
    })) as KmsSdk.DecryptCommandOutput;
    // A Decrypt that succeeded opened this very record: a plaintext that is no data key is the service's fault.
    if (!output.Plaintext || output.Plaintext.length !== 32)
      throw keyServiceUnavailable(
        SERVICE,
        "its Decrypt answer had no 32-byte Plaintext; check the endpoint points to KMS.",
      );
    return output.Plaintext;
  }

  async #send(operation: "Encrypt" | "Decrypt", command: (sdk: Sdk) => unknown): Promise<unknown> {
    const sdk = await loadSdk();
    if (!this.#client) {
      const own = new sdk.KMSClient({});
      // The SDK finds credentials and the region on first use, loading modules as it goes: a start-up cost that
      // timeoutMs, a limit on KMS's answer, must not cover. A failure here shows again in the call below.
      this.#setUp = Promise.all([own.config.credentials(), own.config.region()]).catch(() => undefined);
      this.#client = own;
    }
    await this.#setUp;
    const client = this.#client;
    return withTimeout(SERVICE, this.#timeoutMs, async (signal) => {
      try {
        return await client.send(command(sdk), { abortSignal: signal });
      } catch (error) {
        if (ByokError.is(signal.reason)) throw signal.reason;
        const name = error instanceof Error ? error.name : typeof error;
        if (operation === "Decrypt" && UNREADABLE.has(name)) throw wrappedKeyUnreadable(SERVICE);
        const fix =
          name === "AccessDeniedException"
            ? `it refused the credentials or the key policy (AccessDeniedException); check that the credentials may kms:${operation} with this key.`
            : `${operation} failed (${name}); check the key (BYOK_AWS_KMS_KEY_ID), its state, the region and the network.`;
        throw keyServiceUnavailable(SERVICE, fix, { type: name });
      }
    });
  }

  /** Only the id: never the client (its credentials). */
  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return `awsKms { id: '${this.id}' }`;
  }
}

/**
 * A {@link KeyEncryptionKey} in AWS KMS: data keys are wrapped by `Encrypt` and unwrapped by
 * `Decrypt` with the record's owner and provider as the `EncryptionContext`, so CloudTrail shows
 * whose key each call opened and a wrapped key moved to another record does not decrypt. Needs
 * `npm install @aws-sdk/client-kms`; the KMS key never leaves KMS.
 *
 * @throws ByokError CONFIG_INVALID for a malformed option, or when `@aws-sdk/client-kms` is not installed
 * @example
 * ```ts
 * const byok = new BYOK({ keyEncryption: awsKms({ keyId: "alias/byok" }) });
 * ```
 */
export function awsKms(options: AwsKmsOptions): KeyEncryptionKey {
  const o = checkOptionsObject<AwsKmsOptions>(options, KNOWN, "awsKms()");
  if (typeof o.keyId !== "string" || !/^[A-Za-z0-9:/_+=,.@-]{1,2048}$/.test(o.keyId))
    throw configError(
      'keyId must name the KMS key: key id, key ARN, "alias/<name>" or alias ARN (BYOK_AWS_KMS_KEY_ID).',
    );
  if (o.client !== undefined && typeof (o.client as Partial<KmsClientLike>)?.send !== "function")
    throw configError("client must be a KMSClient from @aws-sdk/client-kms.");
  requirePeerInstalled(AWS_KMS_SDK, "awsKms()");
  const timeoutMs = checkDuration(o.timeoutMs ?? DEFAULT_KEY_SERVICE_TIMEOUT_MS, "awsKms(): timeoutMs", 60_000);
  return new AwsKmsKey(o.keyId, o.client, timeoutMs);
}
