// Type-level test (compiled by tsc in npm test: test/type-tests.test.ts): req.ai is typed in an app's own handlers by importing byok-ai.
import express, { type Express } from "express";
import request from "supertest";
import { BYOK, byokRouter } from "../../lib";
import { TEST_MASTER_KEY } from "../helpers/canary";

function buildApp(byok: BYOK): Express {
  const app = express();
  app.use(byokRouter({ byok, getUserId: () => undefined }));
  app.post("/x", async (req, res) => {
    const r = await req.ai.chat({ prompt: "x" });
    res.json(r.text);
  });
  return app;
}

// Never called: it only has to fail to compile.
export function notCompiled(app: Express): void {
  app.post("/y", async (req) => {
    // @ts-expect-error prompt must be a string
    await req.ai.chat({ prompt: 1 });
  });
}

describe("req.ai", () => {
  it("is typed in the app's own handler and rejects UNAUTHENTICATED without a user", async () => {
    const app = buildApp(new BYOK({ masterKey: TEST_MASTER_KEY }));
    app.use((error: { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(418).json({ code: error.code });
    });
    const res = await request(app).post("/x");
    expect([res.status, res.body]).toEqual([418, { code: "UNAUTHENTICATED" }]);
  });
});
