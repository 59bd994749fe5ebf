// The guard of loopback-only.ts: a connection outside loopback never starts, and the test that tried is the one that fails.
import { connect, Socket } from "node:net";
import { isLoopback } from "./loopback-only";

describe("the loopback-only guard", () => {
  it.each([
    ["localhost", true],
    ["127.0.0.1", true],
    ["127.3.2.1", true],
    ["::1", true],
    ["[::1]", true],
    ["::ffff:127.0.0.1", true],
    ["10.0.0.1", false],
    ["0.0.0.0", false],
    ["api.openai.com", false],
    ["127.0.0.1.example.com", false],
  ])("counts %s as loopback: %s", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  it("refuses a connection to a non-loopback address before it starts", async () => {
    const socket = connect({ host: "192.0.2.1", port: 443 });
    const error = await new Promise<Error>((resolve) => socket.once("error", resolve));
    expect(error.message).toMatch(/^Blocked a connection to 192\.0\.2\.1:443: tests may only connect to loopback/);
    // The guard also fails the test in afterEach; take its record so that this test passes.
    const proto = Socket.prototype as unknown as Record<symbol, string[]>;
    expect(proto[Symbol.for("byok-ai.test.loopback-only")]!.splice(0)).toHaveLength(1);
  });

  it("refuses fetch to a provider's real URL", async () => {
    await expect(fetch("https://api.openai.com/v1/models")).rejects.toThrow("fetch failed");
    const proto = Socket.prototype as unknown as Record<symbol, string[]>;
    expect(proto[Symbol.for("byok-ai.test.loopback-only")]!.splice(0)).toEqual([
      expect.stringMatching(/^Blocked a connection to api\.openai\.com:443/),
    ]);
  });

  it("judges a name that brings its own lookup by the addresses it gives", async () => {
    const socket = connect({
      host: "somewhere.example",
      port: 443,
      lookup: (_host, _options, callback) =>
        (callback as (e: null, a: string, f: number) => void)(null, "192.0.2.7", 4),
    });
    const error = await new Promise<Error>((resolve) => socket.once("error", resolve));
    expect(error.message).toMatch(/^Blocked a connection to somewhere\.example \(192\.0\.2\.7\):443/);
    const proto = Socket.prototype as unknown as Record<symbol, string[]>;
    expect(proto[Symbol.for("byok-ai.test.loopback-only")]!.splice(0)).toHaveLength(1);
  });
});
