// startFakeVertex(): a service account's JWT traded for a token at the fake's /token, then the real @google/genai on Vertex with it.
import { createSign, generateKeyPairSync } from "node:crypto";
import { GoogleGenAI } from "@google/genai";
import { OAuth2Client } from "google-auth-library";
import { type FakeServiceAccount, type FakeVertex, startFakeVertex } from "../../lib/testing";

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const LOCATION = "europe-west4";
const MODEL = "gemini-2.5-flash";

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A JWT assertion for `account`, as google-auth-library signs one; `claims` and `key` override. */
function assertion(account: FakeServiceAccount, claims: Record<string, unknown> = {}, key = account.private_key) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", typ: "JWT", kid: account.private_key_id };
  const payload = { iss: account.client_email, scope: SCOPE, aud: account.token_uri, iat: now, exp: now + 3600 };
  const input = `${base64url(header)}.${base64url({ ...payload, ...claims })}`;
  return `${input}.${createSign("RSA-SHA256").update(input).sign(key, "base64url")}`;
}

/** Trades an assertion at the account's token_uri: the status and the JSON answer. */
type TokenAnswer = { access_token?: string; expires_in?: number; error?: string; error_description?: string };
async function exchange(account: FakeServiceAccount, jwt: string): Promise<{ status: number; body: TokenAnswer }> {
  const response = await fetch(account.token_uri, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt }),
  });
  return { status: response.status, body: (await response.json()) as TokenAnswer };
}

async function mint(account: FakeServiceAccount): Promise<string> {
  const { status, body } = await exchange(account, assertion(account));
  expect(status).toBe(200);
  return body.access_token!;
}

/**
 * The real SDK on Vertex, pointed at the fake. google-auth-library's OAuth2Client holds the token (or mints one
 * through `refreshHandler`), so the SDK never looks for Application Default Credentials.
 */
function genai(account: FakeServiceAccount, auth: OAuth2Client, baseUrl: string) {
  return new GoogleGenAI({
    vertexai: true,
    project: account.project_id,
    location: LOCATION,
    // The global fetch: the SDK's own undici dispatcher is missing under jest's sandbox (as in lib/providers/gemini.ts).
    httpOptions: { baseUrl, fetch: (input, init) => fetch(input, init) },
    googleAuthOptions: { authClient: auth },
  });
}
const holding = (accessToken: string) =>
  new OAuth2Client({ credentials: { access_token: accessToken, token_type: "Bearer" } });

/** The status of the SDK's ApiError a call fails with. */
async function statusOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { status?: number }).status;
  }
  throw new Error("expected the call to fail");
}

