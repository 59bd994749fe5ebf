// A fake AWS KMS endpoint speaking the JSON protocol @aws-sdk/client-kms uses; the KMS keys stay in the fake.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import { type FakeKeyService, type KeyServiceAnswer, startKeyServiceServer } from "./fake-key-service.js";

/** Options of {@link startFakeAwsKms}. */
export interface FakeAwsKmsOptions {
  /** Aliases of the first key. Defaults to `["alias/byok"]`. */
  aliases?: string[];
}

/** A running fake AWS KMS. */
export interface FakeAwsKms extends FakeKeyService {
  /** The first key's id (a UUID). Its ARN and aliases name it too. */
  readonly keyId: string;
  /** The first key's ARN. */
  readonly keyArn: string;
  /** Creates another symmetric key; resolves to its id. */
  createKey(alias?: string): string;
  /**
   * The secret of a KMS key. Only for a test that proves the secret never reaches the app (it appears
   * in no answer, record or error): a real KMS never reveals it.
   */
  keyMaterial(keyId: string): Buffer;
}

const REGION = "us-east-1";
const ACCOUNT = "111122223333";
const arnOf = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
const BLOB_VERSION = 1;

function failure(type: string, message: string, status = 400): KeyServiceAnswer {
  return { status, body: { __type: type, message }, headers: { "x-amzn-errortype": type } };
}

