// GET /byok/models on Express 4 and 5: the signed-in user's models, errors in the router's JSON shape, no key anywhere.
import request from "supertest";
import { CANARY_KEY } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";

describe.each(EXPRESS_VERSIONS)("GET /byok/models on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  beforeEach(async () => {
    f = await appFixture(kit);
  });
  afterEach(() => f.close());

  const register = () =>
    request(f.app).post("/byok/keys").set("x-user", "u1").send({ provider: "gemini", apiKey: CANARY_KEY });

  it("answers 200 { models } from the provider's list, with no-store", async () => {
    expect((await register()).status).toBe(201);
    const res = await request(f.app).get("/byok/models?provider=gemini").set("x-user", "u1");
    expect(res.status).toBe(200);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toEqual({
      models: [
        { id: "gemini-2.5-flash", provider: "gemini", displayName: "Gemini 2.5 Flash" },
        { id: "gemini-2.5-pro", provider: "gemini", displayName: "Gemini 2.5 Pro" },
      ],
    });
    expect(f.fake.requests.at(-1)).toMatchObject({ method: "GET", apiKey: CANARY_KEY });
  });

  it("picks the provider as a chat does when ?provider= is absent", async () => {
    await register();
    const res = await request(f.app).get("/byok/models").set("x-user", "u1");
    expect([res.status, res.body.models[0].provider]).toEqual([200, "gemini"]);
  });

  it("answers 401 UNAUTHENTICATED without a user and 404 KEY_NOT_FOUND without a key", async () => {
    const anonymous = await request(f.app).get("/byok/models");
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
    const keyless = await request(f.app).get("/byok/models?provider=gemini").set("x-user", "u1");
    expect([keyless.status, keyless.body.error.code]).toEqual([404, "KEY_NOT_FOUND"]);
  });

  it("answers 400 for a repeated or unknown ?provider=", async () => {
    await register();
    const twice = await request(f.app).get("/byok/models?provider=gemini&provider=openai").set("x-user", "u1");
    expect([twice.status, twice.body.error.code]).toEqual([400, "INVALID_REQUEST"]);
    const unknown = await request(f.app).get("/byok/models?provider=nope").set("x-user", "u1");
    expect([unknown.status, unknown.body.error.code]).toEqual([400, "UNKNOWN_PROVIDER"]);
  });

  it("answers 422 KEY_REJECTED when the provider refuses the stored key, without the key in the answer", async () => {
    await register();
    f.fake.enqueue({ status: 401, message: `bad key ${CANARY_KEY}` });
    const res = await request(f.app).get("/byok/models?provider=gemini").set("x-user", "u1");
    expect([res.status, res.body.error.code]).toEqual([422, "KEY_REJECTED"]);
    expect(res.text).not.toContain(CANARY_KEY);
  });
});
