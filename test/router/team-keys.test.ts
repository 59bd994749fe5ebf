// Team keys over HTTP on Express 4 and 5: members use the team's key, their own wins, only managers change it, teams never mix.
import request from "supertest";
import type { ByokEvent } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";

const TEAM_KEY = "AIza-team-acme-key-0001";
const OWN_KEY = "AIza-own-key-of-bob-01";

/** The app's membership, changed by the tests between requests: user → team, and who manages. */
interface Directory {
  teams: Record<string, string>;
  admins: Set<string>;
}

describe.each(EXPRESS_VERSIONS)("team keys on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  let dir: Directory;
  let events: ByokEvent[];
  afterEach(() => f.close());

  async function teamApp(store?: KeyStore) {
    dir = { teams: { alice: "acme", bob: "acme", carol: "globex" }, admins: new Set(["alice"]) };
    events = [];
    f = await appFixture(kit, {
      ...(store ? { store } : {}),
      byok: { onEvent: (e) => events.push(e) },
      router: {
        getTeamId: (req) => dir.teams[(req as unknown as { user?: { id: string } }).user?.id ?? ""],
        canManageTeamKeys: async (req) => dir.admins.has((req as unknown as { user?: { id: string } }).user?.id ?? ""),
      },
    });
  }
  const as = (user: string) => ({ "x-user": user });

  it("lets an admin add the team's key and every member chat with it; events name the member and the team", async () => {
    await teamApp();
    const added = await request(f.app)
      .post("/byok/team/keys")
      .set(as("alice"))
      .send({ provider: "gemini", apiKey: TEAM_KEY });
    expect([added.status, added.body.owner, added.body.hint]).toEqual([201, "team", "\u20260001"]);
    const chat = await request(f.app).post("/byok/chat").set(as("bob")).send({ prompt: "hello team" });
    expect([chat.status, chat.body.text]).toEqual([200, "Echo: hello team"]);
    expect(f.fake.requests.at(-1)!.apiKey).toBe(TEAM_KEY);
    expect(events.find((e) => e.type === "key.registered")).toMatchObject({ userId: "alice", teamId: "acme" });
    expect(events.find((e) => e.type === "chat.completed")).toMatchObject({ userId: "bob", teamId: "acme" });
    const listed = await request(f.app).get("/byok/team/keys").set(as("bob"));
    expect([listed.status, listed.body.keys.map((k: { owner: string; hint: string }) => [k.owner, k.hint])]).toEqual([
      200,
      [["team", "\u20260001"]],
    ]);
    const mine = await request(f.app).get("/byok/keys").set(as("bob"));
    expect([mine.body.keys, mine.body.teamKeys.length]).toEqual([[], 1]);
    expect(JSON.stringify([added.body, listed.body, mine.body, events])).not.toContain(TEAM_KEY);
  });

  it("uses a member's own key over the team's for the same provider", async () => {
    await teamApp();
    await request(f.app).post("/byok/team/keys").set(as("alice")).send({ provider: "gemini", apiKey: TEAM_KEY });
    await request(f.app).post("/byok/keys").set(as("bob")).send({ provider: "gemini", apiKey: OWN_KEY }).expect(201);
    await request(f.app).post("/byok/chat").set(as("bob")).send({ prompt: "mine" }).expect(200);
    expect(f.fake.requests.at(-1)!.apiKey).toBe(OWN_KEY);
    expect(events.filter((e) => e.type === "chat.completed").at(-1)!.teamId).toBeUndefined();
    await request(f.app).post("/byok/chat").set(as("alice")).send({ prompt: "team" }).expect(200);
    expect(f.fake.requests.at(-1)!.apiKey).toBe(TEAM_KEY);
  });

  it("answers 403 FORBIDDEN to a member who may not manage, 404 NO_TEAM without a team, and changes nothing", async () => {
    await teamApp();
    await request(f.app).post("/byok/team/keys").set(as("alice")).send({ provider: "gemini", apiKey: TEAM_KEY });
    const before = await f.snapshot();
    const post = await request(f.app)
      .post("/byok/team/keys")
      .set(as("bob"))
      .send({ provider: "gemini", apiKey: OWN_KEY });
    const del = await request(f.app).delete("/byok/team/keys?provider=gemini").set(as("bob"));
    expect([post.status, post.body.error.code, del.status, del.body.error.code]).toEqual([
      403,
      "FORBIDDEN",
      403,
      "FORBIDDEN",
    ]);
    const none = await request(f.app).get("/byok/team/keys").set(as("dave"));
    expect([none.status, none.body.error.code]).toEqual([404, "NO_TEAM"]);
    expect((await request(f.app).get("/byok/team/keys")).status).toBe(401);
    expect(await f.snapshot()).toEqual(before);
    expect(f.fake.requests.filter((r) => r.apiKey === OWN_KEY)).toEqual([]);
    expect((await request(f.app).delete("/byok/team/keys").set(as("alice")).send({ provider: "gemini" })).status).toBe(
      204,
    );
    expect(events.find((e) => e.type === "key.deleted")).toMatchObject({ userId: "alice", teamId: "acme" });
  });

  it("never lets one team's member reach another team's key, nor a user named like a team", async () => {
    await teamApp();
    await request(f.app).post("/byok/team/keys").set(as("alice")).send({ provider: "gemini", apiKey: TEAM_KEY });
    for (const user of ["carol", "acme", "team:acme"]) {
      dir.teams[user] ??= "globex";
      const chat = await request(f.app).post("/byok/chat").set(as(user)).send({ prompt: "steal" });
      expect([user, chat.status, chat.body.error.code]).toEqual([user, 404, "KEY_NOT_FOUND"]);
    }
    const foreign = await request(f.app).get("/byok/team/keys").set(as("carol"));
    expect(foreign.body.keys).toEqual([]);
    expect(f.fake.requests.filter((r) => r.op !== "validate")).toEqual([]);
  });

  it("takes the team key away on the very next request once the app moves a member out of the team", async () => {
    await teamApp();
    await request(f.app).post("/byok/team/keys").set(as("alice")).send({ provider: "gemini", apiKey: TEAM_KEY });
    await request(f.app).post("/byok/chat").set(as("bob")).send({ prompt: "in" }).expect(200);
    delete dir.teams.bob;
    const out = await request(f.app).post("/byok/chat").set(as("bob")).send({ prompt: "out" });
    expect([out.status, out.body.error.code]).toEqual([404, "KEY_NOT_FOUND"]);
    const app = await request(f.app).post("/app/ask").set(as("bob")).send({ q: "out" });
    expect(app.status).not.toBe(200);
    expect(f.fake.requests.filter((r) => r.op !== "validate")).toHaveLength(1);
  });

  it("counts rate limits per member, not per team", async () => {
    f = await appFixture(kit, {
      router: { getTeamId: () => "acme", canManageTeamKeys: () => true, rateLimit: { keys: { limit: 1 } } },
    });
    expect((await request(f.app).get("/byok/team/keys").set(as("alice"))).status).toBe(200);
    expect((await request(f.app).get("/byok/team/keys").set(as("bob"))).status).toBe(200);
    expect((await request(f.app).get("/byok/team/keys").set(as("alice"))).status).toBe(429);
  });
});
