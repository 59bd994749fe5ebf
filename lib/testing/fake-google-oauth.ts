// A fake Google OAuth token endpoint: service accounts it issues, the JWT-bearer grant checked as Google checks it, and the access tokens it mints.
import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID, verify } from "node:crypto";

/** A service account key file, as the Google Cloud console downloads it. */
export interface FakeServiceAccount {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  /** A PKCS#8 PEM of a fresh RSA 2048 key. */
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  /** The fake's `/token`: where the JWT assertion goes. */
  token_uri: string;
  universe_domain: "googleapis.com";
}

/** An access token the fake minted. */
export interface MintedToken {
  clientEmail: string;
  projectId: string;
  scopes: string[];
  expiresAt: number;
}

/** The OAuth error answer Google's token endpoint sends. */
const grantError = (error: string, description: string, status = 400) => ({
  status,
  body: { error, error_description: description },
});

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** Google refuses assertions that live longer than an hour, and allows this much clock skew. */
const MAX_ASSERTION_SECONDS = 3600;
const SKEW_SECONDS = 300;

const decodePart = (part: string | undefined): Record<string, unknown> | undefined => {
  try {
    const value = JSON.parse(Buffer.from(part ?? "", "base64url").toString("utf8")) as unknown;
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** The service accounts and tokens of a fake Google authorization server. */
export class FakeGoogleOAuth {
  readonly #keys = new Map<string, { publicKey: KeyObject; email: string; projectId: string }>();
  readonly #tokens = new Map<string, MintedToken>();
  /** Access tokens minted so far. */
  minted = 0;

  /**
   * @param tokenUri - the token endpoint's URL (the audience assertions must name)
   * @param lifetimeSeconds - how long a minted token lives
   */
  constructor(
    public tokenUri: string,
    public lifetimeSeconds: number,
  ) {}

  /** A new service account (or a new key of `clientEmail`'s account), whose assertions the fake accepts. */
  serviceAccount(options: { projectId?: string; clientEmail?: string } = {}): FakeServiceAccount {
    const projectId = options.projectId ?? "byok-test-project";
    const email = options.clientEmail ?? `byok-${randomBytes(4).toString("hex")}@${projectId}.iam.gserviceaccount.com`;
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const keyId = randomBytes(20).toString("hex");
    this.#keys.set(keyId, { publicKey, email, projectId });
    return {
      type: "service_account",
      project_id: projectId,
      private_key_id: keyId,
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: email,
      client_id: String(BigInt(`0x${randomUUID().replace(/-/g, "")}`) % 10n ** 21n),
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: this.tokenUri,
      universe_domain: "googleapis.com",
    };
  }

  /** Deletes a service account key (by `private_key_id`) or revokes an access token. */
  revoke(keyIdOrToken: string): void {
    this.#keys.delete(keyIdOrToken);
    this.#tokens.delete(keyIdOrToken);
  }

  /** Makes every token minted so far expired, as if their hour had passed. */
  expireAll(): void {
    for (const token of this.#tokens.values()) token.expiresAt = 0;
  }

  /** The email of the account a token the fake minted belongs to, expired or not. */
  emailOf(accessToken: string): string | undefined {
    return this.#tokens.get(accessToken)?.clientEmail;
  }

  /** The live token `accessToken` names; `"expired"` or `undefined` otherwise. */
  lookup(accessToken: string, now = Date.now()): MintedToken | "expired" | undefined {
    const token = this.#tokens.get(accessToken);
    return token && token.expiresAt <= now ? "expired" : token;
  }

  /**
   * Answers `POST /token` (a form body) as Google does for the JWT-bearer grant: the assertion's
   * RS256 signature must verify with the public key of its `kid` (or of an issuer's only key), and
   * its `iss`, `aud` (the token URI), `iat`, `exp` (an hour at most) and `scope` claims must hold.
   */
  token(form: string, now = Date.now()): { status: number; body: unknown } {
    const params = new URLSearchParams(form);
    if (params.get("grant_type") !== JWT_BEARER)
      return grantError("unsupported_grant_type", `Invalid grant_type: ${params.get("grant_type") ?? ""}`);
    const [head, payload, signature, ...extra] = (params.get("assertion") ?? "").split(".");
    const header = decodePart(head);
    const claims = decodePart(payload);
    if (!header || !claims || signature === undefined || extra.length)
      return grantError("invalid_grant", "Invalid JWT: not a JWS.");
    if (header.alg !== "RS256") return grantError("invalid_grant", "Invalid JWT Signature.");
    const key =
      typeof header.kid === "string"
        ? this.#keys.get(header.kid)
        : [...this.#keys.values()].find((k) => k.email === claims.iss);
    if (!key || key.email !== claims.iss) return grantError("invalid_grant", "Invalid grant: account not found");
    const signed = verify(
      "RSA-SHA256",
      Buffer.from(`${head}.${payload}`),
      key.publicKey,
      Buffer.from(signature, "base64url"),
    );
    if (!signed) return grantError("invalid_grant", "Invalid JWT Signature.");
    if (claims.aud !== this.tokenUri)
      return grantError("invalid_grant", `Invalid JWT: Failed audience check. The right audience is ${this.tokenUri}`);
    const seconds = now / 1000;
    const { iat, exp } = claims;
    if (
      typeof iat !== "number" ||
      typeof exp !== "number" ||
      iat > seconds + SKEW_SECONDS ||
      exp < seconds - SKEW_SECONDS ||
      exp <= iat ||
      exp - iat > MAX_ASSERTION_SECONDS
    )
      return grantError(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      );
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [];
    if (!scopes.length) return grantError("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    const accessToken = `ya29.${randomBytes(48).toString("base64url")}`;
    this.#tokens.set(accessToken, {
      clientEmail: key.email,
      projectId: key.projectId,
      scopes,
      expiresAt: now + this.lifetimeSeconds * 1000,
    });
    this.minted += 1;
    return {
      status: 200,
      body: { access_token: accessToken, expires_in: this.lifetimeSeconds, token_type: "Bearer" },
    };
  }
}
