// How many Redis round trips a chat waits for before its provider call, counted at the socket: every write the
// store's ioredis client makes to Redis is one flush, and a reply always comes in a later write's time.
import type { Socket } from "node:net";
import Redis from "ioredis";
import request from "supertest";
import type * as Lib from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { TEAM_OWNER_MARK } from "../../lib/core/validate";
import { type AppFixture, appFixture, loadKit } from "../helpers/router-harness";
import { REDIS_URL, uniqueName, whenReady } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

/** The commands of one write to Redis, each as its name and what its first key is (see {@link label}). */
type Flush = string[];

/** What a key is: the chat counter, the user's or the team's hash of records, a budget, a usage row. */
function label(key: string, prefix: string): string {
  if (key.startsWith("byok-rl:")) return "counter";
  if (key.startsWith(`${prefix}budget:`)) return "budget";
  if (key.startsWith(`${prefix}usage:`)) return "usage";
  const owner = Buffer.from(key.slice(prefix.length + 1, -1), "base64url").toString("utf8");
  return owner.startsWith(TEAM_OWNER_MARK) ? "team" : "user";
}

/** The commands (RESP arrays of bulk strings) in one write, as `NAME what-its-key-is`. */
function commandsIn(data: Buffer, prefix: string): Flush {
  const commands: Flush = [];
  let at = 0;
  const line = () => {
    const end = data.indexOf("\r\n", at);
    const text = data.toString("latin1", at, end);
    at = end + 2;
    return text;
  };
  while (at < data.length) {
    const parts: string[] = [];
    for (let n = Number(line().slice(1)); n > 0; n--) {
      const length = Number(line().slice(1));
      parts.push(data.toString("utf8", at, at + length));
      at += length + 2;
    }
    const [name, ...args] = parts;
    // EVALSHA sha numkeys key…: its first key is the third argument; every other command here has it first.
    const key = name!.toUpperCase() === "EVALSHA" ? args[2]! : args[0]!;
    commands.push(`${name!.toUpperCase()} ${label(key, prefix)}`);
  }
  return commands;
}

/** Records every write `client` makes to its socket, with how many provider calls the fake had seen by then. */
function recordWrites(client: Redis, prefix: string, providerCalls: () => number) {
  const writes: { flush: Flush; providerCalls: number }[] = [];
  const socket = (client as unknown as { stream: Socket }).stream;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((data: string | Buffer, ...rest: unknown[]) => {
    writes.push({ flush: commandsIn(Buffer.from(data), prefix), providerCalls: providerCalls() });
    return write(data, ...rest);
  }) as typeof socket.write;
  /**
   * The flushes `send()` made before the provider was called, each with its commands sorted. It starts once
   * the client is idle (no reply awaited, nothing queued to send), so no write of an earlier call is counted.
   */
  return async (send: () => Promise<unknown>): Promise<Flush[]> => {
    await waitFor(() => client.commandQueue.length === 0 && client.autoPipelineQueueSize === 0, "Redis idle");
    const from = writes.length;
    const calls = providerCalls();
    await send();
    expect(providerCalls()).toBe(calls + 1);
    return writes
      .slice(from)
      .filter((w) => w.providerCalls === calls)
      .map((w) => [...w.flush].sort());
  };
}

const kit = loadKit("express5");
const BODY = { prompt: "hello" };

describe.each(["byokRouter", "byokHandler"] as const)("a chat on RedisStore through %s", (adapter) => {
  let client: Redis;
  let f: AppFixture;
  let handler: (request: Request) => Promise<Response>;
  let beforeProvider: ReturnType<typeof recordWrites>;
  const prefix = `${uniqueName("trips")}:`;

  async function setUp(options: { budgets?: Lib.ByokOptions["budgets"]; chatLimit?: number } = {}): Promise<void> {
    client = new Redis(REDIS_URL, { enableAutoPipelining: true });
    await whenReady(client);
    const store: KeyStore = new kit.lib.RedisStore({ client, prefix });
    const rateLimit = { chat: { windowMs: 60_000, limit: options.chatLimit ?? 1000 } };
    f = await appFixture(kit, {
      store,
      byok: options.budgets ? { budgets: options.budgets } : {},
      router: { getTeamId: (req) => req.headers["x-team"] as string | undefined, rateLimit },
    });
    handler = kit.lib.byokHandler({
      byok: f.byok,
      rateLimit,
      getUserId: (r) => r.headers.get("x-user") ?? undefined,
      getTeamId: (r) => r.headers.get("x-team") ?? undefined,
    });
    beforeProvider = recordWrites(client, prefix, () => f.fake.requests.length);
  }

  afterEach(async () => {
    await f.close();
    for (const key of await client.keys(`*${prefix}*`)) await client.del(key);
    client.disconnect();
  });

  /** One chat of u1 (in `team`, when given), answered `status`. */
  function chat(team?: string, status = 200): Promise<unknown> {
    const headers: Record<string, string> = { "x-user": "u1", ...(team ? { "x-team": team } : {}) };
    if (adapter === "byokRouter")
      return request(f.app)
        .post("/byok/chat")
        .set(headers)
        .send(BODY)
        .then((res) => expect(res.status).toBe(status));
    return handler(
      new Request("http://app.test/byok/chat", {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify(BODY),
      }),
    ).then((res) => expect(res.status).toBe(status));
  }

  it("waits for one round trip: the limiter's count and the user's records go out in one write", async () => {
    await setUp();
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-trips-user-0000", validate: false });
    await chat(); // loads the counter's scripts
    expect(await beforeProvider(() => chat())).toEqual([["EVALSHA counter", "HGETALL user"]]);
  });

  it("reads the team's records in the same write, and uses the team's key", async () => {
    await setUp();
    await f.byok.registerKey({ teamId: "t1", provider: "gemini", apiKey: "AIza-trips-team-0000", validate: false });
    await chat("t1");
    expect(await beforeProvider(() => chat("t1"))).toEqual([["EVALSHA counter", "HGETALL team", "HGETALL user"]]);
    expect(JSON.stringify(f.fake.requests.at(-1))).toContain("AIza-trips-team-0000");
  });

  it("with a budget, waits for one more: the reservation", async () => {
    await setUp({ budgets: { user: { tokensPerDay: 1e9 } } });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-trips-user-0000", validate: false });
    await chat();
    expect(await beforeProvider(() => chat())).toEqual([["EVALSHA counter", "HGETALL user"], ["EVALSHA budget"]]);
  });

  it("uses the user's own key over the team's, as a chat without the read-ahead does", async () => {
    await setUp();
    await f.byok.registerKey({ teamId: "t1", provider: "gemini", apiKey: "AIza-trips-team-0000", validate: false });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-trips-user-0000", validate: false });
    await chat("t1");
    expect(JSON.stringify(f.fake.requests.at(-1))).toContain("AIza-trips-user-0000");
  });

  it("answers a refused chat 429 without calling the provider: the records read with its count go unused", async () => {
    await setUp({ chatLimit: 1 });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-trips-user-0000", validate: false });
    await chat();
    await chat(undefined, 429);
    expect(f.fake.requests).toHaveLength(1);
  });
});
