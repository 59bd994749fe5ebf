// Field names a client sent, at the top level or inside a message, are not repeated back, except plain identifiers,
// at most five of them: an unknown field is reported as unknown, and a body of thousands of unknown fields answers a small error.
import request from "supertest";
import type { ByokEvent } from "../../lib";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";

/** `count` field names, numbered: `f00000`, `f00001`… */
const numbered = (count: number) => Array.from({ length: count }, (_, i) => `f${String(i).padStart(5, "0")}`);

describe.each(EXPRESS_VERSIONS)("unknown body fields on %s", (version) => {
  const kit = loadKit(version);
  const events: ByokEvent[] = [];
  let f: AppFixture;
  beforeAll(
    async () =>
      void (f = await appFixture(kit, { router: { rateLimit: false }, byok: { onEvent: (e) => void events.push(e) } })),
  );
  afterAll(() => f.close());
  beforeEach(() => void (events.length = 0));

  const chat = (body: object) => request(f.app).post("/byok/chat").set("x-user", "u1").send(body);

  /** What an answer and the events of its request show (the message thrown inside goes to the events). */
  const shown = (res: request.Response) => `${res.text}\n${JSON.stringify(events)}`;

  it.each([
    ["markup", "<img src=x onerror=alert(1)>"],
    ["a quote and a newline", 'x"\ny'],
    ["a dot path", "a.b"],
    ["a name of 65 characters", `a${"b".repeat(64)}`],
    ["a name starting with a digit", "1abc"],
    ["non-ASCII letters", "prénom"],
  ])("reports an unknown field named with %s as unknown, without its name", async (_what, name) => {
    const res = await chat({ prompt: "x", [name]: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: "INVALID_REQUEST",
      message: expect.any(String),
      details: { fields: [] },
    });
    expect(shown(res)).not.toContain(name);
    expect(shown(res)).not.toContain(JSON.stringify(name).slice(1, -1));
  });

  it.each([
    ["markup", "<img src=x onerror=alert(1)>"],
    ["a quote and a newline", 'x"\ny'],
    ["a name of 12,000 characters", "n".repeat(12_000)],
  ])("reports an unknown field of a message named with %s as unknown, without its name", async (_what, name) => {
    const res = await chat({
      messages: [
        { role: "user", content: "x" },
        { role: "user", content: "y", [name]: 1 },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: "INVALID_REQUEST", message: expect.any(String), details: { fields: [] } });
    expect(shown(res)).not.toContain(name.slice(0, 64));
    expect(shown(res)).not.toContain(JSON.stringify(name).slice(1, -1));
    expect(res.text.length).toBeLessThan(500);
  });

  it("names plain unknown fields of messages, at most five, beside the message's own invalid fields", async () => {
    const messages = Array.from({ length: 8 }, (_, i) => ({ role: "user", content: "x", [`extra${i}`]: 1 }));
    const res = await chat({ messages: [{ role: "admin", content: "x" }, ...messages] });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual({
      fields: ["messages[0].role", ...[0, 1, 2, 3, 4].map((i) => `messages[${i + 1}].extra${i}`)],
    });
    expect(shown(res)).not.toContain("extra5");
  });

  it("names unknown fields that are plain identifiers, at most five, and counts the rest", async () => {
    const res = await chat({ prompt: "x", label: 1, _private: 2, userId: 3, a1: 4, b2: 5, c3: 6, "<b>": 7 });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual({ fields: ["label", "_private", "userId", "a1", "b2"] });
    expect(shown(res)).not.toContain("c3");
    expect(shown(res)).not.toContain("<b>");
  });

  it("still names a known field of the wrong type beside unknown ones", async () => {
    const res = await chat({ prompt: 1, "<i>": 1 });
    expect(res.body.error.details).toEqual({ fields: ["prompt"] });
    expect(shown(res)).not.toContain("<i>");
  });

  it("does not repeat a name it refuses for nesting or a reserved key", async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = [deep];
    const res = await chat({ prompt: "x", "<svg onload=alert(1)>": deep });
    expect(res.status).toBe(400);
    expect(shown(res)).not.toContain("<svg");
  });

  it("answers a 16 kB body of unknown fields with a small error", async () => {
    const body = Object.fromEntries(numbered(1450).map((name) => [name, 1]));
    expect(JSON.stringify(body).length).toBeGreaterThan(15_000); // just under the default bodyLimit of 16 kB
    const res = await chat(body);
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields).toEqual(numbered(5));
    expect(res.text.length).toBeLessThan(500);
    expect(JSON.stringify(events).length).toBeLessThan(2_000);
  });
});
