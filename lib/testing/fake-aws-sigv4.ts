// The credentials a fake AWS service issues, and its check of each request's SigV4 signature (or Bedrock API key) as AWS makes it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { lazyPeer } from "../core/optional-peer.js";
import type { FakeAnswer } from "./fake-upstream.js";

/** AWS credentials, as `credentials` of an AWS SDK client takes them. */
export interface FakeAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Set for temporary credentials (as STS issues them): requests must carry it in `x-amz-security-token`. */
  sessionToken?: string;
}

/** An AWS error answer: the type in `x-amzn-errortype` (with the service's namespace suffix, as AWS sends it) and `{ message }`. */
export function awsError(status: number, type: string, message: string): FakeAnswer {
  return {
    status,
    body: { message },
    headers: { "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.coral.service/` },
  };
}

const signatureV4 = lazyPeer<typeof import("@smithy/signature-v4")>("@smithy/signature-v4", "startFakeBedrock");

const bytes = (data: string | ArrayBuffer | ArrayBufferView): string | Buffer =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 (or HMAC-SHA-256 with a secret) in the `Checksum` shape the signer takes. */
class NodeSha256 {
  #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.#hash.digest());
  }
  reset(): void {}
}

const INVALID_TOKEN = "The security token included in the request is invalid.";
const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
/** How far a request's `x-amz-date` may be from the fake's clock, as AWS allows. */
const MAX_SKEW_MS = 5 * 60_000;
const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
};

/** `20261208T020304Z` as a Date; `undefined` when it is not one. */
function parseAmzDate(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? "");
  return m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : undefined;
}

/** The credentials and API keys a fake AWS service has issued, and its check of requests against them. */
export class FakeAwsCredentialIssuer {
  readonly #keys = new Map<string, FakeAwsCredentials>();
  readonly #apiKeys = new Set<string>();
  readonly #service: string;
  readonly #region: string | undefined;

  /**
   * @param service - the signing name requests must be scoped to (`bedrock`)
   * @param region - the region they must be scoped to; any region when not given
   */
  constructor(service: string, region?: string) {
    this.#service = service;
    this.#region = region;
  }

  /** New credentials; `sessionToken: true` makes them temporary (ASIA…), needing their session token. */
  issue(options: { sessionToken?: boolean } = {}): FakeAwsCredentials {
    const suffix = randomBytes(10)
      .toString("base64url")
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, "7")
      .slice(0, 16);
    const credentials: FakeAwsCredentials = {
      accessKeyId: `${options.sessionToken ? "ASIA" : "AKIA"}${suffix.padEnd(16, "7")}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      ...(options.sessionToken ? { sessionToken: randomBytes(96).toString("base64") } : {}),
    };
    this.#keys.set(credentials.accessKeyId, credentials);
    return credentials;
  }

  /** A new long-term Bedrock API key: `ABSK` and the base64 of `BedrockAPIKey-<id>-at-<account>:<secret>`, as AWS makes them. */
  issueApiKey(account = "111122223333"): string {
    const id = randomBytes(3).toString("hex");
    const key = `ABSK${Buffer.from(`BedrockAPIKey-${id}-at-${account}:${randomBytes(30).toString("base64")}`).toString("base64")}`;
    this.#apiKeys.add(key);
    return key;
  }

  /** Revokes credentials (by access key id) or an API key: their next request is refused. */
  revoke(accessKeyIdOrApiKey: string): void {
    this.#keys.delete(accessKeyIdOrApiKey);
    this.#apiKeys.delete(accessKeyIdOrApiKey);
  }

  /** The access key id or API key a request names, for the fake's records. */
  static keyOf(request: IncomingMessage): string | undefined {
    const authorization = header(request, "authorization") ?? "";
    if (authorization.startsWith("Bearer ")) return authorization.slice("Bearer ".length);
    return /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
  }

  /**
   * Checks a request as AWS does: a known, unrevoked Bedrock API key in `Authorization: Bearer`, or a
   * SigV4 signature recomputed from the request (path, query, the headers it names as signed, the raw
   * body) with the secret of the access key id it names, scoped to its date, region and this service.
   * `undefined` when it passes; otherwise AWS's 403 (or 400 for a malformed `Authorization`).
   */
  async verify(request: IncomingMessage, rawBody: Buffer, now = Date.now()): Promise<FakeAnswer | undefined> {
    const authorization = header(request, "authorization");
    if (!authorization) return awsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    if (authorization.startsWith("Bearer "))
      return this.#apiKeys.has(authorization.slice("Bearer ".length))
        ? undefined
        : awsError(403, "UnrecognizedClientException", "Invalid API Key format: Must start with pre-defined prefix");
    const m = AUTH.exec(authorization);
    if (!m)
      return awsError(400, "IncompleteSignatureException", `Authorization header requires a valid SigV4 signature.`);
    const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] = m as unknown as string[];
    const credentials = this.#keys.get(accessKeyId!);
    if (!credentials) return awsError(403, "UnrecognizedClientException", INVALID_TOKEN);
    if (header(request, "x-amz-security-token") !== credentials.sessionToken)
      return awsError(403, "UnrecognizedClientException", INVALID_TOKEN);
    if (this.#region !== undefined && region !== this.#region)
      return awsError(403, "InvalidSignatureException", "Credential should be scoped to a valid region.");
    if (service !== this.#service)
      return awsError(
        403,
        "InvalidSignatureException",
        `Credential should be scoped to correct service: '${this.#service}'.`,
      );
    const amzDate = header(request, "x-amz-date");
    const signingDate = parseAmzDate(amzDate);
    if (!signingDate || !amzDate!.startsWith(scopeDate!))
      return awsError(
        403,
        "InvalidSignatureException",
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.",
      );
    if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS)
      return awsError(
        403,
        "InvalidSignatureException",
        `Signature expired: ${amzDate} is now earlier or later than the allowed skew.`,
      );
    // The signer trusts a x-amz-content-sha256 header as the payload's hash; AWS hashes the body itself.
    const contentSha = header(request, "x-amz-content-sha256");
    if (contentSha !== undefined && contentSha !== createHash("sha256").update(rawBody).digest("hex"))
      return awsError(403, "InvalidSignatureException", MISMATCH);

    const names = signedHeaderList!.split(";");
    const headers: Record<string, string> = {};
    for (const name of names) {
      const value = header(request, name);
      if (value === undefined) return awsError(403, "InvalidSignatureException", MISMATCH);
      headers[name] = value;
    }
    const [rawPath = "/", rawQuery = ""] = (request.url ?? "/").split("?", 2);
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of new URLSearchParams(rawQuery)) {
      const seen = query[name];
      query[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
    }
    const { SignatureV4 } = await signatureV4();
    const signer = new SignatureV4({ service: this.#service, region: region!, credentials, sha256: NodeSha256 });
    const [host, port] = (headers.host ?? "").split(":");
    const signed = await signer.sign(
      {
        method: request.method ?? "GET",
        protocol: "http:",
        hostname: host ?? "",
        ...(port ? { port: Number(port) } : {}),
        path: rawPath,
        query,
        headers,
        body: rawBody,
      },
      { signingDate, signableHeaders: new Set(names) },
    );
    const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization ?? ""))?.[1] ?? "";
    const matches =
      expected.length === signature!.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature!));
    return matches && String(signed.headers.authorization).includes(`SignedHeaders=${signedHeaderList},`)
      ? undefined
      : awsError(403, "InvalidSignatureException", MISMATCH);
  }
}
