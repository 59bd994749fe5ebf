// req.ai is bound to its request (a disconnect aborts it in the app's own routes), and bodyLimit holds behind an app-wide parser.
import type { NextFunction, Request, Response } from "express";
import { request as httpRequest } from "node:http";
import request from "supertest";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, listen, loadKit } from "../helpers/router-harness";
import { waitFor } from "../helpers/wait-for";

describe.each(EXPRESS_VERSIONS)("req.ai bound to its request on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  afterEach(() => f.close());

  it("aborts the upstream call of req.ai.stream() in the app's own route when the client disconnects", async () => {
    f = await appFixture(kit);
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-bound-0000", validate: false });
    // The README's pattern: the app streams req.ai's answer itself.
    f.app.post("/app/stream", async (req: Request, res: Response, next: NextFunction) => {
      try {
        res.setHeader("content-type", "text/plain");
        for await (const part of req.ai.stream({ prompt: "a long story" })) res.write(part.text);
        res.end();
      } catch (error) {
        if (!res.headersSent) next(error);
      }
    });
    f.fake.enqueue({ chunks: Array.from({ length: 50 }, (_, i) => `w${i} `), chunkDelayMs: 100 });
    const server = await listen(f.app);
    try {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${server.url}/app/stream`, { method: "POST", headers: { "x-user": "u1" } }, (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        });
        req.on("error", () => undefined);
        req.end();
        setTimeout(() => reject(new Error("no first chunk")), 10_000).unref();
      });
      await waitFor(() => f.fake.requests.at(-1)?.aborted === true, "the upstream abort", 10_000);
      expect(f.fake.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("holds a body an app-wide express.json({ limit: '5mb' }) already parsed to the router's bodyLimit", async () => {
    f = await appFixture(kit, { beforeRouter: [kit.express.json({ limit: "5mb" })] });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-limit-0000", validate: false });
    const big = await request(f.app)
      .post("/byok/chat")
      .set("x-user", "u1")
      .send({ prompt: "x".repeat(100_000) });
    expect([big.status, big.body.error.code]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const small = await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "fits" });
    expect([small.status, small.body.text]).toEqual([200, "Echo: fits"]);
    expect(f.fake.requests).toHaveLength(1);
  });
});
