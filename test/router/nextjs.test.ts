// A real Next.js App Router app, examples/nextjs (`next build`, then `next start`, as a deployment runs it), answers
// the shared HTTP suite through byokHandler exactly as byokRouter on Express 5 does: statuses, bodies, headers and SSE.
import { lstatSync, mkdirSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { type NodeProcess, ROOT, startNode } from "../helpers/node-process";
import { freePort } from "../helpers/redis-server";
import { loadKit, serveRoutes } from "../helpers/router-harness";
import { type Answer, runSuite } from "../helpers/shared-suite";

const APP = join(ROOT, "examples/nextjs");
const NEXT = join(ROOT, "node_modules/next/dist/bin/next");
/** Where the example's route, app/api/byok/[...byok]/route.ts, answers. */
const BASE_PATH = "/api/byok";
/** No telemetry (nothing leaves the machine), and the production mode `next build` and `next start` are made for. */
const NEXT_ENV = { NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" };

/**
 * byok-ai in the example's node_modules as `npm install` links it there (its package.json has `"byok-ai":
 * "file:../.."`): the repository, whose dist/ jest's globalSetup built. next, react and react-dom resolve from the
 * repository's own node_modules.
 */
function linkPackage(): void {
  const link = join(APP, "node_modules", "byok-ai");
  if (lstatSync(link, { throwIfNoEntry: false })) return;
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(join("..", "..", ".."), link, "dir");
}

/**
 * An answer without what Next.js's server adds to every App Router answer and byok-ai does not set: its `Vary` (its
 * client's navigation headers, and Accept-Encoding) and its gzip compression (`Content-Encoding`; fetch has decoded
 * the body). Everything else is compared as it is.
 */
function withoutNextOwn(answer: Answer): Answer {
  const { vary, "content-encoding": _encoding, ...headers } = answer.headers;
  const own = (vary ?? "")
    .split(",")
    .map((token) => token.trim())
    .filter((token) => token !== "" && !/^(rsc|next-router-[\w-]+|accept-encoding)$/i.test(token));
  return { ...answer, headers: own.length === 0 ? headers : { ...headers, vary: own.join(", ") } };
}

describe("examples/nextjs: byokHandler in a Next.js App Router route (runtime nodejs), built and started", () => {
  let next: NodeProcess | undefined;
  let url = "";

  beforeAll(async () => {
    linkPackage();
    // Setup, not the thing tested: a cold `next build` takes a minute or more on a busy machine.
    const build = startNode(NEXT, ["build"], NEXT_ENV, APP);
    expect([await build.exited, build.output()]).toEqual([0, expect.stringContaining("/api/byok/[...byok]")]);
    const port = await freePort();
    next = startNode(NEXT, ["start", "--port", String(port), "--hostname", "127.0.0.1"], NEXT_ENV, APP);
    await next.waitFor(/Ready in/, 60_000);
    url = `http://127.0.0.1:${port}`;
  }, 600_000);
  afterAll(async () => {
    await next?.stop();
  });

  it("answers the shared suite as byokRouter on Express 5 does: statuses, bodies, headers and SSE frames", async () => {
    const fakes = await startFakeProviders();
    const lib = loadKit("express5").lib;
    const byok = new lib.BYOK({ masterKey: TEST_MASTER_KEY, store: new lib.MemoryStore(), providers: fakes.providers });
    const router = await serveRoutes("express5", byok, { basePath: BASE_PATH });
    let reference: Answer[];
    try {
      reference = await runSuite(router.url + BASE_PATH);
    } finally {
      await router.close();
      await byok.close();
      await fakes.close();
    }
    const answers = await runSuite(url + BASE_PATH);
    // The stream is not compressed (its Cache-Control says no-transform): each frame is sent as it is written.
    expect(answers[14]!.headers["content-encoding"]).toBeUndefined();
    expect(answers[14]!.body).toMatch(/^event: chunk\ndata: [^]*event: done\ndata: /);
    answers.map(withoutNextOwn).forEach((answer, i) => expect([i, answer]).toEqual([i, reference[i]]));
  });
});