describe("startFakeVertex", () => {
  let fake: FakeVertex;
  let account: FakeServiceAccount;
  beforeEach(async () => {
    fake = await startFakeVertex();
    account = fake.serviceAccount();
  });
  afterEach(() => fake.close());

  it("issues a service account key file whose token_uri is the fake's /token", () => {
    expect(account).toMatchObject({
      type: "service_account",
      project_id: "byok-test-project",
      token_uri: `${fake.url}/token`,
      client_email: expect.stringMatching(/@byok-test-project\.iam\.gserviceaccount\.com$/),
    });
    expect(account.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("mints an access token for a JWT assertion signed with the service account's key", async () => {
    const { status, body } = await exchange(account, assertion(account));
    expect(status).toBe(200);
    expect(body).toEqual({ access_token: expect.stringMatching(/^ya29\./), expires_in: 3600, token_type: "Bearer" });
    expect(fake.tokensMinted).toBe(1);
  });

  it("refuses an assertion with a bad signature, another audience, too long a life or no scope", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const other = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const now = Math.floor(Date.now() / 1000);
    const answers = await Promise.all([
      exchange(account, assertion(account, {}, other)),
      exchange(account, assertion(account, { aud: "https://oauth2.googleapis.com/token" })),
      exchange(account, assertion(account, { exp: now + 7200 })),
      exchange(account, assertion(account, { scope: undefined })),
      exchange(account, assertion(account, { iss: "someone@else.iam.gserviceaccount.com" })),
    ]);
    expect(answers.map((a) => [a.status, a.body.error])).toEqual([
      [400, "invalid_grant"],
      [400, "invalid_grant"],
      [400, "invalid_grant"],
      [400, "invalid_scope"],
      [400, "invalid_grant"],
    ]);
    expect(answers[0]!.body.error_description).toBe("Invalid JWT Signature.");
    expect(fake.tokensMinted).toBe(0);
  });

  it("answers @google/genai's generateContent on Vertex for the minted token", async () => {
    const token = await mint(account);
    const out = await genai(account, holding(token), fake.url).models.generateContent({
      model: MODEL,
      contents: "hello vertex",
    });
    expect(out.text).toBe("Echo: hello vertex");
    expect(out.usageMetadata).toMatchObject({ promptTokenCount: 2, totalTokenCount: 5 });
    const request = fake.requests.find((r) => r.op === "chat")!;
    expect(request.path).toBe(
      `/v1beta1/projects/${account.project_id}/locations/${LOCATION}/publishers/google/models/${MODEL}:generateContent`,
    );
    expect(request.headers.authorization).toBe(`Bearer ${token}`);
  });

  it("streams @google/genai's generateContentStream over SSE", async () => {
    fake.enqueue({ chunks: ["one ", "two ", "three"] });
    const stream = await genai(account, holding(await mint(account)), fake.url).models.generateContentStream({
      model: MODEL,
      contents: "count",
    });
    const texts: string[] = [];
    for await (const chunk of stream) if (chunk.text) texts.push(chunk.text);
    expect(texts).toEqual(["one ", "two ", "three"]);
    expect(fake.requests.find((r) => r.op === "stream")!.path).toMatch(/:streamGenerateContent\?alt=sse$/);
  });

  it("lists publisher models for @google/genai's models.list on Vertex", async () => {
    const pager = await genai(account, holding(await mint(account)), fake.url).models.list();
    expect(pager.page.map((m) => m.name)).toContain(`publishers/google/models/${MODEL}`);
    expect(fake.requests.at(-1)!.path).toMatch(/^\/v1beta1\/publishers\/google\/models/);
  });

  it("answers 401 for a token it never minted or one expired, and a refreshHandler's new token works", async () => {
    const ask = (auth: OAuth2Client) =>
      genai(account, auth, fake.url).models.generateContent({ model: MODEL, contents: "hi" });
    expect(await statusOf(ask(holding("ya29.not-minted")))).toBe(401);
    const token = await mint(account);
    await ask(holding(token));
    fake.expireTokens();
    expect(await statusOf(ask(holding(token)))).toBe(401);
    expect(fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${token}`);

    // How an app gives the SDK tokens it mints itself: google-auth-library calls refreshHandler when it has none.
    const auth = new OAuth2Client();
    auth.refreshHandler = async () => ({ access_token: await mint(account), expiry_date: Date.now() + 3_600_000 });
    const out = await ask(auth);
    expect(out.text).toBe("Echo: hi");
    expect(fake.tokensMinted).toBe(2);
  });

  it("answers 403 PERMISSION_DENIED for a project that is not the service account's", async () => {
    const other = { ...account, project_id: "someone-elses-project" };
    expect(
      await statusOf(
        genai(other, holding(await mint(account)), fake.url).models.generateContent({ model: MODEL, contents: "hi" }),
      ),
    ).toBe(403);
  });

  it("maps the refusal knobs to Vertex's answers", async () => {
    const ai = genai(account, holding(await mint(account)), fake.url);
    fake.enqueue({ refuse: "invalid" }, { refuse: "rate_limit" }, { refuse: "quota" });
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push(await statusOf(ai.models.generateContent({ model: MODEL, contents: "hi" })));
    expect(statuses).toEqual([401, 429, 403]);
  });
});