/** The AAD of a blob: the encryption context as sorted JSON, so that its order does not matter (as in KMS). */
function contextBytes(context: unknown): Buffer {
  const entries = Object.entries(typeof context === "object" && context !== null ? context : {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return Buffer.from(JSON.stringify(entries), "utf8");
}

/**
 * Starts a fake AWS KMS on 127.0.0.1 and a random port. It answers `TrentService.Encrypt`,
 * `Decrypt`, `GenerateDataKey` and `ReEncrypt` in `application/x-amz-json-1.1`, as the real
 * `@aws-sdk/client-kms` sends them when given `endpoint` (any credentials do; signatures are not
 * checked). Ciphertext blobs name their key, and `EncryptionContext` binds them as in KMS. Faults:
 * `down`, `hang`, `deny` (AccessDeniedException), `wrongContext` (every decrypt fails with
 * InvalidCiphertextException, as for a context mismatch).
 *
 * @example
 * ```ts
 * const fake = await startFakeAwsKms();
 * const client = new KMSClient({ endpoint: fake.url, region: "us-east-1",
 *   credentials: { accessKeyId: "test", secretAccessKey: "test" } });
 * const kek = awsKms({ keyId: fake.keyId, client });
 * ```
 */
export async function startFakeAwsKms(options: FakeAwsKmsOptions = {}): Promise<FakeAwsKms> {
  const secrets = new Map<string, Buffer>();
  const names = new Map<string, string>(); // id, ARN or alias → key id
  const createKey = (alias?: string) => {
    const id = randomUUID();
    secrets.set(id, randomBytes(32));
    for (const name of [id, arnOf(id), ...(alias ? [alias, `arn:aws:kms:${REGION}:${ACCOUNT}:${alias}`] : [])])
      names.set(name, id);
    return id;
  };
  const keyId = createKey();
  for (const alias of options.aliases ?? ["alias/byok"]) {
    names.set(alias, keyId);
    names.set(`arn:aws:kms:${REGION}:${ACCOUNT}:${alias}`, keyId);
  }

  const encrypt = (id: string, plaintext: Buffer, context: unknown) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", secrets.get(id)!, iv);
    cipher.setAAD(contextBytes(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([BLOB_VERSION]), Buffer.from(id, "latin1"), iv, body, cipher.getAuthTag()]);
  };
  /** The key id and plaintext of a blob, or a failure answer. */
  const decrypt = (
    blob: Buffer,
    context: unknown,
    wrongContext: boolean,
  ): { id: string; plaintext: Buffer } | KeyServiceAnswer => {
    const id = blob.subarray(1, 37).toString("latin1");
    const secret = secrets.get(id);
    if (blob[0] !== BLOB_VERSION || !secret || blob.length < 37 + 12 + 16)
      return failure("InvalidCiphertextException", "The ciphertext is not valid.");
    try {
      const decipher = createDecipheriv("aes-256-gcm", secret, blob.subarray(37, 49));
      decipher.setAAD(wrongContext ? contextBytes({ wrong: "context" }) : contextBytes(context));
      decipher.setAuthTag(blob.subarray(blob.length - 16));
      return { id, plaintext: Buffer.concat([decipher.update(blob.subarray(49, blob.length - 16)), decipher.final()]) };
    } catch {
      return failure("InvalidCiphertextException", "The ciphertext or encryption context is not valid.");
    }
  };

  const server = await startKeyServiceServer((request, body, faults) => {
    const target = String(request.headers["x-amz-target"] ?? "");
    const operation = target.startsWith("TrentService.") ? target.slice("TrentService.".length) : "unknown";
    const answer = (a: KeyServiceAnswer) => ({
      operation,
      ...a,
      headers: { "content-type": "application/x-amz-json-1.1", ...a.headers },
    });
    if (faults.deny)
      return answer(failure("AccessDeniedException", "User is not authorized to perform this operation."));
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return answer(failure("SerializationException", "Malformed JSON."));
    }
    const resolve = (name: unknown) => (typeof name === "string" ? names.get(name) : undefined);
    const blob = (name: string) =>
      Buffer.from(typeof input[name] === "string" ? (input[name] as string) : "", "base64");
    switch (operation) {
      case "Encrypt":
      case "GenerateDataKey": {
        const id = resolve(input.KeyId);
        if (!id) return answer(failure("NotFoundException", "Key not found."));
        const plaintext = operation === "Encrypt" ? blob("Plaintext") : randomBytes(Number(input.NumberOfBytes ?? 32));
        const out = {
          KeyId: arnOf(id),
          CiphertextBlob: encrypt(id, plaintext, input.EncryptionContext).toString("base64"),
        };
        return answer({
          status: 200,
          body:
            operation === "Encrypt"
              ? { ...out, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" }
              : { ...out, Plaintext: plaintext.toString("base64") },
        });
      }
      case "Decrypt": {
        const opened = decrypt(blob("CiphertextBlob"), input.EncryptionContext, faults.wrongContext);
        if ("status" in opened) return answer(opened);
        if (input.KeyId !== undefined && resolve(input.KeyId) !== opened.id)
          return answer(
            failure(
              "IncorrectKeyException",
              "The key ID in the request does not identify the key that encrypted the ciphertext.",
            ),
          );
        return answer({
          status: 200,
          body: {
            KeyId: arnOf(opened.id),
            Plaintext: (faults.garbled ? opened.plaintext.subarray(0, 5) : opened.plaintext).toString("base64"),
            EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
          },
        });
      }
      case "ReEncrypt": {
        const opened = decrypt(blob("CiphertextBlob"), input.SourceEncryptionContext, faults.wrongContext);
        if ("status" in opened) return answer(opened);
        const destination = resolve(input.DestinationKeyId);
        if (!destination) return answer(failure("NotFoundException", "Key not found."));
        const CiphertextBlob = encrypt(destination, opened.plaintext, input.DestinationEncryptionContext).toString(
          "base64",
        );
        opened.plaintext.fill(0);
        return answer({
          status: 200,
          body: { CiphertextBlob, SourceKeyId: arnOf(opened.id), KeyId: arnOf(destination) },
        });
      }
      default:
        return answer(failure("UnknownOperationException", "Unsupported operation."));
    }
  });

  return Object.assign(server, {
    keyId,
    keyArn: arnOf(keyId),
    createKey,
    keyMaterial: (id: string) => Buffer.from(secrets.get(names.get(id) ?? id) ?? Buffer.alloc(0)),
  });
}
